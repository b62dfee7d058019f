"""The tables of oc.md, compare.md and report.html, built once and rendered as Markdown or HTML.

Every builder reads the OC table (oc.csv's frame) and the results Dataset
(trials.nc): provenance, the key OCs per design with truths as rows, targets
with the Monte Carlo uncertainty of their verdicts, every metric grouped with
its unit, comparisons, and a glossary of the metrics shown.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from ..summarise.glossary import GROUPS, KEY_METRICS, lookup
from ..summarise.info import RunInfo
from ..summarise.targets import SYMBOL, check_targets, flags


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    code_columns: frozenset[int] = field(default_factory=frozenset)  # columns holding metric names

    def markdown(self) -> str:
        def cells(row: list[str]) -> list[str]:
            return [f"`{c}`" if i in self.code_columns and c else c.replace("|", "\\|") for i, c in enumerate(row)]

        lines = ([self.caption, ""] if self.caption else []) + ["| " + " | ".join(self.header) + " |",
                                                                "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(cells(r)) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        def cell(i: int, c: str, tag: str) -> str:
            text = html.escape(c)
            return f"<{tag}>" + (f"<code>{text}</code>" if i in self.code_columns and c else text) + f"</{tag}>"

        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "<tr>" + "".join(cell(-1, h, "th") for h in self.header) + "</tr>"
        body = "".join("<tr>" + "".join(cell(i, c, "td") for i, c in enumerate(r)) + "</tr>" for r in self.rows)
        # wide tables scroll on screen instead of overflowing the page
        return f'<div class="wide"><table>{caption}<thead>{head}</thead><tbody>{body}</tbody></table></div>'


def fmt(est: float, se: float = np.nan) -> str:
    """'estimate (MCSE)', or '-' when not computed."""
    if est is None or not np.isfinite(est):
        return "-"
    if se is None or not np.isfinite(se):
        return f"{est:.4g}"
    se = 0.0 if se < 1e-12 * max(1.0, abs(est)) else se  # rounding noise of a constant
    return f"{est:.4g} ({se:.2g})"


def unit_of(metric: str, info: RunInfo) -> str:
    found = lookup(metric)
    return found.unit.replace("endpoint units", info.endpoint_unit) if found else ""


def provenance_table(info: RunInfo) -> Table:
    return Table(["run", ""], [[k, v] for k, v in info.provenance().items()])


def key_tables(oc: pd.DataFrame, ds: xr.Dataset, targets: pd.DataFrame | None = None) -> dict[str, Table]:
    """Per design: truths as rows, the key OCs as columns, 'estimate (MCSE)', target flags appended."""
    marks = flags(targets) if targets is not None else {}
    out = {}
    for design, part in oc.groupby("design", sort=False):
        metrics = [m for m in KEY_METRICS if m in set(part["metric"])]
        by = part.set_index(["truth", "metric"])
        rows = []
        for truth in dict.fromkeys(part["truth"]):
            row = [truth]
            for m in metrics:
                text = fmt(*by.loc[(truth, m), ["estimate", "mcse"]]) if (truth, m) in by.index else "-"
                mark = marks.get((design, truth, m))
                row.append(text + (f" {mark.split(' ', 1)[0]}" if mark else ""))
            rows.append(row)
        out[str(design)] = Table(["truth"] + metrics, rows)
    return out


def targets_table(checks: pd.DataFrame) -> Table:
    rows = [[f"{SYMBOL[r.verdict]} {r.verdict}", r.target, r.design, r.truth, r.metric, r.bound, fmt(r.estimate, r.mcse),
             f"{r.z:+.1f}" if np.isfinite(r.z) else "-", f"{r.prob_met:.3f}" if np.isfinite(r.prob_met) else "-"]
            for r in checks.itertuples()]
    return Table(["verdict", "target", "design", "truth", "metric", "bound", "estimate (MCSE)", "z", "Pr(met)"], rows,
                 code_columns=frozenset({4}))


def grouped_tables(oc: pd.DataFrame, info: RunInfo, targets: pd.DataFrame | None = None) -> dict[str, dict[str, Table]]:
    """truth -> group -> table of every metric in the group: metric, unit, one column per design."""
    marks = flags(targets) if targets is not None else {}
    designs = list(dict.fromkeys(oc["design"]))
    out: dict[str, dict[str, Table]] = {}
    for truth, part in oc.groupby("truth", sort=False):
        groups: dict[str, list[list[str]]] = {g: [] for g in GROUPS + ("Other",)}
        for metric, rows in part.groupby("metric", sort=False):
            found = lookup(metric)
            cells = {r.design: fmt(r.estimate, r.mcse) + (f" {marks[(r.design, truth, metric)].split(' ', 1)[0]}"
                                                          if (r.design, truth, metric) in marks else "")
                     for r in rows.itertuples()}
            groups[found.group if found else "Other"].append([metric, unit_of(metric, info)]
                                                              + [cells.get(d, "-") for d in designs])
        out[str(truth)] = {g: Table(["metric", "unit"] + designs, rows, code_columns=frozenset({0}))
                           for g, rows in groups.items() if rows}
    return out


def glossary_table(metrics: list[str], info: RunInfo) -> Table:
    """One row per metric family shown (prob_effective_<arm> once, not per arm)."""
    seen: dict[str, list[str]] = {}
    for m in metrics:
        found = lookup(m)
        if found and found.template not in seen:
            generic = found.text if found.template == m else _generic_text(found.template)
            seen[found.template] = [found.template, found.group, unit_of(m, info), generic]
    rows = sorted(seen.values(), key=lambda r: (GROUPS.index(r[1]), r[0]))
    return Table(["metric", "group", "unit", "meaning"], rows, code_columns=frozenset({0}))


def _generic_text(template: str) -> str:
    from ..summarise.glossary import ENTRIES

    base, _, strategy = template.partition("__")
    text = next(t for p, _, _, t in ENTRIES if p == base).replace("<stat>", "statistic (<stat>)")
    text += " (under selection strategy <strategy>)" if strategy else ""
    return text[0].upper() + text[1:]


MCSE_NOTE = ("Each cell: estimate (Monte Carlo SE). ✓ target met, ✗ missed, ? within 2 MCSE of the bound "
             "(more trials needed).")


def oc_markdown(oc: pd.DataFrame, ds: xr.Dataset) -> str:
    """oc.md: provenance, key OCs per design, targets, every metric grouped with units, glossary."""
    info = RunInfo.of(ds)
    checks = check_targets(oc, ds) if info.targets else None
    parts = [f"# Operating characteristics: {info.name}", "", provenance_table(info).markdown(),
             "## Key operating characteristics", "", MCSE_NOTE, ""]
    for design, table in key_tables(oc, ds, checks).items():
        parts += [f"### Design: {design}", "", table.markdown()]
    parts += ["## Targets", ""]
    parts += [targets_table(checks).markdown()] if checks is not None and len(checks) else \
        ["No targets in the scenario (add a `targets:` block to have designs judged).", ""]
    parts += ["## All metrics", "", MCSE_NOTE, ""]
    for truth, groups in grouped_tables(oc, info, checks).items():
        parts += [f"### Truth: {truth}", ""]
        for group, table in groups.items():
            parts += [f"#### {group}", "", table.markdown()]
    parts += ["## Glossary", "", glossary_table(list(dict.fromkeys(oc["metric"])), info).markdown()]
    return "\n".join(parts)


def compare_tables(table: pd.DataFrame, metrics: tuple[str, ...] = KEY_METRICS,
                   marks: dict[tuple[str, str, str], str] | None = None) -> dict[str, Table]:
    """truth -> key metrics as rows: reference estimate, then each design's 'estimate → difference (MCSE)'.

    `marks` ((design label, truth, metric) -> flag, see targets.flags) flags estimates that miss a target.
    """
    marks = marks or {}

    def mark(design: str, truth: str, metric: str) -> str:
        found = marks.get((design, truth, metric))
        return f" {found.split(' ', 1)[0]}" if found else ""

    out = {}
    shown = table[table["metric"].isin(metrics)]
    designs = list(dict.fromkeys(shown["design"]))
    for truth, part in shown.groupby("truth", sort=False):
        by = part.set_index(["metric", "design"])
        rows = []
        for metric in (m for m in metrics if m in set(part["metric"])):
            first = part[part["metric"] == metric].iloc[0]
            row = [metric, fmt(first["reference_estimate"]) + mark(first["reference"], truth, metric)]
            for d in designs:
                if (metric, d) in by.index:
                    r = by.loc[(metric, d)]
                    row.append(f"{fmt(r['estimate'])}{mark(d, truth, metric)} → {r['difference']:+.4g} ({r['mcse']:.2g})"
                               + ("" if r["paired"] else " unpaired"))
                else:
                    row.append("-")
            rows.append(row)
        reference = part["reference"].iloc[0]
        out[str(truth)] = Table(["metric", f"{reference} (reference)"] + [f"{d}: estimate → difference (MCSE)" for d in designs],
                                rows, code_columns=frozenset({0}))
    return out


def compare_markdown(table: pd.DataFrame, sources: list[str], checks: pd.DataFrame | None = None) -> str:
    """compare.md: what was compared, whether paired, the key differences per truth, and the targets.

    `checks` (check_targets rows with design labels as in `table`) flag estimates missing a target.
    """
    paired = table["paired"].astype(bool)
    lines = ["# Design comparison", "", "Results: " + ", ".join(sources) + ".", ""]
    if paired.all():
        lines.append("Paired: every design ran on the same virtual patients (common random numbers), so each MCSE is "
                     "that of the per-trial paired differences.")
    elif (~paired).all():
        lines.append("**Unpaired**: the designs ran on different patients (another seed, population, arm set or "
                     "truth); each MCSE is sqrt(MCSE_a² + MCSE_b²).")
    else:
        lines.append("Mixed: where a design ran on the reference's patients (same seed, population, arms and truth) "
                     "the difference is paired; the others, marked **unpaired**, ran on different patients.")
    lines += ["", "Each cell: the design's estimate → its difference from the reference (MCSE of the difference). "
              "Every metric is in compare.csv.", ""]
    if checks is not None and len(checks):
        lines += ["✓ target met, ✗ missed, ? within 2 MCSE of the bound (see Targets below).", ""]
    marks = flags(checks) if checks is not None else {}
    for truth, t in compare_tables(table, marks=marks).items():
        lines += [f"## Truth: {truth}", "", t.markdown()]
    if checks is not None and len(checks):
        lines += ["## Targets", "", targets_table(checks).markdown()]
    return "\n".join(lines)
