"""The cohort's compiled visit draws (cohort_visits.py) equal the visit model's array code bit for bit
(where numpy's exp/log are the C maths library's, as the kernels'; see conftest.assert_same_as_array_code)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.patients.draws import patient_draws
from trialsim.patients.dropout import DropoutModel, dropout_exposures
from trialsim.patients.pain import draw_latent_pain
from trialsim.patients.phenotype import misclassify
from trialsim.patients.scale import measure
from trialsim.visits import StreamDraws

from .conftest import assert_same_as_array_code, scenario_dict, subset


def reference(cohort: Cohort, rows: np.ndarray, lo: int, hi: int) -> dict[str, np.ndarray]:
    """What the cohort holds for patients lo..hi-1, from patients.pain / patients.draws over the named streams."""
    vp, width = cohort.plan.visit, hi - lo
    trials = cohort.trials[rows]
    draws = StreamDraws(cohort.seed, cohort.plan.arms, np.repeat(trials, width), np.tile(np.arange(lo, hi), len(trials)))
    latent = draw_latent_pain(vp.pain, np.asarray(vp.visits[: vp.n_kept]), draws)
    shape = (len(rows), width)
    out = {"baseline_nrs": measure(latent.pain[:, 1], latent.error[:, 1], vp.pain.integer).reshape(shape),
           "pain_visits": latent.pain[:, 2:].reshape(shape + (-1,)),
           "error_visits": latent.error[:, 2:].reshape(shape + (-1,))}
    z, u_observed, u_explant, u_drop = patient_draws(draws, vp.n_kept)
    out["z_nonspecific"] = z.reshape(shape)
    if vp.confusion is not None:
        true = cohort.phenotype[rows, lo:hi].ravel()
        out["observed_phenotype"] = misclassify(true, np.asarray(vp.confusion), u_observed).reshape(shape)
    if cohort.dropout_draws:
        logit_u, exposure = dropout_exposures(u_drop, u_explant)
        out["u_drop"], out["u_explant"] = logit_u.reshape(shape + (-1,)), exposure.reshape(shape)
    return out


def plan_with(**pain):
    data = subset(scenario_dict(), truths=["industry"], designs=["fixed_equal"])
    plan = compile_scenario(data)
    vp = plan.cohort.visit
    return replace(plan, cohort=replace(plan.cohort, visit=replace(vp, pain=replace(vp.pain, **pain))))


VARIANTS = {
    "bundled": {},
    "entry_on_baseline": {"entry_on": "baseline"},
    "entry_on_screening": {"entry_on": "screening"},
    "continuous_nrs": {"integer": False, "threshold": 6.5},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_compiled_draws_equal_the_array_code(variant):
    plan = plan_with(**VARIANTS[variant])
    cohort = Cohort(plan.cohort, plan.seed, np.arange(7, 47))
    rows = np.array([0, 3, 4, 10, 39])
    cohort.reach(rows, np.full(len(rows), 150))
    got = cohort.filled[rows].min()
    assert got >= 150
    expected = reference(cohort, rows, 0, int(got))
    assert "u_drop" in expected and ("observed_phenotype" in expected) == (plan.cohort.visit.confusion is not None)
    for name, value in expected.items():
        assert_same_as_array_code(getattr(cohort, name)[rows, :got], value, name)
    # the rows not reached stay untouched
    assert not cohort.pain_visits[1].any() and not cohort.baseline_nrs[2].any()


def test_compiled_draws_without_dropout_or_misclassification():
    plan = plan_with()
    vp = replace(plan.cohort.visit, confusion=None, dropout=DropoutModel(loss_by_52_weeks=0.0))
    plan = replace(plan, cohort=replace(plan.cohort, visit=vp))
    cohort = Cohort(plan.cohort, plan.seed, np.arange(3))
    assert not cohort.dropout_draws
    cohort.reach(np.arange(3), np.full(3, 40))
    expected = reference(cohort, np.arange(3), 0, 40)
    assert set(expected) == {"baseline_nrs", "pain_visits", "error_visits", "z_nonspecific"}
    for name, value in expected.items():
        assert_same_as_array_code(getattr(cohort, name)[:, :40], value, name)


def test_a_later_block_continues_the_same_patients():
    plan = plan_with()
    whole, parts = (Cohort(plan.cohort, plan.seed, np.arange(4)) for _ in range(2))
    whole.reach(np.arange(4), np.full(4, 300))
    for upto in (10, 140, 300):
        parts.reach(np.arange(4), np.full(4, upto))
    for name in ("baseline_nrs", "pain_visits", "error_visits", "z_nonspecific", "u_drop", "u_explant"):
        np.testing.assert_array_equal(getattr(whole, name)[:, :300], getattr(parts, name)[:, :300], err_msg=name)


@pytest.mark.parametrize("dropout", [None, DropoutModel(loss_by_52_weeks=(0.1, 0.0, 0.3), odds_ratio_per_point=1.3),
                                     DropoutModel(loss_by_52_weeks=0.2, odds_ratio_per_point=0.8, mechanism="mnar",
                                                  explant_by_12_weeks=(0.0, 0.05, 0.2)),
                                     DropoutModel(loss_by_52_weeks=0.1, explant_by_12_weeks=0.1)])
@pytest.mark.parametrize("integer", [True, False])
def test_visit_scores_equal_the_array_code(dropout, integer):
    from trialsim.cohort_visits import visit_scores
    from trialsim.patients.dropout import observed_elements
    from trialsim.patients.effects import ArmArrays, ArmEffect, TimeCourse, element_shifts
    from trialsim.patients.scale import apply_shift

    arms = (ArmEffect(nonspecific=-0.3, nonspecific_sd=0.2),
            ArmEffect(nonspecific=-0.2, nonspecific_course=TimeCourse(onset_weeks=6, half_life_weeks=10, persistent=0.4),
                      responder_share=(0.3, 0.8), responder_effect=-0.9, nonresponder_effect=0.4,
                      specific_onset_weeks=3, loss_half_life_weeks=8),
            ArmEffect(nonspecific=0.5, nonspecific_sd=0.5, responder_share=0.5, responder_effect=(0.7, -0.2)))
    arrays = ArmArrays.of(arms, 2)
    rs = np.random.default_rng(5)
    n, weeks = 4000, (2.0, 4.0, 8.0, 12.0)
    arm, phenotype = rs.integers(0, 3, n), rs.integers(0, 2, n).astype(np.int16)
    z, u_class, u_loss, passed = rs.standard_normal(n), rs.random(n), rs.random(n), rs.random(n) < 0.8
    trial_shift, expectation = 0.1 * rs.standard_normal(n), np.where(rs.random(n) < 0.5, 0.7, 1.3)
    pain, error = 10 / (1 + np.exp(-rs.normal(0.5, 1, (n, 4)))), 0.1 * rs.standard_normal((n, 4))
    baseline = np.minimum(np.rint(pain[:, 0] * 1.3), 10)
    logit_u, exposure = rs.logistic(size=(n, 4)), rs.exponential(size=n)
    shifts, _ = element_shifts(arrays, weeks, arm, phenotype, z, u_class, u_loss, passed, trial_shift, expectation)
    nrs = np.stack([measure(apply_shift(pain[:, j], s), error[:, j], integer) for j, s in enumerate(shifts)], -1)
    assert (np.stack(shifts) > 0).any()  # the odds branch is exercised
    drop = (dropout, 3, baseline, logit_u, exposure) if dropout is not None else ()
    got_nrs, got_seen = visit_scores(arrays, weeks, arm, phenotype, z, u_class, u_loss, passed, trial_shift,
                                     expectation, pain, error, integer, *drop)
    assert_same_as_array_code(got_nrs, nrs)
    if dropout is None:
        assert got_seen.all()
    else:
        seen, _ = observed_elements(dropout, np.asarray(weeks), baseline, nrs, arm, 3, logit_u, exposure)
        assert 0 < seen.mean() < 1
        assert_same_as_array_code(got_seen, seen)
