"""PyMC arm x phenotype models for interim analyses, with a fast path and full NUTS.

Models (one PyMC model per endpoint, every array with a leading *block* axis so
the same model holds one trial for NUTS or many trials at once for the fast
path; blocks are independent):

* responder endpoint: ``logit p[a, f] = mu[a] + sigma[a] * z[a, f]``
  (non-centred), likelihood ``Binomial(n[a, f], p[a, f])`` on the counts.
* continuous endpoint: ``y ~ Normal(alpha[a, f] + beta * (x - xbar), s)`` with
  ``alpha[a, f] = mu[a] + sigma[a] * z[a, f]``, a common residual SD ``s`` and
  ``xbar`` the trial's mean baseline among patients with data. The likelihood
  is written exactly from the cell sufficient statistics (cell means and
  within-cell sums of squares and cross-products), so its cost does not grow
  with the number of patients.

``theta[a]``, the per-arm parameter the decisions use, is the prevalence-
weighted average of the cell parameters: inverse-logit cell probabilities for
the responder endpoint, mean improvement at ``xbar`` for the continuous one.

Inference (`PymcEngine`):

* ``method="fast"`` (default): nested Laplace proposal + Pareto-smoothed
  importance sampling against the model's exact log density (see
  `pymc_fast`); its error check is the Pareto k of the importance weights.
* ``method="nuts"``: nutpie NUTS of the same compiled PyMC model, one trial at
  a time, data swapped with ``with_data``; R-hat, bulk ESS and divergences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Literal

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
from scipy import special

from .base import DrawsPosterior, LookData
from .pymc_random import TrialRandom

LOGIT_SHAM_RESPONDER = -1.1  # logit(0.25): >=50% responders on implanted sham (clbp.md, ~0.27)
SHAM_IMPROVEMENT = 2.0  # NRS points: nonspecific improvement on sham (clbp.md, 1.0-2.2)

# Diagnostic thresholds (flags, not corrections)
RHAT_MAX = 1.01
ESS_MIN = 400.0
PARETO_K_MAX = 0.7  # PSIS: above 0.7 importance-sampling estimates are unreliable
TAIL_MASS_MAX = 0.05  # fast path: sigma posterior mass beyond the grid (grid misplaced)


@dataclass(frozen=True)
class PymcPrior:
    """Priors and structure of the arm x phenotype model.

    Scales are on the logit scale for the responder endpoint and in NRS points
    of improvement for the continuous one. Fields for the continuous endpoint
    (covariate, beta_scale, resid_*) are ignored for the responder endpoint.

    * ``mu``: arm-level effect, ``mu_dist(mu_loc, mu_scale)``; ``mu_loc`` is a
      float or one value per arm. ``mu_dist="logistic"`` with loc 0, scale 1 is
      the uniform (Beta(1, 1)) prior on a probability; ``"flat"`` is improper.
    * ``pooling="partial"``: phenotype effects within an arm are
      ``mu[a] + sigma[a] z[a, f]``, ``sigma[a] ~ HalfNormal(sigma_scale)``, z
      standard normal. ``"none"``: every cell gets the ``mu`` prior itself.
    * ``by_phenotype=False`` ignores phenotypes (one cell per arm, data pooled);
      requires ``pooling="none"``.
    * continuous: ``beta ~ Normal(0, beta_scale)`` slope on the centred
      baseline (``covariate=False`` drops it); residual SD common to all arms
      or per arm, ``HalfNormal(resid_scale)`` or ``"jeffreys"`` (flat on log s).

    Presets (`PymcPrior.preset`), arms a priori independent in all of them:

    * ``vague``: mu ~ N(0, 2.5) logit / N(0, 5) NRS; sigma ~ HalfNormal(0.5)
      logit / HalfNormal(1) NRS; beta ~ N(0, 1); s ~ HalfNormal(5). Weakly
      informative: covers responder rates 1-99% and any plausible change.
    * ``sceptical``: every arm centred on the same sham-like value (25%
      responders, logit -1.1; 2 NRS points of improvement) with a small spread
      (0.5 logit, 0.5 NRS), so a priori arm differences are small (SD 0.7),
      and tighter phenotype heterogeneity (HalfNormal(0.25) logit, 0.5 NRS).
    * ``informative``: the same centre with moderate spread (1.0 logit,
      1.5 NRS), sigma ~ HalfNormal(0.5) logit / HalfNormal(0.75) NRS,
      beta ~ N(0, 0.5); override ``mu_loc`` per arm with historical data.
    * ``exact``: independent arms, no phenotypes, no covariate; Beta(1, 1) on
      the responder rate (logistic logit prior), or flat on (mean, log SD) per
      arm for the continuous endpoint: the conjugate posteriors of the exact
      engine (`exact.py`).
    """

    mu_loc: float | tuple[float, ...] = 0.0
    mu_scale: float = 2.5
    mu_dist: Literal["normal", "logistic", "flat"] = "normal"
    pooling: Literal["partial", "none"] = "partial"
    sigma_scale: float = 0.5
    by_phenotype: bool = True
    covariate: bool = True
    beta_scale: float = 1.0
    resid_sd: Literal["common", "per_arm"] = "common"
    resid_prior: Literal["halfnormal", "jeffreys"] = "halfnormal"
    resid_scale: float = 5.0

    def __post_init__(self) -> None:
        problems = []
        if self.mu_dist not in ("normal", "logistic", "flat"):
            problems.append(f"mu_dist: unknown {self.mu_dist!r}")
        if self.pooling not in ("partial", "none"):
            problems.append(f"pooling: unknown {self.pooling!r}")
        if self.resid_sd not in ("common", "per_arm"):
            problems.append(f"resid_sd: unknown {self.resid_sd!r}")
        if self.resid_prior not in ("halfnormal", "jeffreys"):
            problems.append(f"resid_prior: unknown {self.resid_prior!r}")
        for name in ("mu_scale", "sigma_scale", "beta_scale", "resid_scale"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.pooling == "partial" and not self.by_phenotype:
            problems.append("pooling: 'partial' needs by_phenotype=True")
        if problems:
            raise ValueError("invalid PymcPrior: " + "; ".join(problems))

    @classmethod
    def preset(cls, name: str, binary: bool, **overrides) -> "PymcPrior":
        """A named preset ('vague', 'sceptical', 'informative', 'exact') with overrides."""
        table = _PRESETS_BINARY if binary else _PRESETS_CONTINUOUS
        if name not in table:
            raise ValueError(f"unknown prior preset {name!r}; choose one of {sorted(table)}")
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown PymcPrior fields {sorted(unknown)}")
        return replace(table[name], **overrides)

    def mu_locs(self, n_arms: int) -> np.ndarray:
        """mu_loc as one value per arm."""
        loc = np.atleast_1d(np.asarray(self.mu_loc, dtype=float))
        if loc.size == 1:
            return np.full(n_arms, loc[0])
        if loc.size != n_arms:
            raise ValueError(f"mu_loc has {loc.size} values for {n_arms} arms")
        return loc


_PRESETS_BINARY = {
    "vague": PymcPrior(mu_loc=0.0, mu_scale=2.5, sigma_scale=0.5),
    "sceptical": PymcPrior(mu_loc=LOGIT_SHAM_RESPONDER, mu_scale=0.5, sigma_scale=0.25),
    "informative": PymcPrior(mu_loc=LOGIT_SHAM_RESPONDER, mu_scale=1.0, sigma_scale=0.5),
    "exact": PymcPrior(mu_loc=0.0, mu_scale=1.0, mu_dist="logistic", pooling="none", by_phenotype=False),
}
_PRESETS_CONTINUOUS = {
    "vague": PymcPrior(mu_loc=0.0, mu_scale=5.0, sigma_scale=1.0, beta_scale=1.0, resid_scale=5.0),
    "sceptical": PymcPrior(mu_loc=SHAM_IMPROVEMENT, mu_scale=0.5, sigma_scale=0.5, beta_scale=1.0),
    "informative": PymcPrior(mu_loc=SHAM_IMPROVEMENT, mu_scale=1.5, sigma_scale=0.75, beta_scale=0.5),
    "exact": PymcPrior(
        mu_dist="flat", pooling="none", by_phenotype=False, covariate=False,
        resid_sd="per_arm", resid_prior="jeffreys",
    ),
}


# --------------------------------------------------------------------------
# Data: LookData -> the model's data arrays (blocks, arms, cells)
# --------------------------------------------------------------------------

BINARY_DATA = ("n", "y")
CONTINUOUS_DATA = ("n", "ybar", "xbar", "ss_yy", "ss_xy", "ss_xx")


def data_names(binary: bool) -> tuple[str, ...]:
    return BINARY_DATA if binary else CONTINUOUS_DATA


def cell_weights(data: LookData, prior: PymcPrior) -> np.ndarray:
    """Weights of the model's cells in theta: prevalences (normalised) or [1]."""
    if not prior.by_phenotype:
        return np.ones(1)
    w = np.asarray(data.prevalence, dtype=float)
    return w / w.sum()


