"""Choose the inference engine of a design: its analysis plan -> the callable the look loop uses."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..rng import Stream, trial_stream
from .base import DrawsPosterior, Inference, LookData, Posterior
from .exact import exact_posterior
from .priors import FLAT, ConjugatePrior

FAST_DRAWS = 4000
ENGINES = ("exact", "pymc", "frequentist")
_PYMC_ENGINES: dict[tuple, object] = {}  # built and compiled once per worker process


@dataclass(frozen=True)
class AnalysisPlan:
    """How a design analyses its data (compile.py builds it from the design's `analysis`)."""

    engine: str  # one of ENGINES
    conjugate: ConjugatePrior = FLAT  # exact engine: the prior on the internal (higher-is-better) scale
    preset: str = "exact"  # pymc engine: the prior preset ("exact" = independent flat arms)
    binary: bool = False  # the endpoint's family is Beta (rates) rather than normal (means)
    n_arms: int = 2
    n_phenotypes: int = 1
    variance: str = "pooled"  # frequentist engine: SE of the difference ("pooled" or "unpooled")
    missing: str = "complete_case"  # visit model: patients lost before the endpoint (complete_case, locf, nonresponder)
    screen_failures: str = "observed"  # visit model: patients failing their arm's screening trial (observed, nonresponder, excluded)
    longitudinal: str = "none"  # interims with the pending patients' earlier visits (design/longitudinal.py)
    early_visits: tuple[int, ...] = ()  # indices into the visit model's visits the interims use


class ExactInference(Inference):
    """Conjugate posteriors, probabilities by quadrature: nothing to diagnose."""

    def __init__(self, prior: ConjugatePrior = FLAT):
        super().__init__()
        self.prior = prior

    def __call__(self, data: LookData, trials: np.ndarray, relevant: np.ndarray) -> Posterior:
        return exact_posterior(data, relevant, self.prior)


@dataclass(frozen=True)
class PartialDrawsPosterior(DrawsPosterior):
    """Draws for the trials that could be fitted; `ok` marks them (the rest hold NaN).

    `cells` holds the arm x phenotype draws (trials, draws, arms, phenotypes) for
    phenotype-stratified allocation.
    """

    ok: np.ndarray = field(default_factory=lambda: np.ones(0, bool))
    cells: np.ndarray | None = None

    def proper(self, active: np.ndarray) -> np.ndarray:
        return self.ok.copy()

    def take(self, rows: np.ndarray) -> "PartialDrawsPosterior":
        return PartialDrawsPosterior(self.draws[rows], self.ok[rows], None if self.cells is None else self.cells[rows])


class PymcInference(Inference):
    """The PyMC arm x phenotype model (fast path or NUTS), one random stream per trial and design.

    With `visit_model` (itp or mvn), interim data carrying the patients' visits (`LookData.visits`)
    are fitted by the visit-level model where a trial has pending patients with earlier visits and
    enough completers per arm; other trials get the arm x phenotype model of the combined statistics.
    """

    def __init__(self, engine, seed: int, design: str, visit_model: str | None = None, preset: str = "exact"):
        super().__init__()
        self.engine, self.seed = engine, seed
        self.visit_model, self.preset = visit_model, preset
        self.design_key = zlib.crc32(design.encode())  # stable across runs and processes
        self.rngs: dict[int, np.random.Generator] = {}

    def _rng(self, trial: int) -> np.random.Generator:
        if trial not in self.rngs:
            self.rngs[trial] = trial_stream(self.seed, trial, Stream.INFERENCE, self.design_key)
        return self.rngs[trial]

    def __call__(self, data: LookData, trials: np.ndarray, relevant: np.ndarray) -> Posterior:
        ok = proper_trials(data, self.engine.prior)
        n_trials, n_arms = data.n.shape[:2]
        draws = np.full((n_trials, self.engine.draws, n_arms), np.nan)
        cells = np.full(draws.shape + (data.n.shape[2],), np.nan)
        visits = data.visits if self.visit_model is not None else None
        by_visits = np.zeros_like(ok) if visits is None else ok & _visit_level(visits)
        for rows, engine, look in ((ok & ~by_visits, self.engine, data),
                                   (by_visits, self._visit_engine(visits, n_arms, data.n.shape[2]), data)):
            if not rows.any():
                continue
            fitted = engine.fit(look.take(rows), [self._rng(int(t)) for t in trials[rows]])
            draws[rows], cells[rows] = fitted.posterior.draws, fitted.by_phenotype
            for t, problem in zip(trials[rows], fitted.diagnostics["problem"]):
                self.count_fit(int(t), bool(problem))
        return PartialDrawsPosterior(draws, ok, cells)

    def _visit_engine(self, visits, n_arms: int, n_phenotypes: int):
        if visits is None:
            return None
        from .pymc_visits import visit_engine

        return visit_engine(self.visit_model, n_arms, n_phenotypes, visits.weeks, self.preset, draws=self.engine.draws)

    def by_phenotype(self, post: Posterior, data: LookData, trials: np.ndarray, active: np.ndarray) -> Posterior:
        """From the model's cell draws: partial pooling across phenotypes."""
        c = post.cells  # (trials, draws, arms, phenotypes)
        return DrawsPosterior(np.moveaxis(c, 3, 1).reshape(-1, c.shape[1], c.shape[2]))


def _visit_level(visits) -> np.ndarray:
    """(trials,) the visit-level model applies: some pending patient has an earlier visit (else today's
    analysis, unchanged) and every arm has the completers it needs."""
    from .visit_data import enough_data

    return enough_data(visits) & (visits.n[..., :-1].sum(axis=(1, 2)) > 0)


def proper_trials(data: LookData, prior) -> np.ndarray:
    """Trials whose posterior is proper under `prior` (improper priors need enough data)."""
    from .pymc_model import model_data

    arrays = model_data(data, prior)
    n = arrays["n"]
    ok = np.ones(n.shape[0], bool)
    if prior.mu_dist == "flat":
        cells = (arrays["y"] > 0) & (arrays["y"] < n) if data.binary else n >= 1
        ok &= cells.all(axis=(1, 2))
    if not data.binary and prior.resid_prior == "jeffreys":
        per = n.sum(axis=-1) if prior.resid_sd == "per_arm" else n.sum(axis=(1, 2))[:, None]
        ok &= (per >= 2).all(axis=1)
    return ok


def pymc_engine(plan: AnalysisPlan, method: str = "fast"):
    """The compiled PyMC engine for a design's model, cached per process."""
    from .pymc_model import PymcEngine, PymcPrior

    key = (plan.n_arms, plan.n_phenotypes, plan.binary, plan.preset, method)
    if key not in _PYMC_ENGINES:
        prior = PymcPrior.preset(plan.preset, plan.binary)
        _PYMC_ENGINES[key] = PymcEngine(plan.n_arms, plan.n_phenotypes, plan.binary, prior, method, draws=FAST_DRAWS)
    return _PYMC_ENGINES[key]


def make_inference(plan: AnalysisPlan, seed: int, design: str) -> Inference:
    """The inference callable of a design."""
    if plan.engine == "exact":
        return ExactInference(plan.conjugate)
    if plan.engine == "pymc":
        from .visit_data import VISIT_MODELS

        visit_model = plan.longitudinal if plan.longitudinal in VISIT_MODELS and plan.early_visits else None
        return PymcInference(pymc_engine(plan), seed, design, visit_model, plan.preset)
    if plan.engine == "frequentist":
        from .frequentist import FrequentistInference

        return FrequentistInference(plan.variance)
    raise ValueError(f"unknown inference engine '{plan.engine}'")
