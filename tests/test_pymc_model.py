"""PyMC engine: model build, fast path vs exact posteriors, diagnostics, reproducibility.

Fast tests share engines built once per module (compiled PyTensor functions are
cached on disk after the first run). NUTS comparisons are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytest
from scipy import integrate, stats

from trialsim.inference.base import LookData
from trialsim.inference.pymc_model import PymcEngine, PymcFit, PymcPrior, model_data

ARMS, PHENOTYPES = 5, 4
PREVALENCE = np.array([0.25, 0.55, 0.18, 0.02])
DIAGNOSTICS = ("rhat_max", "ess_min", "divergences", "pareto_k", "problem")


def look_data(rng: np.random.Generator, trials: int, binary: bool, n_total: int = 300) -> LookData:
    """Sufficient statistics of simulated patients (improvement ~ arm effect + baseline slope)."""
    stats_ = np.zeros((6, trials, ARMS, PHENOTYPES))
    effect = np.array([2.2, 3.2, 3.4, 1.6, 1.7])
    for t in range(trials):
        arm = rng.integers(ARMS, size=n_total)
        phen = rng.choice(PHENOTYPES, size=n_total, p=PREVALENCE)
        x = rng.normal(7.5, 1.2, n_total)
        y = effect[arm] + 0.3 * (x - 7.5) + rng.normal(0, 2.5, n_total)
        if binary:
            y = (y >= 0.5 * x).astype(float)
        cell = arm * PHENOTYPES + phen
        for k, v in enumerate([np.ones(n_total), y, y * y, x, x * x, x * y]):
            stats_[k, t] = np.bincount(cell, weights=v, minlength=ARMS * PHENOTYPES).reshape(ARMS, PHENOTYPES)
    return LookData(*stats_, binary=binary, prevalence=PREVALENCE)


@pytest.fixture(scope="module")
def engines() -> dict[str, PymcEngine]:
    return {
        "binary": PymcEngine(ARMS, PHENOTYPES, True, PymcPrior.preset("vague", True)),
        "continuous": PymcEngine(ARMS, PHENOTYPES, False, PymcPrior.preset("vague", False)),
        "binary_exact": PymcEngine(ARMS, PHENOTYPES, True, PymcPrior.preset("exact", True), draws=8000),
        "continuous_exact": PymcEngine(ARMS, PHENOTYPES, False, PymcPrior.preset("exact", False), draws=8000),
    }


@pytest.fixture(scope="module")
def fits(engines) -> dict[str, tuple[LookData, PymcFit]]:
    out = {}
    for name in ("binary", "continuous"):
        data = look_data(np.random.default_rng(11), 4, name == "binary")
        out[name] = (data, engines[name].fit(data, np.random.default_rng(12)))
    return out


# --------------------------------------------------------------------------
# Model build
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["binary", "continuous"])
def test_logp_and_gradient_finite_at_initial_point(engines, name):
    eng = engines[name]
    data = look_data(np.random.default_rng(1), 2, name == "binary")
    arrays = model_data(data, eng.prior)
    density = eng._fast.density
    start = np.repeat(density.initial[None], 2, axis=0)
    arm_lp, shared_lp, grad = density.logp_grad(start, arrays)
    assert np.isfinite(arm_lp).all() and np.isfinite(shared_lp).all() and np.isfinite(grad).all()
    # PyMC's own compiled logp/dlogp agree on one trial's data
    model = eng.model
    for key in arrays:
        model.set_data(key, arrays[key][:1])
    point = model.initial_point()
    logp = model.compile_logp()(point)
    dlogp = model.compile_dlogp()(point)
    assert np.isfinite(logp) and np.isfinite(dlogp).all()
    assert logp == pytest.approx(arm_lp[0].sum() + shared_lp[0], rel=1e-10)


def test_fit_compiles_nothing(engines, monkeypatch):
    """The model and its functions are built once; fitting only swaps data."""
    calls = []
    original = pytensor.function
    monkeypatch.setattr(pytensor, "function", lambda *a, **k: calls.append(1) or original(*a, **k))
    eng = engines["binary"]
    model, functions = eng.model, dict(eng._fast.density._rows)
    for seed in range(2):
        eng.fit(look_data(np.random.default_rng(seed), 2, True), np.random.default_rng(seed))
    assert calls == []
    assert eng.model is model and eng._fast.density._rows == functions


def test_shapes(fits):
    data, fit = fits["binary"]
    assert fit.posterior.draws.shape == (4, 4000, ARMS)
    assert fit.by_phenotype.shape == (4, 4000, ARMS, PHENOTYPES)
    # theta is the prevalence-weighted average of the cell probabilities
    np.testing.assert_allclose(fit.posterior.draws, fit.by_phenotype @ PREVALENCE, rtol=1e-12)
    assert ((fit.posterior.draws > 0) & (fit.posterior.draws < 1)).all()
    assert fit.phenotype_posterior(1).draws.shape == (4, 4000, ARMS)


def test_posterior_means_near_observed(fits):
    """Sanity: with 300 patients the posterior means sit near the raw arm means."""
    for name in ("binary", "continuous"):
        data, fit = fits[name]
        raw = (data.sum_y.sum(-1) / data.n.sum(-1))
        tol = 0.08 if name == "binary" else 0.6  # pooling, covariate and phenotype weighting move them
        assert np.abs(fit.posterior.mean() - raw).max() < tol


# --------------------------------------------------------------------------
# Diagnostics and reproducibility
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["binary", "continuous"])
def test_diagnostics_present(fits, name):
    _, fit = fits[name]
    for key in DIAGNOSTICS:
        assert fit.diagnostics[key].shape == (4,)
    assert fit.diagnostics["problem"].dtype == bool
    assert not fit.diagnostics["problem"].any()
    assert (fit.diagnostics["pareto_k"] < 0.7).all()
    assert (fit.diagnostics["ess_min"] > 1000).all()
    assert np.isnan(fit.diagnostics["rhat_max"]).all()  # no chains on the fast path


def test_same_seed_identical_draws(engines):
    eng = engines["continuous"]
    data = look_data(np.random.default_rng(3), 2, False)
    a = eng.fit(data, np.random.default_rng(99))
    b = eng.fit(data, np.random.default_rng(99))
    c = eng.fit(data, np.random.default_rng(100))
    assert np.array_equal(a.posterior.draws, b.posterior.draws)
    assert np.array_equal(a.by_phenotype, b.by_phenotype)
    assert not np.array_equal(a.posterior.draws, c.posterior.draws)


@pytest.mark.parametrize("name", ["binary", "continuous"])
def test_per_trial_generators_make_draws_independent_of_batching(engines, name):
    """With one generator per trial, trial i's draws are the same alone or in a batch."""
    eng = engines[name]
    data = look_data(np.random.default_rng(4), 3, name == "binary")
    whole = eng.fit(data, [np.random.default_rng(seed) for seed in (50, 51, 52)])
    alone = eng.fit(data.take(np.array([1])), [np.random.default_rng(51)])
    assert np.array_equal(alone.posterior.draws[0], whole.posterior.draws[1])
    with pytest.raises(ValueError, match="generators"):
        eng.fit(data, [np.random.default_rng(1)])