def model_data(data: LookData, prior: PymcPrior) -> dict[str, np.ndarray]:
    """The model's data arrays, each (trials, arms, cells), from sufficient statistics."""
    stats = [data.n, data.sum_y, data.sum_y2, data.sum_x, data.sum_x2, data.sum_xy]
    if not prior.by_phenotype:
        stats = [s.sum(axis=-1, keepdims=True) for s in stats]
    n, sy, sy2, sx, sx2, sxy = (np.asarray(s, dtype=float) for s in stats)
    if data.binary:
        return {"n": n, "y": sy}
    total_n = n.sum(axis=(1, 2))
    # the centring point: the trial's mean baseline (0 for a trial without data)
    xbar_trial = np.divide(sx.sum(axis=(1, 2)), total_n, out=np.zeros_like(total_n), where=total_n > 0)
    safe_n = np.where(n > 0, n, 1.0)
    ybar, xbar = sy / safe_n, sx / safe_n
    # within-cell sums; clipped at 0 against cancellation in sum_y2 - n ybar^2
    ss_yy = np.maximum(sy2 - n * ybar**2, 0.0)
    ss_xx = np.maximum(sx2 - n * xbar**2, 0.0)
    ss_xy = sxy - n * xbar * ybar
    return {
        "n": n, "ybar": ybar, "xbar": xbar - xbar_trial[:, None, None],
        "ss_yy": ss_yy, "ss_xy": ss_xy, "ss_xx": ss_xx,
    }


