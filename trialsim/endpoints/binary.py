"""A generic binary event with a rate per arm (x phenotype); the scenario sets the direction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..effects import EffectModel
from ..population import Population
from .base import Endpoint, Patients


@dataclass(frozen=True)
class Binary(Endpoint):
    name = "binary"
    family = "beta"
    draw = "uniform"
    truth_fields = ("rate",)
    default_higher_is_better = True
    fixed_direction = False
    uses_pain_scores = False

    def outcomes(self, model: EffectModel, patients: Patients) -> tuple[np.ndarray, np.ndarray]:
        event = patients.draw < model.rate[patients.arm, patients.phenotype]
        return event.astype(float), event

    def true_values(self, model: EffectModel, population: Population) -> np.ndarray:
        return model.rate @ population.prevalence

    def describe(self) -> str:
        return f"binary event; {self.better()} is better"
