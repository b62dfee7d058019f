"""The blinding model: Bang's index, the expectation effect of belief, and what unblinding does to a trial."""

from __future__ import annotations

import numpy as np
import pytest

from trialsim.api import run
from trialsim.blinding import BlindingPlan, bang_index, guess_counts
from trialsim.rng import Stream, block, stream_key
from trialsim.scenario import ScenarioError, parse_scenario

from .conftest import scenario_dict


def test_bang_index_by_hand():
    # 3 correct, 1 incorrect, 1 don't know among 5 on an active arm: (3 - 1) / 5
    assert bang_index(np.array([3, 1, 1]), control=False) == pytest.approx(0.4)
    # on a control "placebo" is the correct guess
    assert bang_index(np.array([3, 1, 1]), control=True) == pytest.approx(-0.4)
    assert np.isnan(bang_index(np.array([0, 0, 0]), control=False))


@pytest.mark.parametrize("p, d", [(0.95, 0.2), (0.5, 0.0), (0.3, 0.4), (0.7, 0.1)])
def test_bang_index_matches_its_closed_form_on_simulated_guesses(p: float, d: float):
    # per trial, E[BI] = (1 - d)(2p - 1) on an active arm and (1 - d)(1 - 2p) on a control
    trials, n = 2000, 60
    plan = BlindingPlan(np.array([p, p]), 0.4, d)
    arm = np.zeros((trials, n), np.int64)
    counts = guess_counts(plan, 7, np.arange(trials), arm, np.ones(arm.shape, bool), 2)[:, 0]
    assert counts.sum() == trials * n
    for control, expected in ((False, (1 - d) * (2 * p - 1)), (True, (1 - d) * (1 - 2 * p))):
        bi = bang_index(counts, control)
        se = bi.std(ddof=1) / np.sqrt(trials)
        assert abs(bi.mean() - expected) < 4 * se + 1e-12


def test_guesses_are_the_blinding_streams_draws():
    """A patient's guess follows their own blinding-stream uniforms (column 0: belief, column 1: don't know),
    whatever else is asked: counted patient by patient, the kernel's counts are the draws' guesses."""
    plan = BlindingPlan(np.array([0.3, 0.8]), 0.4, 0.25)
    seed, trials = 5, np.arange(40, 60)
    gen = np.random.default_rng(2)
    arm = gen.integers(0, 2, (trials.size, 30))
    asked = gen.random(arm.shape) < 0.7
    counts = guess_counts(plan, seed, trials, arm, asked, 2)
    key = stream_key(seed, Stream.BLINDING)
    belief, dont_know = (block(key, trials, 0, 30, column=c) for c in (0, 1))
    guess = np.where(dont_know < 0.25, 2, np.where(belief < plan.believes_active[arm], 0, 1))
    for a in range(2):
        for g in range(3):
            np.testing.assert_array_equal(counts[:, a, g], ((arm == a) & asked & (guess == g)).sum(axis=1))


def test_expectation_multiplier_averages_to_the_truths_figure_under_perfect_blinding():
    plan = BlindingPlan(np.array([0.5, 0.95, 0.2]), 0.4, 0.0)
    u = np.random.default_rng(3).random(200_000)
    for arm, p in enumerate(plan.believes_active):
        m = plan.expectation(u, np.full(u.size, arm))
        assert m.mean() == pytest.approx(1 - 0.4 + 0.8 * p, abs=4 * m.std() / np.sqrt(u.size))


def _blinding_run(truths: list[str], n: int, seed: int, **kw):
    data = scenario_dict("clbp_blinding.yaml")
    data["truths"] = {k: v for k, v in data["truths"].items() if k in truths}
    data["designs"] = {"fixed": data["designs"]["fixed"]}
    return run(parse_scenario(data), n_trials=n, seed=seed, **kw)


def test_unblinding_inflates_the_sham_controlled_type_i_error_and_biases_towards_the_device():
    # Sham-controlled SCS trials whose patients can tell the arms apart overstate SCS (SCS patients
    # expect benefit, sham patients lose theirs): the reported type I error rises above its nominal
    # 2.5% and the SCS - sham difference is biased in the device's favour (negative NRS change)
    n = 300
    r = _blinding_run(["null_blinded", "null_partial"], n, seed=5)
    oc = r.oc.set_index(["truth", "metric"])
    est, se = oc["estimate"], oc["mcse"]
    nominal = np.sqrt(0.025 * 0.975 / n)
    assert abs(est["null_blinded", "prob_effective_scs"] - 0.025) < 4 * nominal + 0.005
    assert est["null_partial", "prob_effective_scs"] > 0.025 + 4 * nominal
    assert est["null_partial", "unblinding_bias_scs"] < -4 * se["null_partial", "unblinding_bias_scs"]
    # Bang's index at its closed form: scs (1 - 0.2)(2 x 0.7 - 1), sham (1 - 0.2)(1 - 2 x 0.4)
    assert abs(est["null_partial", "bang_bi_scs"] - 0.32) < 4 * se["null_partial", "bang_bi_scs"]
    assert abs(est["null_partial", "bang_bi_sham"] - 0.16) < 4 * se["null_partial", "bang_bi_sham"]
    assert ("null_blinded", "unblinding_bias_scs") not in est.index  # a blinded truth has no twin


def test_guesses_and_the_blinded_twin_do_not_depend_on_chunking():
    a = _blinding_run(["null_partial"], 12, seed=2, chunk_size=5).trials
    b = _blinding_run(["null_partial"], 12, seed=2).trials
    for var in ("guesses", "estimate", "estimate_blinded"):
        np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=var)


def test_blinding_needs_the_visit_model_and_known_arms():
    data = scenario_dict("clbp_blinding.yaml")
    data["truths"]["null_partial"]["blinding"]["believes_active"]["scss"] = 0.9
    with pytest.raises(ScenarioError, match="scss"):
        parse_scenario(data)
    data = scenario_dict("clbp_blinding.yaml")
    del data["patients"]
    with pytest.raises(ScenarioError, match="visit model"):
        parse_scenario(data)


def test_patients_table_holds_the_simulators_patients_under_unblinding_and_a_correlated_screen():
    from trialsim.cohort import Cohort
    from trialsim.compile import compile_scenario
    from trialsim.report.patients import patients_table

    data = scenario_dict("clbp_blinding.yaml")
    data["truths"] = {"effect_paresthesia": data["truths"]["effect_paresthesia"]}
    data["patients"]["screening_correlation"] = 0.5
    plan = compile_scenario(parse_scenario(data))
    n = 80
    table = patients_table(plan, "effect_paresthesia", n, 1)
    rows = table[table.visit_week == plan.cohort.visit.visits[plan.cohort.visit.primary]]
    cohort = Cohort(plan.cohort, plan.seed, np.arange(1))
    cohort.reach(np.arange(1), np.full(1, n))
    model = plan.truths["effect_paresthesia"].model
    for a, arm in enumerate(plan.arms):
        mine = rows[rows.arm == arm].sort_values("patient")
        change, _, _ = cohort.outcomes(plan.endpoint, model, np.zeros(n, int), np.arange(n), np.full(n, a))
        np.testing.assert_array_equal(change, mine.change.to_numpy())
        passed = cohort.passed_screening(model, np.zeros(n, int), np.arange(n), np.full(n, a))
        np.testing.assert_array_equal(passed, mine.passed_screening.to_numpy().astype(bool))