def test_arm_without_data_gets_its_prior(engines):
    data = look_data(np.random.default_rng(6), 2, True)
    empty = [np.where(np.arange(ARMS)[:, None] == 4, 0.0, s) for s in
             (data.n, data.sum_y, data.sum_y2, data.sum_x, data.sum_x2, data.sum_xy)]
    data = LookData(*empty, binary=True, prevalence=PREVALENCE)
    fit = engines["binary"].fit(data, np.random.default_rng(7))
    assert not fit.diagnostics["problem"].any()
    # mu ~ N(0, 2.5) on the logit scale: the prior mean of a probability is 0.5
    assert fit.posterior.mean()[:, 4] == pytest.approx([0.5, 0.5], abs=0.03)


def test_bad_input_raises(engines):
    data = look_data(np.random.default_rng(8), 1, True)
    with pytest.raises(ValueError, match="binary"):
        engines["continuous"].fit(data, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown prior preset"):
        PymcPrior.preset("flat", True)
    with pytest.raises(ValueError, match="sigma_scale"):
        PymcPrior(sigma_scale=0.0)
    flat = PymcEngine(ARMS, PHENOTYPES, False, PymcPrior.preset("exact", False, mu_dist="flat"))
    cont = look_data(np.random.default_rng(8), 1, False)
    zeroed = LookData(*(np.zeros_like(s) for s in (cont.n,) * 6), binary=False, prevalence=PREVALENCE)
    with pytest.raises(ValueError, match="flat mu prior"):
        flat.fit(zeroed, np.random.default_rng(0))


# --------------------------------------------------------------------------
# Agreement with exact conjugate posteriors (independent arms, no phenotypes)
# --------------------------------------------------------------------------


def exact_probabilities(dists) -> tuple[np.ndarray, np.ndarray]:
    """Pr(best) of every arm and Pr(arm > arm 0) by quadrature over frozen scipy distributions."""
    lo = min(d.ppf(1e-12) for d in dists)
    hi = max(d.isf(1e-12) for d in dists)
    points = np.unique(np.concatenate([d.ppf([1e-6, 0.5, 1 - 1e-6]) for d in dists]))
    best = []
    for k, dk in enumerate(dists):
        others = [d for j, d in enumerate(dists) if j != k]
        f = lambda x, dk=dk, others=others: dk.pdf(x) * np.prod([d.cdf(x) for d in others])  # noqa: E731
        best.append(integrate.quad(f, lo, hi, points=points, limit=500, epsabs=1e-10)[0])
    better = [
        integrate.quad(lambda x, dk=dk: dists[0].pdf(x) * dk.sf(x), lo, hi, points=points, limit=500,
                       epsabs=1e-10)[0]
        for dk in dists[1:]
    ]
    return np.array(best), np.array(better)


def mc_tolerance(p: np.ndarray, ess: float, draws: int) -> np.ndarray:
    """4 Monte Carlo SDs of a probability from importance resampling (ESS, then draws)."""
    return 4 * np.sqrt(p * (1 - p) * (1 / ess + 1 / draws)) + 1e-3


def assert_agrees_with_exact(fit: PymcFit, exact: list[tuple[np.ndarray, np.ndarray]], draws: int):
    n_trials = fit.posterior.draws.shape[0]
    best = fit.posterior.prob_best(np.ones((n_trials, ARMS), bool))
    better = fit.posterior.prob_better(np.zeros(n_trials, int), 0.0)[:, 1:]
    for t, (ex_best, ex_better) in enumerate(exact):
        ess = fit.diagnostics["ess_min"][t]
        np.testing.assert_array_less(np.abs(best[t] - ex_best), mc_tolerance(ex_best, ess, draws))
        np.testing.assert_array_less(np.abs(better[t] - ex_better), mc_tolerance(ex_better, ess, draws))


def test_binary_independent_arms_match_beta_posteriors(engines):
    """Logistic(0, 1) on the logit = Beta(1, 1) on the rate: posteriors Beta(1 + y, 1 + n - y)."""
    rng = np.random.default_rng(21)
    data = look_data(rng, 3, True, n_total=150)
    fit = engines["binary_exact"].fit(data, np.random.default_rng(22))
    assert not fit.diagnostics["problem"].any()
    n, y = data.n.sum(-1), data.sum_y.sum(-1)
    exact = [exact_probabilities([stats.beta(1 + y[t, a], 1 + n[t, a] - y[t, a]) for a in range(ARMS)])
             for t in range(3)]
    assert_agrees_with_exact(fit, exact, 8000)
    np.testing.assert_allclose(fit.posterior.mean(), (1 + y) / (2 + n), atol=0.01)


def test_continuous_independent_arms_match_t_posteriors(engines):
    """Flat on (mean, log sd) per arm: the mean is Student-t(n - 1, ybar, sd / sqrt(n))."""
    data = look_data(np.random.default_rng(23), 3, False, n_total=120)
    fit = engines["continuous_exact"].fit(data, np.random.default_rng(24))
    assert not fit.diagnostics["problem"].any()
    n, sy, sy2 = data.per_arm()
    ybar = sy / n
    sd = np.sqrt((sy2 - n * ybar**2) / (n - 1))
    exact = [exact_probabilities([stats.t(n[t, a] - 1, ybar[t, a], sd[t, a] / np.sqrt(n[t, a]))
                                  for a in range(ARMS)]) for t in range(3)]
    assert_agrees_with_exact(fit, exact, 8000)


# --------------------------------------------------------------------------
# Slow: the fast path against full NUTS on the hierarchical models
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("binary", [True, False])
def test_fast_path_matches_nuts_hierarchical(engines, binary):
    data = look_data(np.random.default_rng(31), 3, binary)
    prior = PymcPrior.preset("vague", binary)
    nuts = PymcEngine(ARMS, PHENOTYPES, binary, prior, "nuts", nuts_draws=2000, nuts_target_accept=0.95)
    ref = nuts.fit(data, np.random.default_rng(32))
    assert np.isfinite(ref.diagnostics["rhat_max"]).all() and (ref.diagnostics["rhat_max"] < 1.02).all()
    fit = engines["binary" if binary else "continuous"].fit(data, np.random.default_rng(33))
    active = np.ones((3, ARMS), bool)
    assert np.abs(fit.posterior.prob_best(active) - ref.posterior.prob_best(active)).max() < 0.04
    control = np.zeros(3, int)
    assert np.abs(fit.posterior.prob_better(control, 0.0) - ref.posterior.prob_better(control, 0.0)).max() < 0.04
    np.testing.assert_allclose(fit.by_phenotype.mean(1), ref.by_phenotype.mean(1), atol=0.05 if binary else 0.2)


# --------------------------------------------------------------------------
# Proposal densities: every log q must be a normalised density of its draws
# --------------------------------------------------------------------------


def _proposal_grid(rng):
    from trialsim.inference.pymc_proposal import SigmaGrid

    nodes = np.linspace(-3.0, 1.0, 9)[None, None]  # (T, A, K)
    log_pi = -0.5 * (nodes + 1.0) ** 2 + 0.3 * np.sin(3 * nodes)  # any shape will do
    m, k = 3, nodes.shape[-1]
    mean = rng.normal(size=(1, 1, k, m))
    chol = np.tile(np.diag([0.7, 1.1, 0.9]), (1, 1, k, 1, 1)) * np.linspace(0.8, 1.2, k)[None, None, :, None, None]
    chol[..., 1, 0] = 0.2
    return SigmaGrid.from_nodes(nodes, log_pi, mean, chol, np.zeros((1, 1, k, m, 0)))


def assert_unit_mean(log_ratio: np.ndarray) -> None:
    """E_q[p / q] = 1 within 4 Monte Carlo SEs."""
    ratio = np.exp(log_ratio)
    assert ratio.mean() == pytest.approx(1.0, abs=4 * ratio.std() / np.sqrt(ratio.size))
    assert ratio.std() / np.sqrt(ratio.size) < 0.01  # and the check is sharp enough to matter


def test_grid_proposal_density_is_normalised():
    """The log-scale sampler (segments, interpolation, tails) returns its exact log density."""
    from trialsim.inference.pymc_random import TrialRandom

    grid = _proposal_grid(np.random.default_rng(1))
    u, logq, _, _ = grid.sample(400_000, TrialRandom(np.random.default_rng(0), 1))
    assert_unit_mean(stats.norm.logpdf(u[0, :, 0], -1.0, 1.2) - logq[0, :, 0])


def test_t_proposal_density_is_normalised():
    """t draws between nodes, stored as z = (alpha - mu) / sigma, with the Jacobian in log q."""
    from trialsim.inference.pymc_proposal import fill_t_draws
    from trialsim.inference.pymc_random import TrialRandom

    rng = TrialRandom(np.random.default_rng(0), 1)
    grid = _proposal_grid(np.random.default_rng(1))
    n = 400_000
    _, _, node, weight = grid.sample(n, rng)  # which nodes' Gaussians every draw mixes
    log_sigma = np.full(node.shape, -0.5)
    theta = np.zeros((1, n, 3))
    logq = fill_t_draws(rng, theta, np.arange(3)[None], grid.mean, grid.chol, grid.shift, node, weight,
                        np.zeros((1, n, 0)), centred=(log_sigma, 0, np.array([1, 2])))
    # p may depend on the draw's nodes (drawn independently of x): a normal around the
    # interpolated mean in the stored coordinates, narrower than q
    k0, w = node[0, :, 0], weight[0, :, 0, None]
    centre = (1 - w) * grid.mean[0, 0, k0] + w * grid.mean[0, 0, np.minimum(k0 + 1, 8)]
    centre[:, 1:] = (centre[:, 1:] - centre[:, :1]) / np.exp(-0.5)
    log_p = stats.norm.logpdf(theta[0], centre, 0.5).sum(axis=1)
    assert_unit_mean(log_p - logq[0, :, 0])
