"""Choose the inference engine of a design: name -> callables the engine uses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scenario.schema import Scenario
from .base import LookData, Posterior
from .exact import exact_posterior

# (data, global trial indices, relevant arms (trials, arms)) -> posterior
Inference = Callable[[LookData, np.ndarray, np.ndarray], Posterior]


def _exact(data: LookData, trials: np.ndarray, relevant: np.ndarray) -> Posterior:
    return exact_posterior(data, relevant)


def make_inference(scenario: Scenario, design: str, override: str | None, seed: int) -> tuple[Inference, Inference | None]:
    """(inference for decisions, inference for phenotype-stratified allocation or None)."""
    engine = override or scenario.designs[design].analysis.engine
    if engine == "exact":
        return _exact, None
    raise ValueError(f"unknown inference engine '{engine}'")
