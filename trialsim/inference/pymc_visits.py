"""The PyMC engine's visit-level models for longitudinal interims (analysis.longitudinal itp or mvn).

At an interim the model sees every patient's observed visits: completers all their earlier visits and
the endpoint, pending patients the first r earlier visits they reached (visits are reached in order).
The endpoint's cell means alpha[a, f] keep the arm x phenotype model's prior (pymc_model: the preset's
mu, partial pooling across phenotypes, baseline slope beta, residual SD s), and theta[a], the
prevalence-weighted alpha, is what decisions and allocation receive, as from `PymcEngine`. The
patient-level random effects are integrated out analytically (normal), so the likelihood is exact
and written from per-arm x pattern moment matrices of w = (visits..., endpoint, centred baseline,
phenotype indicators): its cost does not grow with the number of patients, and the data arrays keep
fixed shapes, so the model is built and compiled once per process and fitted to every look by the
fast path (`pymc_fast.FastPath`) or nutpie NUTS, exactly as `PymcEngine`.

* `mvn` (an MMRM with unstructured covariance per arm): per arm, the earlier visits and the endpoint
  are jointly normal, written as the monotone factorisation

      e_j | e_<j ~ N(gamma_aj + phi_aj' (e_<j - gamma_a<j), omega_aj^2)       j = 1..V
      y_T | e    ~ N(alpha[a, f] + beta (x - xbar) + b_a' (e - gamma_a), s^2)

  so E[y_T] = alpha at the mean baseline, and pending patients' early visits inform alpha through
  gamma and the fitted within-patient regression b (likelihood-based under MAR). Earlier visits have
  arm-by-visit means: phenotype and baseline enter the endpoint's mean only (an assumption).
  Priors: the preset's for alpha, beta, s; gamma ~ N(mu_loc, mu_scale); phi, b ~ N(0, 1);
  omega ~ HalfNormal(resid_scale). The `exact` preset (flat arms) uses flat priors on gamma, phi,
  b and log omega, so the posterior matches the exact engine's `mvn` (its large-sample version).
* `itp` (FACTS's integrated two-parameter model): the mean of visit t is
  (alpha[a, f] + beta (x - xbar)) f_k(t), f_k(t) = (1 - exp(k t)) / (1 - exp(k T)), plus a patient
  random effect s_i f_k(t), s_i ~ N(0, tau_a^2), and visit noise N(0, lambda_a^2) (lambda is the
  model's residual SD `s`). k is one parameter per trial, k T ~ Uniform(-12, 6) (the exact engine's
  grid); tau ~ HalfNormal(resid_scale) under every preset (a flat prior on log tau is improper).

Only interims use these; the final analysis is the arm x phenotype model on observed endpoints.
"""

from __future__ import annotations

import functools

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .base import DrawsPosterior, LookData
from .pymc_model import PymcEngine, PymcFit, PymcPrior, _cell_effects, _residual_sd, cell_weights, theta_from_cells
from .pymc_random import TrialRandom
from .visit_data import VISIT_MODELS, enough_data, model_arrays

ITP_KT = (-12.0, 6.0)  # k T's uniform prior (the exact engine's grid, longitudinal_models.ITP_KT)
COEF_SD = 1.0  # prior SD of the mvn's regression coefficients between visits (non-flat presets)


# --------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------


def _quad(c, m, width: int):
    """c' M c: c (blocks, arms, W), m (blocks, arms, W * W) flattened -> (blocks, arms).

    M stays flattened: a reshape would lose the static shape that lets one data row broadcast
    against many parameter rows in the fast path."""
    outer = (c[..., :, None] * c[..., None, :]).reshape((c.shape[0], c.shape[1], width * width))
    return (outer * m).sum(axis=-1)


def _patterns(mom: list, first: int, last: int):
    """The moment matrices of patterns first..last-1 summed, flattened (blocks, arms, W * W)."""
    return sum(mom[p] for p in range(first, last))


def _broadcast(d: dict, n_visits: int, alpha):
    """(counts, [moments per pattern]) broadcast to the parameters' rows first: the fast path evaluates
    many parameter rows against one data row, and only elementwise ops with the data see its shape."""
    zero = pt.zeros_like(alpha[..., :1])  # (blocks, arms, 1)
    return d["n"] + zero, [d[f"mom{p}"] + zero for p in range(n_visits + 1)]


def data_names(n_visits: int) -> tuple[str, ...]:
    """The model's data: counts per pattern, then one flattened moment matrix per pattern (separate data
    keep their static shapes, which the fast path's broadcast evaluation needs)."""
    return ("n",) + tuple(f"mom{p}" for p in range(n_visits + 1))


def _coefficients(entries: dict[int, object], cells, first_cell: int, zero):
    """Coefficient vectors (blocks, arms, W): `entries` {column: tensor or number broadcasting to `zero`
    (blocks, arms)}, `cells` (blocks, arms, F) the phenotype columns from first_cell. Shapes come from
    the parameters (the fast path evaluates many parameter rows against one data row)."""
    cols = [entries.get(j, 0.0) + zero for j in range(first_cell)]
    return pt.concatenate([pt.stack(cols, axis=-1), cells + zero[..., None]], axis=-1)


