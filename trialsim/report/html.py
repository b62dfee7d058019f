"""report.html: one self-contained page (inline CSS, figures as base64 PNG, no external requests),
readable on screen and printable."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ..summarise.glossary import resolve
from ..summarise.info import RunInfo
from ..summarise.targets import check_targets, flags
from . import plots
from .tables import MCSE_NOTE, Table, compare_tables, glossary_table, grouped_tables, key_tables, provenance_table, \
    targets_table

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 84rem; margin: 2rem auto;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { border-bottom: 2px solid #333; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6rem 0 1.2rem; font-size: .86rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
code { font-size: .85em; }
pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: .82rem; white-space: pre-wrap; }
.wide { overflow-x: auto; max-width: 100%; }
td { white-space: nowrap; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #444; }
.note { color: #444; font-size: .9rem; }
nav ul { columns: 2; }
@media print { body { max-width: none; margin: 0; font-size: 9pt; } h2 { break-before: page; }
               figure, table { break-inside: avoid; } .wide { overflow: visible; } table { font-size: 7pt; }
               nav { display: none; } }
"""


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str


def figure_html(fig: Figure, caption: str) -> str:
    data = base64.b64encode(plots.png(fig)).decode("ascii")
    text = html.escape(caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _tables(named: dict[str, Table], level: str = "h3", prefix: str = "") -> str:
    return "".join(f"<{level}>{html.escape(prefix + name)}</{level}>{t.html()}" for name, t in named.items())


def figures(ds: xr.Dataset, comparison: pd.DataFrame | None) -> list[str]:
    """Every figure that the results support, with its caption."""
    info = RunInfo.of(ds)
    out = [figure_html(plots.stopping(ds), "Pr(stopping) at each look, stacked by the reason for stopping."),
           figure_html(plots.ecdfs(ds), "Empirical CDFs of the number of patients randomised and the trial duration."),
           figure_html(plots.arms(ds), "Per arm: Pr(selected) and Pr(declared better than the control), by truth.")]
    if comparison is not None and len(comparison):
        out.append(figure_html(plots.forest(comparison), "Differences from the reference design with ±1.96 MCSE."))
    try:
        out.append(figure_html(plots.allocation(ds), "Mean allocation probabilities after each look."))
    except ValueError:
        pass  # run without --history
    # convergence of each target's metric under its truths, else of Pr(any effective) under the first truth
    has_control = any(str(c) for c in ds["control_arm"].values)
    wanted = [(resolve(t.get("metric") or name, has_control), truth) for name, t in info.targets.items()
              for truth in ([t["truth"]] if isinstance(t["truth"], str) else t["truth"])]
    for metric, truth in dict.fromkeys(wanted or [(resolve("power", has_control), str(ds["truth"].values[0]))]):
        out.append(figure_html(plots.convergence(ds, metric, truth),
                               f"{metric} under {truth} as trials accumulate (±1.96 MCSE band)."))
    return out


def report_html(ds: xr.Dataset, oc: pd.DataFrame, comparison: pd.DataFrame | None = None,
                description: str = "") -> str:
    """The whole report as one HTML string."""
    info = RunInfo.of(ds)
    checks = check_targets(oc, ds) if info.targets else None
    note = f'<p class="note">{html.escape(MCSE_NOTE)}</p>'
    sections = [
        Section("provenance", "Provenance", provenance_table(info).html()),
        Section("design", "The scenario in words", f"<pre>{html.escape(description)}</pre>" if description else
                "<p>(not available)</p>"),
        Section("key", "Key operating characteristics",
                note + _tables(key_tables(oc, ds, checks), prefix="Design: ")),
        Section("targets", "Targets", targets_table(checks).html() if checks is not None and len(checks)
                else "<p>No targets in the scenario.</p>"),
    ]
    if comparison is not None and len(comparison):
        paired = "paired (common random numbers)" if comparison["paired"].all() else "partly unpaired"
        sections.append(Section("compare", "Design comparison",
                                f'<p class="note">Differences from {html.escape(comparison["reference"].iloc[0])}, '
                                f"{paired}. Each cell: estimate → difference (MCSE of the difference).</p>"
                                + _tables(compare_tables(comparison, marks=flags(checks) if checks is not None else None),
                                          prefix="Truth: ")))
    sections.append(Section("figures", "Figures", "".join(figures(ds, comparison))))
    sections.append(Section("glossary", "Glossary", glossary_table(list(dict.fromkeys(oc["metric"])), info).html()))
    full = "".join(f"<h3>Truth: {html.escape(truth)}</h3>" + _tables(groups, level="h4")
                   for truth, groups in grouped_tables(oc, info, checks).items())
    sections.append(Section("all", "All operating characteristics", note + full))

    nav = "<nav><ul>" + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections) + "</ul></nav>"
    body = "".join(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections)
    title = f"Simulation report: {html.escape(info.name)}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
            f"<style>{CSS}</style></head><body><h1>{title}</h1>{nav}{body}</body></html>")
