"""A generic normal outcome with a direction and no clipping (adaptr's setup_trial_norm)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..effects import EffectModel
from ..population import Population
from .base import Endpoint, Patients


@dataclass(frozen=True)
class Continuous(Endpoint):
    name = "continuous"
    family = "normal"
    draw = "normal"
    truth_fields = ("mean",)
    default_higher_is_better = True
    fixed_direction = False
    uses_pain_scores = False
    has_responders = False

    def outcomes(self, model: EffectModel, patients: Patients) -> tuple[np.ndarray, np.ndarray]:
        y = model.mean[patients.arm, patients.phenotype] + model.sd[patients.arm] * patients.draw
        return y, np.zeros(y.shape, bool)

    def true_values(self, model: EffectModel, population: Population) -> np.ndarray:
        return model.mean @ population.prevalence

    def describe(self) -> str:
        return f"continuous outcome (normal, unclipped); {self.better()} is better"