def check_proper(data: dict[str, np.ndarray], binary: bool, prior: PymcPrior) -> None:
    """Raise when an improper prior meets too little data for a proper posterior."""
    n = data["n"]
    if prior.mu_dist == "flat":
        # flat on the logit needs a success and a failure; flat on a mean needs a patient
        ok = (data["y"] > 0) & (data["y"] < n) if binary else n >= 1
        if not ok.all():
            need = "0 < responders < n" if binary else "n >= 1"
            raise ValueError(f"flat mu prior needs {need} in every cell; {int((~ok).sum())} cells fail")
    if not binary and prior.resid_prior == "jeffreys":
        per = n.sum(axis=-1) if prior.resid_sd == "per_arm" else n.sum(axis=(1, 2))
        if (per < 2).any():
            raise ValueError("jeffreys residual SD prior needs >= 2 patients per residual SD")


# --------------------------------------------------------------------------
# The PyMC model
# --------------------------------------------------------------------------


def _mu_prior(name: str, prior: PymcPrior, loc: np.ndarray, shape) -> pt.TensorVariable:
    if prior.mu_dist == "normal":
        return pm.Normal(name, loc, prior.mu_scale, shape=shape)
    if prior.mu_dist == "logistic":
        return pm.Logistic(name, loc, prior.mu_scale, shape=shape)
    return pm.Flat(name, shape=shape)


def _cell_effects(prior: PymcPrior, n_arms: int, n_cells: int, blocks) -> pt.TensorVariable:
    """alpha[block, arm, cell] on the link scale (logit or NRS improvement)."""
    loc = prior.mu_locs(n_arms)
    if prior.pooling == "none":
        return _mu_prior("alpha_cell", prior, loc[:, None], (blocks, n_arms, n_cells))
    mu = _mu_prior("mu", prior, loc, (blocks, n_arms))
    sigma = pm.HalfNormal("sigma", prior.sigma_scale, shape=(blocks, n_arms))
    z = pm.Normal("z", 0.0, 1.0, shape=(blocks, n_arms, n_cells))
    return mu[..., None] + sigma[..., None] * z


def _residual_sd(prior: PymcPrior, n_arms: int, blocks) -> pt.TensorVariable:
    """Residual SD broadcastable to (blocks, arms, cells)."""
    shape = (blocks, n_arms) if prior.resid_sd == "per_arm" else (blocks,)
    if prior.resid_prior == "jeffreys":
        log_s = pm.Flat("log_s", shape=shape)  # p(s) ~ 1/s
        s = pt.exp(log_s)
    else:
        s = pm.HalfNormal("s", prior.resid_scale, shape=shape)
    return s[..., None] if prior.resid_sd == "per_arm" else s[:, None, None]


