"""Cross-field rules of within-patient designs (crossover): what the look loop can run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from .schema import Design, Scenario

Problem = tuple[str, str]


def check_within(s: Scenario, path: str, d: Design) -> Iterator[Problem]:
    """A crossover design: the visit model, an NRS change, a control among its treatments, sequences that
    hold the same treatments, period outcomes at visits, and the exact complete-pairs analysis."""
    c = d.crossover
    if c is None:
        return
    p = f"{path}.crossover"
    names = s.arm_names
    if s.patients is None:
        yield p, "a crossover follows patients over periods with the visit model: add a 'patients' block"
    if s.endpoint.type != "nrs_change":
        yield p, f"the crossover analysis models a change in NRS; endpoint type '{s.endpoint.type}' is not one"
    if d.control is None or d.controls:
        yield f"{path}.control", "a crossover compares its treatments with one control: set design.control"
    for i, a in enumerate(c.treatments or []):
        if a not in names:
            yield f"{p}.treatments[{i}]", f"unknown arm '{a}'; choose from {', '.join(names)}"
    if isinstance(c.sequences, str):
        given = c.treatments or names
        if c.sequences == "ab_ba" and len(given) != 2:
            yield f"{p}.sequences", f"'ab_ba' takes two treatments, got {len(given)}: list them in treatments or use 'williams'"
        if d.control is not None and d.control not in given:
            yield f"{p}.treatments", f"the control '{d.control}' must be one of the treatments"
        if len(given) < 2:
            yield f"{p}.treatments", "a crossover needs at least two treatments"
        n_periods = 2 if c.sequences == "ab_ba" else len(given)
    else:
        rows = c.sequences
        n_periods = len(rows[0]) if rows else 0
        if c.treatments is not None:
            yield f"{p}.treatments", "explicit sequences name their treatments; drop treatments"
        if len(rows) < 2:
            yield f"{p}.sequences", "give at least two sequences (period and treatment effects are otherwise confounded)"
        for i, row in enumerate(rows):
            for j, a in enumerate(row):
                if a not in names:
                    yield f"{p}.sequences[{i}][{j}]", f"unknown arm '{a}'; choose from {', '.join(names)}"
            if Counter(row) != Counter(rows[0]):
                yield f"{p}.sequences[{i}]", ("every sequence must hold the same treatments as often as the first "
                                              "(the within-patient analysis is then the exact mixed model)")
        used = {a for row in rows for a in row}
        if len(used) < 2:
            yield f"{p}.sequences", "a crossover needs at least two treatments"
        if d.control is not None and rows and d.control not in used:
            yield f"{p}.sequences", f"the control '{d.control}' must appear in the sequences"
    if s.patients is not None:
        for k in range(n_periods):
            week = k * (c.period_weeks + c.washout_weeks) + c.period_weeks
            if week not in s.patients.visits:
                yield "patients.visits", (f"design '{path.split('.')[-1]}' measures period {k + 1} at week {week:g}; "
                                          f"add it to patients.visits")
    a = d.analysis
    if a.engine != "exact" or a.prior != "flat":
        yield f"{path}.analysis", "a crossover is analysed by the exact mixed model with a flat prior: engine exact, prior flat"
    for field, default in (("missing", "complete_case"), ("longitudinal", "none"), ("screen_failures", "observed")):
        if getattr(a, field) != default:
            yield f"{path}.analysis.{field}", f"a crossover analyses complete pairs; set {field} to {default}"
    if d.allocation.rule != "fixed" or d.allocation.ratio is not None or d.allocation.block_size is not None:
        yield f"{path}.allocation", "a crossover randomises its sequences equally in blocks; drop the allocation block"
    dec = d.decisions
    for field in ("harm", "phenotype_futility", "boundaries"):
        if getattr(dec, field) is not None:
            yield f"{path}.decisions.{field}", f"{field} is not available for a crossover"
    if dec.on_superior != "graduate":
        yield f"{path}.decisions.on_superior", "a crossover judges each treatment against the control: use 'graduate'"
    if d.durability is not None:
        yield f"{path}.durability", "not available for a crossover"
