"""Change in NRS pain (0-10) from baseline: lower is better.

Change for a patient of phenotype p on arm a is
    nonspecific[a] + specific[a, p] * (passed screening) + sd[a] * z,
and the follow-up score is clipped to 0-10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..effects import EffectModel
from ..population import Population
from .base import Endpoint, Patients


def clipped_change(model: EffectModel, p: Patients) -> np.ndarray:
    """Observed change in NRS: the follow-up score stays on 0-10."""
    change = model.nonspecific[p.arm] + model.specific[p.arm, p.phenotype] * p.passed_screening + model.sd[p.arm] * p.draw
    return np.clip(p.baseline_nrs + change, 0.0, 10.0) - p.baseline_nrs


def per_baseline(model: EffectModel, population: Population, value_at) -> np.ndarray:
    """Population average over phenotypes, screening and the baseline distribution of value_at(b, mean, sd)."""
    values = np.zeros(len(model.sd))
    for j, dist in enumerate(population.baseline_nrs):
        b, w = dist.nodes()
        for a in range(len(model.sd)):
            passed = value_at(b, model.nonspecific[a] + model.specific[a, j], model.sd[a])
            failed = value_at(b, model.nonspecific[a], model.sd[a])
            ps = model.screening_pass[a]
            values[a] += population.prevalence[j] * (w @ (ps * passed + (1 - ps) * failed))
    return values


def clipped_mean_change(baseline: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """E[clip(b + C, 0, 10) - b] for C ~ N(mean, sd) (censored normal mean)."""
    from ..ufuncs import special

    m = baseline + mean
    lo, hi = (0 - m) / sd, (10 - m) / sd
    pdf = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731
    inside = m * (special.ndtr(hi) - special.ndtr(lo)) + sd * (pdf(lo) - pdf(hi))
    return 10 * special.ndtr(-hi) + inside - baseline


@dataclass(frozen=True)
class NrsChange(Endpoint):
    name = "nrs_change"
    family = "normal"
    draw = "normal"
    truth_fields = ("nonspecific",)
    default_higher_is_better = False
    unit = "NRS points"

    def outcomes(self, model: EffectModel, patients: Patients) -> tuple[np.ndarray, np.ndarray]:
        change = clipped_change(model, patients)
        return change, -change >= self.responder_reduction * patients.baseline_nrs

    def visit_outcomes(self, change: np.ndarray, responder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return change, responder

    def true_values(self, model: EffectModel, population: Population) -> np.ndarray:
        if model.visit is not None:
            return model.visit.true_change
        return per_baseline(model, population, clipped_mean_change)

    def describe(self) -> str:
        return "change in NRS pain (0-10) from baseline; lower is better"
