"""Choose the inference engine of a design: name -> callables the engine uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from ..scenario.schema import Scenario
from .base import LookData, Posterior
from .exact import FLAT, ConjugatePrior, exact_posterior

# (data, global trial indices, relevant arms (trials, arms)) -> posterior
Inference = Callable[[LookData, np.ndarray, np.ndarray], Posterior]


def _exact(data: LookData, trials: np.ndarray, relevant: np.ndarray, prior: ConjugatePrior) -> Posterior:
    return exact_posterior(data, relevant, prior)


def conjugate_prior(scenario: Scenario, design: str) -> ConjugatePrior:
    """The design's exact-engine prior, on the engine's internal higher-is-better scale."""
    prior = scenario.designs[design].analysis.prior
    flip = scenario.endpoint.lower_is_better
    if getattr(prior, "type", None) == "beta":
        return ConjugatePrior(a=prior.b, b=prior.a) if flip else ConjugatePrior(a=prior.a, b=prior.b)
    if getattr(prior, "type", None) == "normal_gamma":
        return ConjugatePrior(mean=-prior.mean if flip else prior.mean, n0=prior.n0, shape=prior.shape, rate=prior.rate)
    return FLAT


def make_inference(scenario: Scenario, design: str, override: str | None, seed: int) -> tuple[Inference, Inference | None]:
    """(inference for decisions, inference for phenotype-stratified allocation or None)."""
    engine = override or scenario.designs[design].analysis.engine
    if engine == "exact":
        prior = conjugate_prior(scenario, design)
        return partial(_exact, prior=prior), None
    raise ValueError(f"unknown inference engine '{engine}'")