def _free(name: str, flat: bool, loc, scale, shape):
    return pm.Flat(name, shape=shape) if flat else pm.Normal(name, loc, scale, shape=shape)


def _scale(name: str, flat: bool, scale: float, shape):
    if flat:
        return pt.exp(pm.Flat(f"log_{name}", shape=shape))  # p(omega) ~ 1/omega
    return pm.HalfNormal(name, scale, shape=shape)


def _mvn_loglik(d, alpha, beta, s, prior: PymcPrior, n_arms: int, n_visits: int, n_cells: int, blocks):
    """The monotone factorisation's log likelihood per block x arm (module docstring)."""
    flat = prior.mu_dist == "flat"
    first_cell = n_visits + 2
    width = first_cell + n_cells
    n, mom = _broadcast(d, n_visits, alpha)
    loc = float(np.mean(prior.mu_locs(n_arms)))
    gamma = _free("gamma", flat, loc, prior.mu_scale, (blocks, n_arms, n_visits))
    omega = _scale("omega", flat, prior.resid_scale, (blocks, n_arms, n_visits))
    bcoef = _free("b", flat, 0.0, COEF_SD, (blocks, n_arms, n_visits))
    n_phi = n_visits * (n_visits - 1) // 2
    phi = _free("phi", flat, 0.0, COEF_SD, (blocks, n_arms, n_phi)) if n_phi else None
    total = 0.0
    at = 0
    zero = pt.zeros_like(gamma[..., 0])
    for j in range(n_visits):  # earlier visit j among every patient who reached it
        entries = {j: 1.0}
        const = -gamma[..., j]
        for l in range(j):
            entries[l] = -phi[..., at + l]
            const = const + phi[..., at + l] * gamma[..., l]
        at += j
        c = _coefficients(entries, const[..., None] * np.ones(n_cells), first_cell, zero)  # every phenotype column
        m_j = _patterns(mom, j, n_visits + 1)
        n_j = n[:, :, j:].sum(axis=2)
        total = total - n_j * pt.log(omega[..., j]) - _quad(c, m_j, width) / (2.0 * omega[..., j] ** 2)
    # the endpoint given every earlier visit, among completers
    entries = {l: -bcoef[..., l] for l in range(n_visits)}
    entries[n_visits] = 1.0
    if beta is not None:
        entries[n_visits + 1] = -beta[:, None]
    shift = (bcoef * gamma).sum(-1)[..., None]
    c = _coefficients(entries, shift - alpha, first_cell, zero)
    s_arm = s[..., 0]
    rss = _quad(c, _patterns(mom, n_visits, n_visits + 1), width)
    return total - n[:, :, n_visits] * pt.log(s_arm) - rss / (2.0 * s_arm**2)


def itp_shape(kt, weeks: np.ndarray):
    """f_k(t) at `weeks` (T the last) for k T = kt (blocks,): (blocks, visits + 1); t / T near k = 0."""
    rel = np.asarray(weeks, float) / weeks[-1]
    safe = pt.switch(pt.abs(kt) < 1e-6, 1e-6, kt)[:, None]
    return pt.expm1(safe * rel) / pt.expm1(safe)


def _itp_loglik(d, alpha, beta, lam, prior: PymcPrior, n_arms: int, weeks: np.ndarray, n_cells: int, blocks):
    """Per pattern, the marginal normal of the visits seen, covariance lambda^2 I + tau^2 f f' (module docstring)."""
    n_visits = len(weeks) - 1
    first_cell = n_visits + 2
    width = first_cell + n_cells
    n, mom = _broadcast(d, n_visits, alpha)
    kt = pm.Uniform("kt", *ITP_KT, shape=(blocks,))
    tau = pm.HalfNormal("tau", prior.resid_scale, shape=(blocks, n_arms))
    f = itp_shape(kt, weeks)  # (blocks, D)
    lam = lam[..., 0]
    lam2, tau2 = lam**2, tau**2
    zero = pt.zeros_like(tau)
    total = 0.0
    resid = []  # coefficient vectors of y_j - f_j (alpha + beta x)
    for j in range(n_visits + 1):
        fj = f[:, j][:, None]
        entries = {j: 1.0}
        if beta is not None:
            entries[n_visits + 1] = -(fj * beta[:, None])
        resid.append(_coefficients(entries, -fj[..., None] * alpha, first_cell, zero))
    for p in range(n_visits + 1):
        seen = list(range(p + 1)) if p < n_visits else list(range(n_visits + 1))
        m_p, n_p = _patterns(mom, p, p + 1), n[:, :, p]
        s1 = sum(_quad(resid[j], m_p, width) for j in seen)
        g = sum(f[:, j][:, None, None] * resid[j] for j in seen)
        a = sum(f[:, j] ** 2 for j in seen)[:, None]
        den = lam2 + tau2 * a
        total = total - n_p * ((len(seen) - 1) * pt.log(lam) + 0.5 * pt.log(den)) \
            - (s1 - tau2 * _quad(g, m_p, width) / den) / (2.0 * lam2)
    return total