def _continuous_loglik(d: dict, alpha, prior: PymcPrior, n_arms: int, blocks) -> pt.TensorVariable:
    s = _residual_sd(prior, n_arms, blocks)
    resid_mean = d["ybar"] - alpha
    rss = d["ss_yy"]
    if prior.covariate:
        beta = pm.Normal("beta", 0.0, prior.beta_scale, shape=(blocks,))[:, None, None]
        resid_mean = resid_mean - beta * d["xbar"]
        rss = rss - 2.0 * beta * d["ss_xy"] + beta**2 * d["ss_xx"]
    rss = rss + d["n"] * resid_mean**2
    return -d["n"] * (pt.log(s) + 0.5 * np.log(2 * np.pi)) - rss / (2.0 * s**2)


def build_model(n_arms: int, n_cells: int, binary: bool, prior: PymcPrior) -> pm.Model:
    """The arm x phenotype model with a leading block axis sized by the data."""
    names = data_names(binary)
    with pm.Model() as model:
        d = {name: pm.Data(name, np.zeros((1, n_arms, n_cells))) for name in names}
        blocks = d["n"].shape[0]
        alpha = _cell_effects(prior, n_arms, n_cells, blocks)
        pm.Deterministic("alpha", alpha)
        if binary:
            # y log p + (n - y) log(1 - p) = y alpha - n log(1 + e^alpha); binomial coefficient dropped
            loglik = d["y"] * alpha - d["n"] * pt.softplus(alpha)
        else:
            loglik = _continuous_loglik(d, alpha, prior, n_arms, blocks)
        pm.Potential("loglik", loglik)
    return model


