"""The look loop: schedules, follow-up lag, common random numbers across designs."""

from __future__ import annotations

import numpy as np

from trialsim.api import plan_for, run
from trialsim.cohort import Cohort
from trialsim.design.schedule import look_schedule
from trialsim.scenario import parse_scenario

from .conftest import scenario_dict


def calendar_scenario(weeks: list[float]):
    data = scenario_dict()
    data["designs"] = {"calendar": {"control": "sham", "allocation": {"rule": "pr_best", "power": 0.5},
                                    "looks": {"at_weeks": weeks, "max_patients": 300}}}
    return parse_scenario(data)


def schedule_of(scenario, design: str, n: int = 50):
    plan = plan_for(scenario, seed=1)
    cohort = Cohort(plan.cohort, plan.seed, np.arange(n))
    return cohort, look_schedule(plan.designs[design].looks, cohort.arrival_week, plan.cohort.endpoint_weeks)


def test_calendar_looks_follow_accrual_and_follow_up():
    scenario = calendar_scenario([20, 40, 60, 500])
    cohort, s = schedule_of(scenario, "calendar")
    arrivals = cohort.arrival_week[:, :300]
    assert np.all(s.analysed <= s.randomised) and np.all(s.randomised <= 300)
    assert np.all(np.diff(s.analysed, axis=1) >= 0) and np.all(np.diff(s.randomised, axis=1) >= 0)
    np.testing.assert_array_equal(s.analysed[:, 1], (arrivals + 12 <= 40).sum(axis=1))
    np.testing.assert_array_equal(s.randomised[:, 0], (arrivals <= 20).sum(axis=1))
    # the final analysis is the first look with everyone followed up (week 500 at the latest)
    np.testing.assert_array_equal(s.final, (s.analysed >= 300).argmax(axis=1))
    assert np.all(s.final <= 3) and np.all(s.analysed[:, 3] == 300)
    assert np.all(s.randomised[np.arange(50), s.final] == 300)


def test_patient_count_looks_have_follow_up_lag(clbp):
    cohort, s = schedule_of(clbp, "adaptive")
    arrivals = cohort.arrival_week[:, :500]
    np.testing.assert_array_equal(s.analysed[0], [200, 300, 400, 500])
    expected = (arrivals[:, None, :] <= arrivals[:, [199, 299, 399], None] + 12).sum(axis=2)
    np.testing.assert_array_equal(s.randomised[:, :3], expected)
    assert np.all(s.randomised[:, 3] == 500) and np.all(s.final == 3)


def test_designs_share_patients_and_truths_share_patients(clbp):
    ds = run(clbp, n_trials=40, seed=3).trials
    # the fixed design randomises everyone: per-phenotype totals are the cohort's, the same under every truth
    totals = ds.n_by_phenotype.sel(design="fixed_equal").sum("arm")
    assert (totals == totals.isel(truth=0)).all()
    # the adaptive design stops with fewer patients but the same arrival order, so duration is a prefix property
    assert (ds["size"].sel(design="adaptive") <= 500).all()


def test_arm_tallies_count_what_the_masks_say():
    from trialsim.design.observe import Observed, arm_tallies

    gen = np.random.default_rng(4)
    arm = np.where(gen.random((30, 80)) < 0.8, gen.integers(0, 3, (30, 80)), -1).astype(np.int16)
    analysed, responder = (arm >= 0) & (gen.random(arm.shape) < 0.7), gen.random(arm.shape) < 0.4
    phenotype = gen.integers(0, 4, arm.shape).astype(np.int16)
    obs = Observed(arm, np.zeros(arm.shape), responder, np.zeros(arm.shape, bool))
    by_pheno, n, responders = arm_tallies(obs, analysed, phenotype, 3, 4)
    for a in range(3):
        np.testing.assert_array_equal(n[:, a], ((arm == a) & analysed).sum(axis=1))
        np.testing.assert_array_equal(responders[:, a], ((arm == a) & analysed & responder).sum(axis=1))
        for p in range(4):
            np.testing.assert_array_equal(by_pheno[:, a, p], ((arm == a) & (phenotype == p)).sum(axis=1))
