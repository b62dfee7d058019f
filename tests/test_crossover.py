"""Crossover designs (design/crossover.py, design/within.py): balance, the exact analysis, carry-over bias."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.design.crossover import williams
from trialsim.design.families import run_any
from trialsim.design.within import SequenceDesign, within_posterior, within_stats
from trialsim.patients.sequence import Periods
from trialsim.scenario import parse_scenario

from .conftest import scenario_dict


@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_williams_designs_are_balanced_for_first_order_carry_over(k):
    rows = np.array(williams(k))
    times = 1 if k % 2 == 0 else 2
    assert rows.shape == (k * times, k)
    for column in rows.T:  # each treatment once per period (a Latin square, or two)
        assert sorted(column) == sorted(list(range(k)) * times)
    follows = {pair: 0 for pair in itertools.permutations(range(k), 2)}
    for row in rows:
        for a, b in zip(row, row[1:]):
            follows[(a, b)] += 1
    assert set(follows.values()) == {times}  # each treatment follows each other equally often


def test_ab_ba_analysis_is_the_classic_analysis_of_period_differences():
    g = np.random.default_rng(1)
    n = 23
    sequence = (np.arange(n) % 2)[None, :]  # 0: AB, 1: BA
    y = g.normal(size=(1, n, 2)) + np.array([0.0, 0.4])  # a period effect
    y[0, sequence[0] == 0, 1] += 0.7  # B (arm 1) in period 2 of AB
    y[0, sequence[0] == 1, 0] += 0.7  # B in period 1 of BA
    post = within_posterior(SequenceDesign(np.array([[0, 1], [1, 0]]), 2, 0),
                            within_stats(y, sequence, np.ones((1, n), bool), 2))
    d = y[0, :, 1] - y[0, :, 0]  # period 2 - period 1
    d_ab, d_ba = d[sequence[0] == 0], d[sequence[0] == 1]
    estimate = (d_ab.mean() - d_ba.mean()) / 2  # B - A
    pooled = (((d_ab - d_ab.mean()) ** 2).sum() + ((d_ba - d_ba.mean()) ** 2).sum()) / (n - 2)
    se = np.sqrt(pooled / 4 * (1 / len(d_ab) + 1 / len(d_ba)))
    assert post.level[0, 1] - post.level[0, 0] == pytest.approx(estimate, rel=1e-12)
    assert post.df[0] == n - 2
    from scipy import stats
    assert post.prob_better(np.zeros(1, int), 0.2)[0, 1] == pytest.approx(stats.t.cdf((estimate - 0.2) / se, n - 2),
                                                                          rel=1e-10)


def _scenario(carry: dict | None, washout: float, n: int = 60, looks: list[int] | None = None, period: float = 4.0):
    """SCS vs sham without dropout, AB/BA with short periods (4 weeks) by default."""
    data = scenario_dict("clbp_crossover.yaml")
    data["patients"]["visits"] = sorted({4.0, 8.0, 12.0, 8.0 + washout, 24.0, 48.0})
    data["patients"]["dropout"] = {"loss_by_52_weeks": 0.0}
    truth = data["truths"]["sham_anchored"]
    truth["arms"]["scs"] = {k: v for k, v in truth["arms"]["scs"].items() if k != "carryover"}
    if carry:
        truth["arms"]["scs"]["carryover"] = carry
    data["truths"] = {"sham_anchored": truth, "no_effect": data["truths"]["no_effect"]}
    data["designs"] = {
        "parallel": {"controls": {"scs": "sham"}, "looks": {"at_patients": looks or [n]}},
        "ab_ba": {"control": "sham", "looks": {"at_patients": looks or [n]},
                  "crossover": {"treatments": ["sham", "scs"], "sequences": "ab_ba", "period_weeks": period,
                                "washout_weeks": washout}},
    }
    data.pop("targets", None)
    return compile_scenario(parse_scenario(data))


def _errors(carry: dict | None, washout: float, trials: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Per trial: the AB/BA estimate of scs - sham minus the estimand of the trial's own patients
    without carry-over ((tau_1 + tau_2) / 2 from their potential outcomes), and the expected bias
    (lambda_sham - lambda_scs) / 2 from their potential outcomes with and without carry-over."""
    plan = _scenario(carry, washout)
    design, truth = plan.designs["ab_ba"], plan.truths["sham_anchored"]
    cohort = Cohort(plan.cohort, plan.seed, np.arange(trials))
    result = run_any(design, cohort, truth, None)
    estimate = -(result.estimate[:, 1] - result.estimate[:, 0])  # on the NRS change scale: scs - sham
    fam, n = design.family, design.n_max
    rows, patients = np.arange(trials)[:, None], np.arange(n)[None, :]
    v = truth.model.visit
    none = Periods(fam.starts, fam.period_weeks)
    carried = Periods(fam.starts, fam.period_weeks, v.carry_share, v.carry_half_life)

    def po(seq, periods):
        return cohort.sequence_outcomes(plan.endpoint, truth.model, rows, patients, np.array(seq), periods, fam.visits)[0]

    ab, ba = po([0, 1], none), po([1, 0], none)  # sham then scs; scs then sham
    tau = ((ba[..., 0] - ab[..., 0]) + (ab[..., 1] - ba[..., 1])).mean(axis=1) / 2
    lam_sham = (po([0, 1], carried)[..., 1] - ab[..., 1]).mean(axis=1)
    lam_scs = (po([1, 0], carried)[..., 1] - ba[..., 1]).mean(axis=1)
    return estimate - tau, (lam_sham - lam_scs) / 2


