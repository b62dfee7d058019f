"""Calibrate a design's superiority threshold to a target operating characteristic.

Typical use: under a null truth, find the smallest constant superiority
threshold whose Pr(superiority) (or family-wise error, prob_any_effective) is
at or below 5%. Every evaluation reuses the same seed, so the simulated metric
is a deterministic, non-increasing step function of the threshold (common
random numbers) and bisection converges to its crossing point.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

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
    tolerance: float = 1e-5  # width of the final bisection bracket


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
    data = scenario.model_dump(mode="json")
    data["designs"] = {design: data["designs"][design]}
    data["truths"] = {truth: data["truths"][truth]}
    data.pop("targets", None)  # they may name the truths left out; calibration has its own target
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
                       evaluations, calibrated, tolerance)


def rounded(threshold: float, tolerance: float) -> float:
    """The threshold rounded up to the bisection's resolution: 0.9836464196777344 -> 0.98365 for 1e-5.

    Up, because the metric does not increase with the threshold: the rounded value still meets the target.
    """
    decimals = max(0, math.ceil(-math.log10(tolerance)))
    return round(math.ceil(threshold * 10**decimals - 1e-9) / 10**decimals, decimals)


def write_calibrated(source: Path, dest: Path, design: str, truth: str, metric: str, target: float, result: Calibration,
                     n_trials: int, seed: int) -> float:
    """Copy the YAML `source` to `dest` with the design's calibrated thresholds, keeping every comment and
    the layout, and a comment recording the calibration. Returns the threshold written."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    from .io import atomic_write

    text = Path(source).read_text(encoding="utf-8")
    yaml = YAML()  # round-trip: comments, key order, flow style and quoting are kept
    yaml.preserve_quotes = True
    yaml.width = 4096
    # lists indented under their key ("arms:\n  - name: ...") or not: keep the file's habit
    offset = 2 if re.search(r"^\w+:[ \t]*\n(?:[ \t]*#.*\n)*  - ", text, re.M) else 0
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    data = yaml.load(text)
    node = data["designs"][design]
    if "decisions" not in node:
        node["decisions"] = CommentedMap()
    decisions = node["decisions"]
    threshold = rounded(result.threshold, result.tolerance)
    old = decisions.get("superiority")
    decisions["superiority"] = threshold
    if result.inferiority is not None and "inferiority" in decisions:
        decisions["inferiority"] = round(1 - threshold, len(repr(threshold).split(".")[-1]))
    note = (f"calibrated {time.strftime('%Y-%m-%d')}: {metric} {result.estimate:.4f} (MCSE {result.mcse:.4f}) <= {target:g} "
            f"under '{truth}', {n_trials} trials, seed {seed}")
    comment = decisions.ca.items.get("superiority", [None, None, None])[2]
    if comment is not None:  # keep what the comment said about the old value
        note += f"; was {old}: {comment.value.strip().lstrip('#').strip()}"
        decisions.ca.items["superiority"][2] = None
    decisions.yaml_add_eol_comment(note, "superiority")

    def write(path: Path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            yaml.dump(data, f)

    atomic_write(Path(dest), write)
    return threshold
