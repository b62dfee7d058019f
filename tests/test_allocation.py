"""Allocation rules: bounds, control shares, and randomisation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trialsim.design.allocation import AllocationRule, apply_bounds, block_assign, randomise


def rule(**kw) -> AllocationRule:
    base = dict(adaptive=True, start=np.full(4, 0.25), power=1.0, min_prob=0.0, max_prob=1.0, control=None,
                control_prob=None, burn_in=0, stratified=False, block_size=None)
    return AllocationRule(**(base | kw))


probabilities = st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4).filter(lambda v: sum(v) > 0)


@settings(max_examples=200, deadline=None)
@given(probabilities, st.floats(0.0, 0.25), st.floats(0.25, 1.0), st.lists(st.booleans(), min_size=4, max_size=4),
       st.floats(0.0, 1.0))
def test_adaptive_probabilities_sum_to_one_within_bounds(pb, lo, hi, active, power):
    active = np.array(active)
    active[0] = True
    pb = np.where(active, np.array(pb), 0.0)
    pb = pb / pb.sum() if pb.sum() > 0 else active / active.sum()
    p = rule(min_prob=lo, max_prob=hi, power=power).update(pb[None, None], active[None, None], 100, 400)[0, 0]
    assert abs(p.sum() - 1) < 1e-9
    assert np.all(p[~active] == 0)
    k = active.sum()
    if k * lo <= 1 <= k * hi:  # feasible bounds hold
        assert np.all(p[active] >= lo - 1e-9) and np.all(p[active] <= hi + 1e-9)


@settings(max_examples=100, deadline=None)
@given(probabilities, st.lists(st.booleans(), min_size=3, max_size=3))
def test_control_shares(pb, others_active):
    active = np.array([True, *others_active])
    pb = np.array(pb) * active
    pb = pb / pb.sum() if pb.sum() > 0 else active / active.sum()
    k = active[1:].sum()
    sqrt_rule = rule(control=0, control_prob="sqrt").update(pb[None, None], active[None, None], 1, 2)[0, 0]
    match_rule = rule(control=0, control_prob="match", min_prob=0.05).update(pb[None, None], active[None, None], 1, 2)[0, 0]
    fixed_rule = rule(control=0, control_prob=0.4).update(pb[None, None], active[None, None], 1, 2)[0, 0]
    for p in (sqrt_rule, match_rule, fixed_rule):
        assert abs(p.sum() - 1) < 1e-9 and np.all(p[~active] == 0)
    if k:
        assert abs(sqrt_rule[0] - np.sqrt(k) / (np.sqrt(k) + k)) < 1e-12
        assert abs(fixed_rule[0] - 0.4) < 1e-12
        assert match_rule[0] >= match_rule[1:].max() - 1e-9  # control gets the best arm's share


def test_thall_wathen_power_grows_with_information():
    pb = np.array([[[0.7, 0.1, 0.1, 0.1]]])
    early = rule(power=None).update(pb, np.ones((1, 1, 4), bool), 10, 200)[0, 0]
    late = rule(power=None).update(pb, np.ones((1, 1, 4), bool), 200, 200)[0, 0]
    assert early[0] < late[0]  # c = n / 2N: less adaptation early
    np.testing.assert_allclose(late, pb[0, 0] ** 0.5 / (pb[0, 0] ** 0.5).sum())


def test_burn_in_keeps_start_probabilities():
    pb = np.array([[[0.9, 0.05, 0.03, 0.02]]])
    p = rule(burn_in=100).update(pb, np.ones((1, 1, 4), bool), 50, 400)[0, 0]
    np.testing.assert_allclose(p, 0.25)


def test_apply_bounds_infeasible_yields_equal_shares():
    p = apply_bounds(np.array([[0.9, 0.1]]), np.array([[True, True]]), 0.6, 1.0, np.ones(1))
    np.testing.assert_allclose(p, [[0.5, 0.5]])


def test_randomise_follows_probabilities():
    u = np.random.default_rng(3).random((1, 200_000))
    arms = randomise(np.array([[[0.2, 0.0, 0.5, 0.3]]]), u)
    share = np.bincount(arms[0], minlength=4) / u.size
    assert share[1] == 0
    np.testing.assert_allclose(share, [0.2, 0.0, 0.5, 0.3], atol=4 * np.sqrt(0.25 / u.size))


def test_blocks_hold_the_ratio_exactly():
    u = np.random.default_rng(4).random((50, 60))
    arms = block_assign(np.array([0.5, 0.25, 0.25]), 12, u)
    for block in arms.reshape(50, 5, 12):
        for b in block:
            assert np.bincount(b, minlength=3).tolist() == [6, 3, 3]


def test_apply_bounds_solves_each_trial_on_its_own():
    """A trial's probabilities are the same computed alone or among others (none of them depends on how
    many passes the other trials need), they sum to the budget, and they keep every bound that can hold."""
    gen = np.random.default_rng(8)
    weights = gen.dirichlet(np.full(4, 0.3), 500) ** 0.5
    free = gen.random((500, 4)) < 0.85
    budget = gen.uniform(0.6, 1.0, 500)
    together = apply_bounds(weights, free, 0.15, 0.6, budget)
    alone = np.concatenate([apply_bounds(weights[[i]], free[[i]], 0.15, 0.6, budget[[i]]) for i in range(500)])
    np.testing.assert_array_equal(together, alone)
    assert np.all(together[~free] == 0)
    k = free.sum(axis=1)
    feasible = (0.15 * k <= budget) & (0.6 * k >= budget)
    np.testing.assert_allclose(together.sum(axis=1)[k > 0], budget[k > 0], rtol=1e-12)
    inside = (together >= 0.15 - 1e-12) & (together <= 0.6 + 1e-12)
    assert np.all(inside[free & feasible[:, None]])
    assert 0 < feasible.sum() < 500  # both cases occur
