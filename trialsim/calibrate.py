"""Calibrate a design's superiority threshold to a target operating characteristic.

Typical use: under a null truth, find the smallest superiority threshold whose
Pr(superiority) (or family-wise error, prob_any_effective) is at or below 5%.
The threshold is one number: constant over looks, or the last look's value of
an O'Brien-Fleming-like family, Phi(Phi^-1(c) sqrt(N / n_k)) at a look with n_k
of N patients (stricter early). Every evaluation reuses the same seed, so the
simulated metric is a deterministic, non-increasing step function of the
threshold (common random numbers) and bisection converges to its crossing point.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from typing import Literal

from scipy.special import ndtr, ndtri

from .api import run
from .scenario import Scenario, parse_scenario

Shape = Literal["constant", "obf"]


@dataclass(frozen=True)
class Calibration:
    threshold: float
    inferiority: float | None
    estimate: float
    mcse: float
    evaluations: int
    scenario: Scenario  # the scenario with the calibrated thresholds
    tolerance: float = 1e-5  # width of the final bisection bracket
    shape: Shape = "constant"
    others: dict[str, tuple[float, float]] | None = None  # the metric (estimate, MCSE) under the other truths
    symmetric: bool = True  # inferiority set to 1 - superiority
    history: tuple[tuple[float, float, float], ...] = ()  # (threshold, estimate, MCSE) of every evaluation
    metric: str = ""  # the metric calibrated (aliases resolved)

    def uncertain_span(self, target: float) -> tuple[float, float] | None:
        """The evaluated thresholds whose metric lies within 2 MCSE of the target: Monte Carlo error
        cannot tell them apart, so the calibrated threshold is only known to lie about there."""
        close = [t for t, est, se in self.history if abs(est - target) <= 2 * se]
        return (min(close), max(close)) if close else None


def look_thresholds(threshold: float, shape: Shape, at_patients: list[int] | None) -> float | list[float]:
    """The superiority threshold of each look: constant, or O'Brien-Fleming-like ending at `threshold`."""
    if shape == "constant":
        return threshold
    if not at_patients:
        raise ValueError("an O'Brien-Fleming-like shape needs looks at_patients (information fractions)")
    z, n_max = ndtri(threshold), at_patients[-1]
    return [float(ndtr(z * math.sqrt(n_max / n))) for n in at_patients]


def with_threshold(scenario: Scenario, design: str, threshold: float, symmetric: bool,
                   shape: Shape = "constant") -> Scenario:
    """The scenario with `design`'s superiority threshold(s) set (inferiority = 1 - superiority if symmetric)."""
    data = scenario.model_dump(mode="json", exclude_unset=False)
    decisions = data["designs"][design]["decisions"]
    value = look_thresholds(threshold, shape, data["designs"][design]["looks"].get("at_patients"))
    decisions["superiority"] = value
    if symmetric and decisions.get("inferiority") is not None:
        decisions["inferiority"] = [1 - v for v in value] if isinstance(value, list) else 1 - value
    return parse_scenario(data)


def calibrate(scenario: Scenario, design: str, truth: str, metric: str = "fwer", target: float = 0.05,
              n_trials: int = 2000, seed: int | None = None, lower: float = 0.9, upper: float = 0.99999,
              tolerance: float = 1e-5, symmetric: bool = True, workers: int = 1, shape: Shape = "constant",
              other_truths: bool = True) -> Calibration:
    """Smallest superiority threshold in [lower, upper] with `metric` <= `target` under `truth`.

    With `other_truths`, the calibrated design is also run under the scenario's other truths
    (same trials and seed): the power that the calibration leaves. `metric` may be an alias:
    fwer (or power) means prob_any_effective for a design with a control, else prob_superior.
    """
    from .summarise.glossary import resolve

    if scenario.designs[design].decisions.boundaries is not None:
        raise ValueError(f"design '{design}' is frequentist: its boundaries spend alpha exactly; "
                         "change decisions.boundaries.alpha instead of calibrating")

    metric = resolve(metric, scenario.designs[design].control is not None)
    data = scenario.model_dump(mode="json")
    data["designs"] = {design: data["designs"][design]}
    data["truths"] = {truth: data["truths"][truth]}
    data.pop("targets", None)  # they may name the truths left out; calibration has its own target
    base = parse_scenario(data)
    history: list[tuple[float, float, float]] = []

    def evaluate(threshold: float) -> tuple[float, float]:
        oc = run(with_threshold(base, design, threshold, symmetric, shape), n_trials=n_trials, seed=seed,
                 workers=workers).oc.set_index("metric")
        if metric not in oc.index:
            raise ValueError(f"unknown metric '{metric}' for design '{design}'")
        history.append((threshold, float(oc.loc[metric, "estimate"]), float(oc.loc[metric, "mcse"])))
        return history[-1][1:]

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
    calibrated = with_threshold(scenario, design, best, symmetric, shape)
    inferiority = calibrated.designs[design].decisions.inferiority
    others = None
    if other_truths and len(scenario.truths) > 1:
        data = calibrated.model_dump(mode="json")
        data["designs"] = {design: data["designs"][design]}
        data["truths"] = {t: v for t, v in data["truths"].items() if t != truth}
        data.pop("targets", None)
        oc = run(parse_scenario(data), n_trials=n_trials, seed=seed, workers=workers).oc
        rows = oc[oc["metric"] == metric].set_index("truth")
        others = {t: (float(r["estimate"]), float(r["mcse"])) for t, r in rows.iterrows()}
    return Calibration(best, inferiority if isinstance(inferiority, float) else None, value[0], value[1],
                       len(history), calibrated, tolerance, shape, others, symmetric, tuple(history), metric)


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
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

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
    decisions.fa.set_block_style()  # a comment cannot end a line inside {...}
    threshold = rounded(result.threshold, result.tolerance)
    old = decisions.get("superiority")
    looks = data["designs"][design].get("looks", {}).get("at_patients")
    # each look's threshold rounded up: every one at least as strict as calibrated
    value = look_thresholds(result.threshold, result.shape, list(looks) if looks else None)
    value = [rounded(v, result.tolerance) for v in value] if isinstance(value, list) else threshold

    def complement(v: float) -> float:
        return round(1 - v, len(repr(v).split(".")[-1]))

    if isinstance(value, list):
        value = CommentedSeq(value)
        value.fa.set_flow_style()
    decisions["superiority"] = value
    if result.symmetric and decisions.get("inferiority") is not None:  # inferiority = 1 - superiority
        if isinstance(value, list):
            inferior = CommentedSeq([complement(v) for v in value])
            inferior.fa.set_flow_style()
            decisions["inferiority"] = inferior
        else:
            decisions["inferiority"] = complement(threshold)
    shape = "" if result.shape == "constant" else f"O'Brien-Fleming-like, last look {threshold:g}; "
    note = (f"calibrated {time.strftime('%Y-%m-%d')}: {shape}{metric} {result.estimate:.4f} (MCSE {result.mcse:.4f}) <= {target:g} "
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