def theta_from_cells(alpha: np.ndarray, weights: np.ndarray, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """(theta per arm, cell parameters) from alpha (..., arms, cells) on the link scale."""
    cells = special.expit(alpha) if binary else alpha
    return np.einsum("...f,f->...", cells, weights), cells


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PymcFit:
    """Result of one interim fit of a batch of trials.

    posterior: draws of theta (trials, draws, arms).
    by_phenotype: draws of the cell parameters (trials, draws, arms, phenotypes)
        on theta's scale; with ``by_phenotype=False`` every phenotype gets the
        arm's theta.
    diagnostics: arrays (trials,): rhat_max, ess_min (bulk ESS for NUTS, ESS
        of the importance weights on the fast path), divergences (NUTS; NaN on
        the fast path), pareto_k, tail_mass (fast path; NaN for NUTS),
        converged (fast path's Newton steps), problem (any check failed).
    """

    posterior: DrawsPosterior
    by_phenotype: np.ndarray
    diagnostics: dict[str, np.ndarray]

    def phenotype_posterior(self, phenotype: int) -> DrawsPosterior:
        """The posterior of the cell parameters of one phenotype, as a DrawsPosterior."""
        return DrawsPosterior(self.by_phenotype[..., phenotype])


class PymcEngine:
    """Build the model once, then fit every look's data (`fit`).

    method "fast": nested Laplace + importance sampling (`pymc_fast`), draws
    per trial ``draws``; "nuts": nutpie NUTS with ``nuts_chains`` x
    ``nuts_draws`` draws after ``nuts_tune`` tuning steps, one trial at a time.
    """

    def __init__(
        self,
        n_arms: int,
        n_phenotypes: int,
        binary: bool,
        prior: PymcPrior,
        method: Literal["fast", "nuts"] = "fast",
        *,
        draws: int = 4000,
        nuts_chains: int = 4,
        nuts_draws: int = 1000,
        nuts_tune: int = 1000,
        nuts_target_accept: float = 0.9,
        cores: int = 2,
    ):
        if method not in ("fast", "nuts"):
            raise ValueError(f"method must be 'fast' or 'nuts', got {method!r}")
        if draws < 1:
            raise ValueError(f"draws must be >= 1, got {draws}")
        prior.mu_locs(n_arms)  # validates a per-arm mu_loc
        self.n_arms, self.n_phenotypes, self.binary = n_arms, n_phenotypes, binary
        self.prior, self.method = prior, method
        self.n_cells = n_phenotypes if prior.by_phenotype else 1
        self.draws = draws
        self.nuts = dict(
            chains=nuts_chains, draws=nuts_draws, tune=nuts_tune, cores=cores, target_accept=nuts_target_accept
        )
        self.model = build_model(n_arms, self.n_cells, binary, prior)
        if method == "fast":
            from .pymc_fast import FastPath

            self._fast = FastPath(self.model, n_arms, data_names(binary), prior.sigma_scale)
        else:
            import nutpie

            self._nutpie = nutpie.compile_pymc_model(self.model)

    def fit(self, data: LookData, rng: np.random.Generator | Sequence[np.random.Generator]) -> PymcFit:
        """Posterior draws for every trial of `data` (shapes (trials, arms, phenotypes)).

        rng: one generator for the batch, or one per trial; with one per trial
        a trial's draws do not depend on the other trials in the batch.
        """
        self._check(data)
        rng = TrialRandom(rng, data.n.shape[0])
        arrays = model_data(data, self.prior)
        check_proper(arrays, self.binary, self.prior)
        if self.method == "fast":
            rows, raw = self._fast.fit(arrays, self.draws, rng)
            alpha, diagnostics = self._fast.alpha(rows, arrays), fast_diagnostics(raw)
        else:
            alpha, diagnostics = self._fit_nuts(arrays, rng)
        theta, cells = theta_from_cells(alpha, cell_weights(data, self.prior), self.binary)
        if not self.prior.by_phenotype:
            cells = np.repeat(cells, self.n_phenotypes, axis=-1)
        return PymcFit(DrawsPosterior(theta), cells, diagnostics)

    def _check(self, data: LookData) -> None:
        if data.n.ndim != 3 or data.n.shape[0] == 0:
            raise ValueError(f"LookData needs shape (trials >= 1, arms, phenotypes), got {data.n.shape}")
        expected = (self.n_arms, self.n_phenotypes)
        if data.n.shape[1:] != expected:
            raise ValueError(f"LookData has (arms, phenotypes) {data.n.shape[1:]}, engine expects {expected}")
        if data.binary != self.binary:
            raise ValueError(f"LookData.binary={data.binary} but the engine was built for binary={self.binary}")

    # -- NUTS reference ------------------------------------------------------
    def _fit_nuts(self, arrays: dict[str, np.ndarray], rng: TrialRandom):
        import nutpie

        n_trials = arrays["n"].shape[0]
        alphas, diags = [], []
        for i, seed in enumerate(rng.seeds()):
            compiled = self._nutpie.with_data(**{k: v[i : i + 1] for k, v in arrays.items()})
            idata = nutpie.sample(compiled, progress_bar=False, seed=int(seed), **self.nuts)
            alpha = idata.posterior["alpha"].values  # (chain, draw, 1, arms, cells)
            alphas.append(alpha.reshape(-1, *alpha.shape[-2:]))
            diags.append(nuts_diagnostics(idata))
        diagnostics = {k: np.array([d[k] for d in diags]) for k in diags[0]}
        return np.stack(alphas), diagnostics


def fast_diagnostics(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The fast path's error checks as a problem flag per trial (R-hat, divergences: NaN)."""
    finite = np.isfinite(raw["pareto_k"]) & np.isfinite(raw["ess_min"])
    problem = (
        ~finite | (raw["pareto_k"] > PARETO_K_MAX) | (raw["ess_min"] < ESS_MIN)
        | ~raw["converged"] | (raw["tail_mass"] > TAIL_MASS_MAX)
    )
    nan = np.full(problem.shape, np.nan)
    return {"rhat_max": nan, "ess_min": raw["ess_min"], "divergences": nan.copy(), "pareto_k": raw["pareto_k"],
            "tail_mass": raw["tail_mass"], "converged": raw["converged"], "problem": problem}


def nuts_diagnostics(idata: az.InferenceData) -> dict[str, float | bool]:
    """Worst R-hat, smallest bulk ESS and divergences over every stored quantity."""
    post = idata.posterior
    rhat = az.rhat(post)
    ess = az.ess(post, method="bulk")
    rhat_max = float(max(np.nanmax(rhat[v].values) for v in rhat.data_vars))
    ess_min = float(min(np.nanmin(ess[v].values) for v in ess.data_vars))
    divergences = int(idata.sample_stats["diverging"].values.sum())
    problem = rhat_max > RHAT_MAX or ess_min < ESS_MIN or divergences > 0
    return {
        "rhat_max": rhat_max, "ess_min": ess_min, "divergences": float(divergences),
        "pareto_k": np.nan, "tail_mass": np.nan, "converged": True, "problem": bool(problem),
    }