def build_visit_model(mode: str, n_arms: int, n_cells: int, weeks: tuple[float, ...], prior: PymcPrior) -> pm.Model:
    """The visit-level model with a leading block axis (pymc_model.build_model's conventions)."""
    if mode not in VISIT_MODELS:
        raise ValueError(f"no visit-level PyMC model for '{mode}'")
    n_visits = len(weeks) - 1
    width = n_visits + 2 + n_cells
    with pm.Model() as model:
        d = {"n": pm.Data("n", np.zeros((1, n_arms, n_visits + 1)))}
        for name in data_names(n_visits)[1:]:
            d[name] = pm.Data(name, np.zeros((1, n_arms, width * width)))
        blocks = d["n"].shape[0]
        alpha = _cell_effects(prior, n_arms, n_cells, blocks)
        pm.Deterministic("alpha", alpha)
        beta = pm.Normal("beta", 0.0, prior.beta_scale, shape=(blocks,)) if prior.covariate else None
        s = _residual_sd(prior, n_arms, blocks)  # (blocks, arms, 1) or (blocks, 1, 1)
        s = s + pt.zeros_like(alpha[..., :1])  # (blocks, arms, 1) whether common or per arm
        if mode == "mvn":
            loglik = _mvn_loglik(d, alpha, beta, s, prior, n_arms, n_visits, n_cells, blocks)
        else:
            loglik = _itp_loglik(d, alpha, beta, s, prior, n_arms, np.asarray(weeks), n_cells, blocks)
        pm.Potential("loglik", loglik)
    return model


class VisitEngine(PymcEngine):
    """`PymcEngine` for a visit-level model: fitted to `LookData` with visits (fast path or NUTS), same `PymcFit`."""

    def __init__(self, mode: str, n_arms: int, n_phenotypes: int, weeks: tuple[float, ...], prior: PymcPrior,
                 method: str = "fast", *, draws: int = 4000, nuts_chains: int = 4, nuts_draws: int = 1000,
                 nuts_tune: int = 1000, nuts_target_accept: float = 0.9, cores: int = 2):
        if method not in ("fast", "nuts"):
            raise ValueError(f"method must be 'fast' or 'nuts', got {method!r}")
        self.mode, self.weeks = mode, tuple(weeks)
        self.n_arms, self.n_phenotypes, self.binary = n_arms, n_phenotypes, False
        self.prior, self.method, self.draws = prior, method, draws
        self.n_cells = n_phenotypes if prior.by_phenotype else 1
        self.nuts = dict(chains=nuts_chains, draws=nuts_draws, tune=nuts_tune, cores=cores,
                         target_accept=nuts_target_accept)
        self.model = build_visit_model(mode, n_arms, self.n_cells, self.weeks, prior)
        if method == "fast":
            from .pymc_fast import FastPath

            self._fast = FastPath(self.model, n_arms, data_names(len(self.weeks) - 1), prior.sigma_scale)
        else:
            import nutpie

            self._nutpie = nutpie.compile_pymc_model(self.model)

    def fit(self, data: LookData, rng) -> PymcFit:
        """Posterior draws of theta for every trial of `data` (each must pass `enough_data`)."""
        self._check(data)
        stats = data.visits
        if stats.weeks != self.weeks:
            raise ValueError(f"visit weeks {stats.weeks} but the engine was built for {self.weeks}")
        if not enough_data(stats).all():
            raise ValueError(f"every arm needs {stats.n_visits + 3} completers for the visit-level model")
        rng = TrialRandom(rng, data.n.shape[0])
        arrays = model_arrays(stats, self.n_cells)
        if self.method == "fast":
            rows, raw = self._fast.fit(arrays, self.draws, rng)
            from .pymc_model import fast_diagnostics

            alpha, diagnostics = self._fast.alpha(rows, arrays), fast_diagnostics(raw)
        else:
            alpha, diagnostics = self._fit_nuts(arrays, rng)
        theta, cells = theta_from_cells(alpha, cell_weights(data, self.prior), False)
        if not self.prior.by_phenotype:
            cells = np.repeat(cells, self.n_phenotypes, axis=-1)
        return PymcFit(DrawsPosterior(theta), cells, diagnostics)


def visit_engine(mode: str, n_arms: int, n_phenotypes: int, weeks: tuple[float, ...], preset: str,
                 method: str = "fast", draws: int = 4000) -> VisitEngine:
    """The compiled visit-level engine of a design, built once per process."""
    return _cached_engine(mode, n_arms, n_phenotypes, tuple(float(w) for w in weeks), preset, method, draws)


@functools.lru_cache(maxsize=8)
def _cached_engine(mode, n_arms, n_phenotypes, weeks, preset, method, draws) -> VisitEngine:
    return VisitEngine(mode, n_arms, n_phenotypes, weeks, PymcPrior.preset(preset, False), method, draws=draws)