def test_crossover_is_unbiased_without_carry_over():
    err, expected = _errors(None, 0.0)
    assert np.all(expected == 0)
    assert abs(err.mean()) < 4 * err.std(ddof=1) / np.sqrt(len(err))


def test_carry_over_without_washout_biases_by_half_the_carry_over_difference():
    err, expected = _errors({"share": 0.8, "half_life_weeks": 4}, 0.0)
    se = err.std(ddof=1) / np.sqrt(len(err))
    assert expected.mean() > 8 * se  # the carried-over relief shrinks the estimated benefit of SCS
    assert abs(err.mean() - expected.mean()) < 4 * np.sqrt(se ** 2 + expected.var(ddof=1) / len(err))


def test_a_long_washout_removes_the_carry_over_bias():
    err, expected = _errors({"share": 0.8, "half_life_weeks": 4}, 40.0)
    assert expected.mean() < 1e-3
    assert abs(err.mean()) < 4 * err.std(ddof=1) / np.sqrt(len(err))


def test_crossover_patients_are_the_parallel_patients():
    """Paired: a patient's first period is the parallel design's patient on the same arm, bit for bit."""
    plan = _scenario(None, 0.0, period=12.0)  # the first period ends at the parallel endpoint (12 weeks)
    truth = plan.truths["sham_anchored"]
    cohort = Cohort(plan.cohort, plan.seed, np.arange(20))
    parallel = run_any(plan.designs["parallel"], cohort, truth, _exact(plan, "parallel"))
    cross = run_any(plan.designs["ab_ba"], cohort, truth, None)
    same = (parallel.observed.arm == cross.observed.arm) & (cross.observed.arm >= 0)
    assert same.sum() > 200 and (~same & (cross.observed.arm >= 0)).sum() > 200
    np.testing.assert_array_equal(parallel.observed.y[same], cross.observed.y[same])


def _exact(plan, design):
    from trialsim.inference.engines import make_inference

    return make_inference(plan.designs[design].analysis, plan.seed, design)


def test_type_one_error_of_the_crossover_is_its_nominal_level():
    """One look at Pr(scs better) > 0.975 under no effect: the flat-prior t posterior is the t test."""
    plan = _scenario(None, 0.0, n=40)
    trials = 4000
    result = run_any(plan.designs["ab_ba"], Cohort(plan.cohort, plan.seed, np.arange(trials)),
                     plan.truths["no_effect"], None)
    rate = (result.state.fate[:, 1] == 1).mean()
    assert abs(rate - 0.025) < 4 * np.sqrt(0.025 * 0.975 / trials)
