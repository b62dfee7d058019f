"""The arm x phenotype effect model of one truth, and its population-level truths.

Change in NRS for a patient of phenotype p on arm a is
    nonspecific[a] + specific[a, p] * (passed screening) + sd[a] * z,
and the follow-up score is clipped to 0-10. Binary truths give the event
rate per arm x phenotype directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .scenario.schema import Endpoint, Scenario, TruncatedNormal, Truth


@dataclass(frozen=True)
class EffectModel:
    """Arrays for one truth; arms and phenotypes in scenario order."""

    nonspecific: np.ndarray  # (arms,) mean change in NRS
    specific: np.ndarray  # (arms, phenotypes) extra mean change if screening passed
    sd: np.ndarray  # (arms,)
    rate: np.ndarray | None  # (arms, phenotypes), binary truths only
    screening_pass: np.ndarray  # (arms,)


def _per_phenotype(value: float | dict[str, float] | None, phenotypes: list[str], default: float = 0.0) -> np.ndarray:
    if value is None:
        return np.full(len(phenotypes), default)
    if isinstance(value, dict):
        return np.array([value.get(p, default) for p in phenotypes], dtype=float)
    return np.full(len(phenotypes), float(value))


def effect_model(scenario: Scenario, truth: Truth) -> EffectModel:
    phenos = scenario.phenotype_names
    arms = [truth.arms[a] for a in scenario.arm_names]
    binary = scenario.endpoint.type == "binary"
    return EffectModel(
        nonspecific=np.array([0.0 if binary else a.nonspecific for a in arms], dtype=float),
        specific=np.array([_per_phenotype(a.specific, phenos) for a in arms]),
        sd=np.array([a.sd or truth.sd for a in arms], dtype=float),
        rate=np.array([_per_phenotype(a.rate, phenos) for a in arms]) if binary else None,
        screening_pass=np.array([a.screening_pass for a in scenario.arms], dtype=float),
    )


def baseline_nodes(dist: TruncatedNormal, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights of a truncated normal (weights sum to 1)."""
    x, w = np.polynomial.legendre.leggauss(n)
    nodes = dist.min + (x + 1) * (dist.max - dist.min) / 2
    dens = stats.norm.pdf(nodes, dist.mean, dist.sd) * w
    return nodes, dens / dens.sum()


def _clipped_mean_change(baseline: np.ndarray, mean: np.ndarray, sd: float) -> np.ndarray:
    """E[clip(b + C, 0, 10) - b] for C ~ N(mean, sd) (censored normal mean)."""
    m = baseline + mean
    lo, hi = (0 - m) / sd, (10 - m) / sd
    inside = m * (special.ndtr(hi) - special.ndtr(lo)) + sd * (stats.norm.pdf(lo) - stats.norm.pdf(hi))
    return 10 * special.ndtr(-hi) + inside - baseline


def true_arm_values(scenario: Scenario, model: EffectModel) -> np.ndarray:
    """Population-level true value of each arm on the endpoint's own scale.

    nrs_change: mean change in NRS; responder: Pr(responder); binary: event rate.
    Exact up to quadrature over the baseline distribution.
    """
    pop, endpoint = scenario.population, scenario.endpoint
    prevalence = np.array([p.prevalence for p in pop.phenotypes.values()])
    if model.rate is not None:
        return model.rate @ prevalence
    values = np.zeros(len(model.sd))
    for j, ph in enumerate(pop.phenotypes.values()):
        b, w = baseline_nodes(ph.baseline_nrs or pop.baseline_nrs)
        for a in range(len(model.sd)):
            passed = model.nonspecific[a] + model.specific[a, j]
            failed = model.nonspecific[a]
            per_node = (
                model.screening_pass[a] * _value_at(endpoint, b, passed, model.sd[a])
                + (1 - model.screening_pass[a]) * _value_at(endpoint, b, failed, model.sd[a])
            )
            values[a] += prevalence[j] * (w @ per_node)
    return values


def _value_at(endpoint: Endpoint, baseline: np.ndarray, mean: float, sd: float) -> np.ndarray:
    if endpoint.type == "responder":
        # reduction >= r * b  <=>  change <= -r * b (clipping at 0 keeps responders responders)
        return special.ndtr((-endpoint.responder_reduction * baseline - mean) / sd)
    return _clipped_mean_change(baseline, np.asarray(mean), sd)


def to_internal(endpoint: Endpoint, values: np.ndarray) -> np.ndarray:
    """Endpoint scale -> the engine's higher-is-better scale (an involution)."""
    if not endpoint.lower_is_better:
        return values
    return 1 - values if endpoint.binary else -values


from_internal = to_internal  # flipping twice is the identity
