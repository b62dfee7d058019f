"""Cross-field rules of within-patient designs (crossover, N-of-1 series): what the look loops can run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from .schema import Design, Scenario

Problem = tuple[str, str]


def check_within(s: Scenario, path: str, d: Design) -> Iterator[Problem]:
    """A crossover or N-of-1 design: the visit model, an NRS change, a control among its treatments, sequences
    that hold the same treatments, period outcomes at visits, and the exact (or hierarchical) analysis."""
    if d.crossover is None and d.n_of_1 is None:
        return
    if d.crossover is not None and d.n_of_1 is not None:
        yield path, "give either crossover or n_of_1, not both"
        return
    if getattr(d, "smart", None) is not None or getattr(d, "one_way_crossover", None) is not None:
        yield path, "give one design family: crossover, n_of_1, smart or one_way_crossover"
        return
    c = d.crossover or d.n_of_1
    kind = "a crossover" if d.crossover is not None else "an N-of-1 series"
    p = f"{path}.crossover" if d.crossover is not None else f"{path}.n_of_1"
    names = s.arm_names
    if s.patients is None:
        yield p, f"{kind} follows patients over periods with the visit model: add a 'patients' block"
    if s.endpoint.type != "nrs_change":
        yield p, f"the analysis of {kind} models a change in NRS; endpoint type '{s.endpoint.type}' is not one"
    if d.control is None or d.controls:
        yield f"{path}.control", f"{kind} compares its treatments with one control: set design.control"
    for i, a in enumerate(c.treatments or []):
        if a not in names:
            yield f"{p}.treatments[{i}]", f"unknown arm '{a}'; choose from {', '.join(names)}"
    if d.n_of_1 is not None:
        given = c.treatments or names
        if d.control is not None and d.control not in given:
            yield f"{p}.treatments", f"the control '{d.control}' must be one of the treatments"
        if len(given) < 2:
            yield f"{p}.treatments", "an N-of-1 series needs at least two treatments"
        n_periods = c.blocks * len(given)
        if n_periods > 48:
            yield f"{p}.blocks", f"{n_periods} periods exceed the visit model's 48 follow-up visits; use fewer blocks"
    elif isinstance(c.sequences, str):
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
            if Counter(row) != Counter(rows[0]) and all(set(r) <= set(names) for r in rows):
                yield f"{p}.sequences[{i}]", ("every sequence must hold the same treatments as often as the first "
                                              "(the within-patient analysis is then the exact mixed model)")
        used = {a for row in rows for a in row}
        if len(used) < 2:
            yield f"{p}.sequences", "a crossover needs at least two treatments"
        if d.control is not None and rows and d.control not in used:
            yield f"{p}.sequences", f"the control '{d.control}' must appear in the sequences"
    if s.patients is not None:
        weeks = [k * (c.period_weeks + c.washout_weeks) + c.period_weeks for k in range(n_periods)]
        missing = [f"{w:g}" for w in weeks if w not in s.patients.visits]
        if missing:
            yield "patients.visits", (f"design '{path.split('.')[-1]}' measures its periods at weeks "
                                      f"{', '.join(f'{w:g}' for w in weeks)}; add {', '.join(missing)} to patients.visits")
    a = d.analysis
    if d.crossover is not None and a.engine != "exact":
        yield f"{path}.analysis.engine", "a crossover is analysed by the exact mixed model: engine exact"
    if d.n_of_1 is not None and a.engine == "frequentist":
        yield f"{path}.analysis.engine", "an N-of-1 series takes engine pymc (hierarchical model) or exact (its normal approximation)"
    if a.prior != "flat":
        yield f"{path}.analysis.prior", f"{kind} has its own priors (flat for exact); drop prior"
    for field, default in (("missing", "complete_case"), ("longitudinal", "none"), ("screen_failures", "observed")):
        if getattr(a, field) != default:
            yield f"{path}.analysis.{field}", f"{kind} analyses patients who completed every period; set {field} to {default}"
    if d.allocation.rule != "fixed" or d.allocation.ratio is not None or d.allocation.block_size is not None:
        yield f"{path}.allocation", f"{kind} randomises its own orders; drop the allocation block"
    dec = d.decisions
    for field in ("harm", "phenotype_futility", "boundaries"):
        if getattr(dec, field) is not None:
            yield f"{path}.decisions.{field}", f"{field} is not available for {kind}"
    if dec.on_superior != "graduate":
        yield f"{path}.decisions.on_superior", f"{kind} judges each treatment against the control: use 'graduate'"
    if d.durability is not None:
        yield f"{path}.durability", f"not available for {kind}"
