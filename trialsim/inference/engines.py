"""Choose the inference engine of a design: name -> the callables the look loop uses.

An inference callable takes (data, global trial indices, relevant arms) and
returns a `Posterior`. It also counts, per trial, its model fits and the fits
whose diagnostics flag a problem (`fit_counts`), for the records.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..cohort import Stream, trial_stream
from ..scenario.schema import Scenario
from .base import DrawsPosterior, LookData, Posterior
from .exact import FLAT, ConjugatePrior, exact_posterior

FAST_DRAWS = 4000
_PYMC_ENGINES: dict[tuple, object] = {}  # built and compiled once per worker process


class Inference:
    """Base: per-trial fit bookkeeping shared by the engines."""

    def __init__(self) -> None:
        self.fits: dict[int, int] = {}
        self.problems: dict[int, int] = {}

    def fit_counts(self, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fits, flagged fits) per trial."""
        return (np.array([self.fits.get(int(t), 0) for t in trials], np.int32),
                np.array([self.problems.get(int(t), 0) for t in trials], np.int32))

    def __call__(self, data: LookData, trials: np.ndarray, relevant: np.ndarray) -> Posterior:
        raise NotImplementedError


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
    """The PyMC arm x phenotype model (fast path or NUTS), one random stream per trial and design."""

    def __init__(self, engine, seed: int, design: str):
        super().__init__()
        self.engine, self.seed = engine, seed
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
        if ok.any():
            fitted = self.engine.fit(data.take(ok), [self._rng(int(t)) for t in trials[ok]])
            draws[ok], cells[ok] = fitted.posterior.draws, fitted.by_phenotype
            for t, problem in zip(trials[ok], fitted.diagnostics["problem"]):
                self.fits[int(t)] = self.fits.get(int(t), 0) + 1
                self.problems[int(t)] = self.problems.get(int(t), 0) + int(bool(problem))
        return PartialDrawsPosterior(draws, ok, cells)


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


def conjugate_prior(scenario: Scenario, design: str) -> ConjugatePrior:
    """The design's exact-engine prior, on the engine's internal higher-is-better scale."""
    prior = scenario.designs[design].analysis.prior
    flip = scenario.endpoint.lower_is_better
    if getattr(prior, "type", None) == "beta":
        return ConjugatePrior(a=prior.b, b=prior.a) if flip else ConjugatePrior(a=prior.a, b=prior.b)
    if getattr(prior, "type", None) == "normal_gamma":
        return ConjugatePrior(mean=-prior.mean if flip else prior.mean, n0=prior.n0, shape=prior.shape, rate=prior.rate)
    return FLAT


def pymc_engine(scenario: Scenario, design: str, method: str = "fast"):
    """The compiled PyMC engine for a design's model, cached per process."""
    from .pymc_model import PymcEngine, PymcPrior

    preset = scenario.designs[design].analysis.prior
    preset = "exact" if preset == "flat" or not isinstance(preset, str) else preset
    binary = scenario.endpoint.binary
    key = (len(scenario.arms), len(scenario.population.phenotypes), binary, preset, method)
    if key not in _PYMC_ENGINES:
        prior = PymcPrior.preset(preset, binary)
        _PYMC_ENGINES[key] = PymcEngine(key[0], key[1], binary, prior, method, draws=FAST_DRAWS)
    return _PYMC_ENGINES[key]


def make_inference(scenario: Scenario, design: str, override: str | None, seed: int) -> Inference:
    """The inference of a design (its analysis.engine, or `override`)."""
    engine = override or scenario.designs[design].analysis.engine
    if engine == "exact":
        return ExactInference(conjugate_prior(scenario, design))
    if engine == "pymc":
        return PymcInference(pymc_engine(scenario, design), seed, design)
    raise ValueError(f"unknown inference engine '{engine}'")
