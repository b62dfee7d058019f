"""The SMART's regime estimator (design/dtr.py) on a small pure-numpy SMART with known regime means.

Stage 1: arms 0 and 1 (equal). Response with probability p_a; responders' outcome N(r_a, 1).
Non-responders re-randomised among options (arm 0: options 2, 3; arm 1: option 4 only);
their outcome N(m_ao, 1). A regime's true mean is p_a r_a + (1 - p_a) m_ao. Tolerances
are 4 Monte Carlo SEs over the simulated trials.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from trialsim.design.dtr import Regimes, best_regime, better_than_reference, consistent, ipw_means

ARMS = ("a", "b", "x", "y", "z")
STAGE2 = {0: (2, 3), 1: (4,)}
P_RESPOND = np.array([0.4, 0.3])
R_MEAN = np.array([2.0, 1.0])
M_MEAN = {(0, 2): 0.5, (0, 3): 1.5, (1, 4): 0.8}


def regimes() -> Regimes:
    return Regimes.of(ARMS, (0, 1), STAGE2)


def truth(reg: Regimes, p=P_RESPOND, r=R_MEAN, m=M_MEAN) -> np.ndarray:
    return np.array([p[a] * r[a] + (1 - p[a]) * m[(a, o)] for a, o in zip(reg.first, reg.second)])


def simulate(rng: np.random.Generator, trials: int, n: int, p=P_RESPOND, r=R_MEAN, m=M_MEAN,
             stage2=STAGE2, missing: float = 0.0):
    first = (rng.random((trials, n)) < 0.5).astype(np.int64)
    responder = rng.random((trials, n)) < p[first]
    u = rng.random((trials, n))
    second = np.where(first == 0, np.where(u < 0.5, stage2[0][0], stage2[0][-1]), stage2[1][0])
    mean = np.where(responder, r[first], 0.0)
    for (a, o), v in m.items():
        mean = np.where(~responder & (first == a) & (second == o), v, mean)
    y = mean + rng.standard_normal((trials, n))
    observed = rng.random((trials, n)) >= missing
    return y, observed, first, responder, second


def test_regimes_and_consistency():
    reg = regimes()
    assert reg.names == ("a_then_x", "a_then_y", "b_then_z")
    np.testing.assert_allclose(reg.p_second, [0.5, 0.5, 1.0])
    first, responder, second = np.array([0, 0, 1]), np.array([True, False, False]), np.array([2, 3, 4])
    np.testing.assert_array_equal(consistent(reg, first, responder, second),
                                  [[True, True, False], [False, True, False], [False, False, True]])


def test_regime_means_are_unbiased_and_their_sandwich_se_calibrated():
    reg, rng = regimes(), np.random.default_rng(1)
    trials = 4000
    est = ipw_means(reg, *simulate(rng, trials, 200))
    true = truth(reg)
    err = est.mean - true
    mcse = err.std(axis=0, ddof=1) / np.sqrt(trials)
    assert np.all(np.abs(err.mean(axis=0)) < 4 * mcse), (err.mean(axis=0), mcse)
    # 95% intervals cover at the nominal rate (binomial MC error)
    covered = np.abs(err) < stats.t.ppf(0.975, est.n_eff - 1) * est.se
    tol = 4 * np.sqrt(0.95 * 0.05 / trials)
    assert np.all(np.abs(covered.mean(axis=0) - 0.95) < tol), covered.mean(axis=0)
    # the contrast of two regimes sharing their responders uses their covariance
    diff, se = est.contrast(0, 1)
    covered = np.abs(diff - (true[0] - true[1])) < stats.t.ppf(0.975, est.contrast_df(0, 1)) * se
    assert abs(covered.mean() - 0.95) < tol
    assert np.all(est.cov[:, 0, 1] > 0)  # shared responders: positively correlated estimates
    np.testing.assert_array_equal(est.cov[:, 0, 2], 0.0)  # different stage-1 arms: no patient in common


def test_complete_cases_stay_unbiased_when_missing_at_random():
    reg, rng = regimes(), np.random.default_rng(2)
    est = ipw_means(reg, *simulate(rng, 3000, 200, missing=0.2))
    err = est.mean - truth(reg)
    assert np.all(np.abs(err.mean(axis=0)) < 4 * err.std(axis=0, ddof=1) / np.sqrt(3000))


def test_the_naive_mean_of_consistent_patients_is_biased():
    """Why the weights: non-responders re-randomised between two options count half as often."""
    reg, rng = regimes(), np.random.default_rng(3)
    y, observed, first, responder, second = simulate(rng, 2000, 200)
    ok = consistent(reg, first, responder, second)[..., 0]
    naive = np.where(ok, y, 0).sum(axis=1) / ok.sum(axis=1)
    weighted = ipw_means(reg, y, observed, first, responder, second).mean[:, 0]
    true = truth(reg)[0]
    assert abs(weighted.mean() - true) < 4 * weighted.std() / np.sqrt(2000)
    assert abs(naive.mean() - true) > 10 * naive.std() / np.sqrt(2000)  # responders over-represented


def test_pr_best_regime_is_uniform_under_a_symmetric_null():
    """Every regime has the same mean, and the design treats them symmetrically (2 options per
    stage-1 arm): each of the 4 regimes is selected with probability 1/4."""
    stage2 = {0: (2, 3), 1: (4, 2)}
    reg = Regimes.of(ARMS, (0, 1), stage2)
    m = {(0, 2): 1.0, (0, 3): 1.0, (1, 4): 1.0, (1, 2): 1.0}
    rng = np.random.default_rng(4)
    trials = 8000
    y, observed, first, responder, second = simulate(rng, trials, 100, p=np.array([0.3, 0.3]),
                                                     r=np.array([1.0, 1.0]), m=m, stage2={0: (2, 3), 1: (4, 2)})
    # arm 1's non-responders: options 4 and 2 with probability 1/2 each
    u = rng.random(second.shape)
    second = np.where(first == 1, np.where(u < 0.5, 4, 2), second)
    est = ipw_means(reg, y, observed, first, responder, second)
    chosen = np.bincount(best_regime(est), minlength=4) / trials
    assert np.all(np.abs(chosen - 0.25) < 4 * np.sqrt(0.25 * 0.75 / trials)), chosen


@pytest.mark.parametrize("alpha, n", [(0.025, 300), (0.1, 300), (0.025, 120)])
def test_tests_against_the_reference_hold_their_level(alpha, n):
    """Under a null (regime b_then_z equal to a_then_x) the one-sided t test rejects at about alpha,
    also with about 40 patients per regime (n = 120)."""
    reg, rng = regimes(), np.random.default_rng(5)
    m = dict(M_MEAN)
    m[(1, 4)] = (truth(reg)[0] - P_RESPOND[1] * R_MEAN[1]) / (1 - P_RESPOND[1])  # b_then_z equals a_then_x
    trials = 6000
    est = ipw_means(reg, *simulate(rng, trials, n, m=m))
    z, better = better_than_reference(est, reference=2, alpha=alpha)
    assert np.isnan(z[:, 2]).all() and not better[:, 2].any()
    rate = better[:, 0].mean()
    assert abs(rate - alpha) < 4 * np.sqrt(alpha * (1 - alpha) / trials), rate


def test_the_unweighted_regime_has_the_classical_standard_error():
    """A regime without re-randomisation (weights all equal): SE = s / sqrt(n) exactly."""
    reg, rng = regimes(), np.random.default_rng(6)
    y, observed, first, responder, second = simulate(rng, 3, 50)
    est = ipw_means(reg, y, observed, first, responder, second)
    for t in range(3):
        on = first[t] == 1
        np.testing.assert_allclose(est.se[t, 2], y[t, on].std(ddof=1) / np.sqrt(on.sum()))
        np.testing.assert_allclose(est.n_eff[t, 2], on.sum())
