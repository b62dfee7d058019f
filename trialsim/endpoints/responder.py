"""Responder: NRS reduced by at least a share of baseline (e.g. 50%); higher is better."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..effects import EffectModel
from ..population import Population
from .base import Endpoint, Patients
from .nrs_change import clipped_change, per_baseline


@dataclass(frozen=True)
class Responder(Endpoint):
    name = "responder"
    family = "beta"
    draw = "normal"
    truth_fields = ("nonspecific",)
    default_higher_is_better = True

    def outcomes(self, model: EffectModel, patients: Patients) -> tuple[np.ndarray, np.ndarray]:
        responder = -clipped_change(model, patients) >= self.responder_reduction * patients.baseline_nrs
        return responder.astype(float), responder

    def visit_outcomes(self, change: np.ndarray, responder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return responder.astype(float), responder

    def true_values(self, model: EffectModel, population: Population) -> np.ndarray:
        if model.visit is not None:
            return model.visit.true_responder
        # reduction >= r * b  <=>  change <= -r * b (clipping at 0 keeps responders responders)
        from ..ufuncs import special

        r = self.responder_reduction
        return per_baseline(model, population, lambda b, mean, sd: special.ndtr((-r * b - mean) / sd))

    def describe(self) -> str:
        return f"responder: NRS reduced by at least {self.responder_reduction:.0%} of baseline; higher is better"
