"""The longitudinal models of the interims (design/longitudinal_models.py, issue 13): coverage on data
from their own model, reductions, and the PyMC engine fed the same combined statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from trialsim.design.longitudinal import Pending, combine
from trialsim.design.longitudinal_models import itp_shape
from trialsim.inference.exact import ArmPosteriors

from .test_longitudinal import longitudinal_scenario, mvn_trials, run, visit_trials


def check_coverage(trials, mode: str, truth: float, weeks=None, narrower: float = 1.0) -> None:
    """The exact engine's 95% interval for the endpoint mean from completers + pending patients covers
    `truth` in 95% +- 3 binomial SE of the replicates; the imputations' 95% predictive intervals
    cover the pending patients' endpoints in 95% +- 3 SE of the replicates' mean share."""
    data, arm, completer, y, early, pending = trials
    n_rep = len(y)
    out, imputed = combine(data, mode, arm, completer, y, early, pending, np.zeros(arm.shape, np.int16),
                           np.ones(arm.shape, bool), weeks=weeks)
    post = ArmPosteriors.from_data(out)
    df, loc = post.a
    half = stats.t.ppf(0.975, df[:, 0]) * post.b[:, 0]
    covered = np.abs(loc[:, 0] - truth) <= half
    se = np.sqrt(0.95 * 0.05 / n_rep)
    assert abs(covered.mean() - 0.95) < 3 * se, covered.mean()
    # the early visits buy information: narrower than completers alone, by more when correlated
    alone = ArmPosteriors.from_data(data)
    assert np.median(post.b[:, 0] / alone.b[:, 0]) < narrower
    n = imputed.n.sum()
    assert n == pending.mask.sum()
    # per replicate (its patients share the fitted model); predictive SDs add the parameters'
    # uncertainty approximately, so the intervals may be conservative (at most one point)
    share = imputed.covered / imputed.n
    assert 0.95 - 3 * share.std() / np.sqrt(n_rep) < share.mean() < 0.96, share.mean()
    assert abs(imputed.error.sum() / n) < 0.03


@pytest.mark.parametrize("mode", ["regression", "mvn"])
@pytest.mark.parametrize("rho", [0.8, 0.3])
def test_posterior_of_the_final_mean_has_nominal_coverage_under_a_known_mvn(mode, rho):
    """Known multivariate normal (visits 4, 8, 12; AR-like correlations), 4,000 replicates."""
    n_rep, n_c, n_p = 4000, 60, 50
    mean = np.array([-1.0, -1.5, -2.0])
    corr = np.array([[1, rho, rho**2 * 0.9], [rho, 1, rho], [rho**2 * 0.9, rho, 1]])
    cov = corr * np.outer([2.0, 2.2, 2.5], [2.0, 2.2, 2.5])
    trials = mvn_trials(np.random.default_rng(13), n_rep, n_c, n_p, mean, cov)
    check_coverage(trials, mode, mean[2], narrower=0.9 if rho == 0.8 else 1.02)


@pytest.mark.parametrize("kt", [-3.3, 0.0, 2.5])
def test_itp_posterior_of_the_final_mean_has_nominal_coverage_under_a_known_itp(kt):
    """Data from FACTS's ITP model (visits 4, 8, 12; shape k T concave, linear, convex; k T = -3.3 is
    off the grid): y_it = (theta + s_i) f_k(t) + e_it, 4,000 replicates of one arm with 150 completers
    (the shape is learned from every arm of a trial; with 60 completers a concave shape covered 93.7%:
    the grid's weights come from plug-in variance components)."""
    n_rep, n_c, n_p = 4000, 150, 80
    weeks = np.array([4.0, 8.0, 12.0])
    rng = np.random.default_rng(17)
    theta, tau, lam = -2.0, 1.5, 1.2
    f = itp_shape(np.array([kt]), weeks)[0]
    z = (theta + rng.normal(0, tau, (n_rep, n_c + n_p, 1))) * f + rng.normal(0, lam, (n_rep, n_c + n_p, 3))
    check_coverage(visit_trials(z, n_c, n_p), "itp", theta, weeks)


def test_mvn_with_one_earlier_visit_is_the_regression_model():
    """With one earlier visit the monotone factorisation is Anderson's estimator: the same posterior mean;
    the SDs differ only in which patients estimate the visit's variance (all, or completers: O(1/n))."""
    data, arm, completer, y, early, pending = mvn_trials(np.random.default_rng(3), 50, 200, 100, np.zeros(3),
                                                         np.eye(3) + 0.5)
    one = Pending(pending.mask, np.where(pending.mask, early[..., 0], 0.0), np.zeros_like(pending.visit),
                  pending.reached[..., :1])
    args = (arm, completer, y, early[..., :1], one, np.zeros(arm.shape, np.int16), np.ones(arm.shape, bool))
    reg, mvn = (ArmPosteriors.from_data(combine(data, mode, *args)[0]) for mode in ("regression", "mvn"))
    np.testing.assert_allclose(mvn.a[1], reg.a[1], rtol=1e-9)
    np.testing.assert_allclose(mvn.b, reg.b, rtol=3 / 300)


def test_itp_shape():
    f = itp_shape(np.array([-3.0, 0.0, 2.0]), np.array([4.0, 8.0, 12.0]))
    np.testing.assert_allclose(f[:, -1], 1.0)
    np.testing.assert_allclose(f[1], [1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(f[0, 0], (1 - np.exp(-1.0)) / (1 - np.exp(-3.0)))
    assert f[0, 0] > 1 / 3 > f[2, 0]  # concave: early response; convex: late




def test_pymc_engine_gets_the_combined_statistics():
    """The PyMC engine (flat `exact` preset) fed an interim's combined statistics reproduces the exact
    engine's t posterior of the arm mean (within 4 Monte Carlo SE), narrower than completers alone."""
    from trialsim.inference.pymc_model import PymcEngine, PymcPrior

    rho, n_rep = 0.8, 3
    corr = np.array([[1, rho, rho**2 * 0.9], [rho, 1, rho], [rho**2 * 0.9, rho, 1]])
    data, arm, completer, y, early, pending = mvn_trials(np.random.default_rng(5), n_rep, 60, 50,
                                                         np.array([-1.0, -1.5, -2.0]), corr * 4)
    out, _ = combine(data, "mvn", arm, completer, y, early, pending, np.zeros(arm.shape, np.int16),
                     np.ones(arm.shape, bool), baseline=np.full(arm.shape, 7.0))
    fit = PymcEngine(1, 1, False, PymcPrior.preset("exact", False), draws=4000).fit(out, np.random.default_rng(6))
    assert not fit.diagnostics["problem"].any()
    draws = fit.posterior.draws[..., 0]
    exact, alone = ArmPosteriors.from_data(out), ArmPosteriors.from_data(data)
    df, loc = exact.a[0][:, 0], exact.a[1][:, 0]
    sd = exact.b[:, 0] * np.sqrt(df / (df - 2))
    mcse = sd / np.sqrt(fit.diagnostics["ess_min"])
    assert (np.abs(draws.mean(1) - loc) < 4 * mcse).all()
    np.testing.assert_allclose(draws.std(1), sd, rtol=4 / np.sqrt(fit.diagnostics["ess_min"].min() / 2))
    assert (draws.std(1) / alone.b[:, 0]).mean() < 1  # the earlier visits add information


def test_pymc_engine_runs_a_longitudinal_design():
    """A design analysed by the PyMC engine (vague preset: partial pooling and the baseline covariate)
    with the mvn model imputes at interims and decides; the final analysis is its usual one."""
    ds = run(longitudinal_scenario({"pymc_mvn": {"longitudinal": "mvn", "engine": "pymc"}}), n=2)
    assert ds["imputed_n"].values.sum() > 0
    assert np.isfinite(ds["estimate"].values).all()
