"""Calibrate a design's superiority threshold to a target operating characteristic.

Typical use: under a null truth, find the smallest constant superiority
threshold whose Pr(superiority) (or family-wise error, prob_any_effective) is
at or below 5%. Every evaluation reuses the same seed, so the simulated metric
is a deterministic, non-increasing step function of the threshold (common
random numbers) and bisection converges to its crossing point.
"""

from __future__ import annotations

from dataclasses import dataclass

from .api import run
from .scenario import Scenario, parse_scenario


@dataclass(frozen=True)
class Calibration:
    threshold: float
    inferiority: float | None
    estimate: float
    mcse: float
    evaluations: int
    scenario: Scenario  # the scenario with the calibrated thresholds


def with_threshold(scenario: Scenario, design: str, threshold: float, symmetric: bool) -> Scenario:
    """The scenario with `design`'s superiority threshold set (inferiority = 1 - threshold if symmetric)."""
    data = scenario.model_dump(mode="json", exclude_unset=False)
    decisions = data["designs"][design]["decisions"]
    decisions["superiority"] = threshold
    if symmetric and decisions.get("inferiority") is not None:
        decisions["inferiority"] = 1 - threshold
    return parse_scenario(data)


def calibrate(scenario: Scenario, design: str, truth: str, metric: str = "prob_superior", target: float = 0.05,
              n_trials: int = 2000, seed: int | None = None, lower: float = 0.9, upper: float = 0.99999,
              tolerance: float = 1e-5, symmetric: bool = True, workers: int = 1) -> Calibration:
    """Smallest superiority threshold in [lower, upper] with `metric` <= `target` under `truth`."""
    if scenario.designs[design].decisions.boundaries is not None:
        raise ValueError(f"design '{design}' is frequentist: its boundaries spend alpha exactly; "
                         "change decisions.boundaries.alpha instead of calibrating")
    data = scenario.model_dump(mode="json")
    data["designs"] = {design: data["designs"][design]}
    data["truths"] = {truth: data["truths"][truth]}
    base = parse_scenario(data)
    evaluations = 0

    def evaluate(threshold: float) -> tuple[float, float]:
        nonlocal evaluations
        evaluations += 1
        oc = run(with_threshold(base, design, threshold, symmetric), n_trials=n_trials, seed=seed,
                 workers=workers).oc.set_index("metric")
        if metric not in oc.index:
            raise ValueError(f"unknown metric '{metric}' for design '{design}'")
        return float(oc.loc[metric, "estimate"]), float(oc.loc[metric, "mcse"])

    hi_value = evaluate(upper)
    if hi_value[0] > target:
        raise ValueError(f"{metric} is {hi_value[0]:.4f} > {target} even at threshold {upper}; widen the range")
    lo_value = evaluate(lower)
    if lo_value[0] <= target:
        best, value = lower, lo_value
    else:
        best, value = upper, hi_value
        lo = lower
        while best - lo > tolerance:
            mid = (lo + best) / 2
            mid_value = evaluate(mid)
            if mid_value[0] <= target:
                best, value = mid, mid_value
            else:
                lo = mid
    calibrated = with_threshold(scenario, design, best, symmetric)
    inferiority = calibrated.designs[design].decisions.inferiority
    return Calibration(best, inferiority if isinstance(inferiority, float) else None, value[0], value[1],
                       evaluations, calibrated)
