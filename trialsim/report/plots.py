"""Figures of a run, from its results Dataset (trials.nc) or a results folder.

Each function returns a matplotlib `Figure` built without pyplot (no global
state, no display needed); `png(fig)` gives its bytes. Panels are laid out
truths x designs where both matter.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from ..summarise.info import RunInfo, codes
from ..summarise.per_trial import cell_per_trial

# stop reasons as adaptr names them / as the sham-controlled graduate rule reads them
REASON_LABELS = {"superiority": "superiority / effective arm", "futility": "futility / all arms dropped",
                 "max": "maximum sample size"}
REASON_COLOURS = {"superiority": "#1b9e77", "equivalence": "#7570b3", "futility": "#d95f02", "max": "#999999",
                  "running": "#dddddd"}


def results(source: xr.Dataset | str | Path) -> xr.Dataset:
    """A results Dataset, or the one in a results folder (its trials.nc) or a trials.nc path."""
    if isinstance(source, xr.Dataset):
        return source
    path = Path(source)
    return xr.load_dataset(path / "trials.nc" if path.is_dir() else path, engine="h5netcdf")


def png(fig: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)  # constrained layout already fits the figure
    return buffer.getvalue()


def _names(ds: xr.Dataset, dim: str) -> list[str]:
    return [str(v) for v in ds[dim].values]


def _grid(rows: int, cols: int, width: float = 3.2, height: float = 2.4, **kw) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(max(width * cols, 5), height * rows + 0.6), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False, **kw))
    return fig, axes


def stopping(source: xr.Dataset | str | Path) -> Figure:
    """Pr(stopping at each look), stacked by the reason; truths as rows, designs as columns."""
    ds = results(source)
    info = RunInfo.of(ds)
    reasons = {name: code for name, code in codes(ds, "stop_reason").items() if name != "running"}
    truths, designs = _names(ds, "truth"), _names(ds, "design")
    fig, axes = _grid(len(truths), len(designs), sharey=True)
    for i, truth in enumerate(truths):
        for j, design in enumerate(designs):
            ax = axes[i, j]
            cell = ds.sel(truth=truth, design=design)
            looks = np.arange(info.n_looks(design))
            bottom = np.zeros(looks.size)
            for name, code in reasons.items():
                share = np.array([np.mean((cell["stop_look"].values == k) & (cell["stop_reason"].values == code))
                                  for k in looks])
                ax.bar(looks + 1, share, bottom=bottom, color=REASON_COLOURS.get(name), label=REASON_LABELS.get(name, name))
                bottom += share
            ax.set_xticks(looks + 1)
            _label_panel(ax, f"{design} | {truth}", i == len(truths) - 1, j == 0, "look", "Pr(stop)")
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.suptitle("Stopping by look and reason")
    return fig


def _label_panel(ax, title: str, bottom_row: bool, first_column: bool, xlabel: str, ylabel: str) -> None:
    """A grid panel's title; axis labels only on the bottom row and the first column."""
    ax.set_title(title, fontsize=9)
    if bottom_row:
        ax.set_xlabel(xlabel)
    if first_column:
        ax.set_ylabel(ylabel)


def ecdfs(source: xr.Dataset | str | Path, variables: tuple[str, ...] = ("size", "duration_weeks")) -> Figure:
    """Empirical CDFs of sample size and trial duration; one line per design, truths as columns."""
    ds = results(source)
    truths, designs = _names(ds, "truth"), _names(ds, "design")
    labels = {"size": "patients randomised", "duration_weeks": "duration (weeks)"}
    fig, axes = _grid(len(variables), len(truths), sharey=True)
    for i, var in enumerate(variables):
        for j, truth in enumerate(truths):
            ax = axes[i, j]
            for design in designs:
                x = np.sort(ds[var].sel(truth=truth, design=design).values)
                ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=design)
            ax.set_xlabel(labels.get(var, var))
            ax.set_title(truth, fontsize=9)
            if j == 0:
                ax.set_ylabel("ECDF")
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.suptitle("Sample size and duration")
    return fig


def arms(source: xr.Dataset | str | Path) -> Figure:
    """Per arm: Pr(selected) and Pr(declared better than the control), by design; truths as columns."""
    ds = results(source)
    truths, designs, arm_names = _names(ds, "truth"), _names(ds, "design"), _names(ds, "arm")
    effective = codes(ds, "arm_fate")["effective"]
    fig, axes = _grid(2, len(truths), sharey=True)
    width = 0.8 / len(designs)
    x = np.arange(len(arm_names))
    for j, truth in enumerate(truths):
        for k, design in enumerate(designs):
            cell = ds.sel(truth=truth, design=design)
            selected = [np.mean(cell["selected_arm"].values == a) for a in range(len(arm_names))]
            declared = (cell["arm_fate"].values == effective).mean(axis=0)
            for row, values in enumerate((selected, declared)):
                axes[row, j].bar(x + (k - (len(designs) - 1) / 2) * width, values, width, label=design)
        for row, label in enumerate(("Pr(selected)", "Pr(effective vs control)")):
            ax = axes[row, j]
            ax.set_xticks(x, arm_names, fontsize=8, rotation=30)
            ax.set_title(truth, fontsize=9)
            if j == 0:
                ax.set_ylabel(label)
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.suptitle("Selection and effectiveness per arm")
    return fig


def forest(table: pd.DataFrame, metrics: tuple[str, ...] | None = None) -> Figure:
    """Design differences from the reference with ±1.96 MCSE bars, from a compare() table."""
    from ..summarise.glossary import KEY_METRICS

    metrics = tuple(m for m in (metrics or KEY_METRICS) if m in set(table["metric"]))
    shown = table[table["metric"].isin(metrics)]
    truths = list(dict.fromkeys(shown["truth"]))
    designs = list(dict.fromkeys(shown["design"]))
    cols = min(4, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = _grid(rows, cols, width=2.6, height=0.3 * len(truths) * len(designs) + 1.0, sharey=True)
    labels = [f"{d} | {t}" for d in designs for t in truths]
    for ax in axes.flat[len(metrics):]:
        ax.set_visible(False)
    for ax, metric in zip(axes.flat, metrics):
        part = shown[shown["metric"] == metric].set_index(["design", "truth"])
        for y, (d, t) in enumerate((d, t) for d in designs for t in truths):
            if (d, t) in part.index:
                r = part.loc[(d, t)]
                ax.errorbar(r["difference"], y, xerr=1.96 * r["mcse"] if np.isfinite(r["mcse"]) else None, fmt="o",
                            color="C0" if r["paired"] else "C3", capsize=3, ms=4)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(metric, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    axes[0, 0].invert_yaxis()  # shared y: once
    reference = shown["reference"].iloc[0] if len(shown) else "?"
    fig.suptitle(f"Difference from {reference} (±1.96 MCSE; red: unpaired)")
    return fig


def allocation(source: xr.Dataset | str | Path) -> Figure:
    """Mean allocation probability of each arm after each look (runs with --history); truths x designs."""
    ds = results(source)
    if ds.sizes.get("look", 0) == 0 or not np.isfinite(ds["allocation"].values).any():
        raise ValueError("no allocation history in these results: run with --history")
    truths = _names(ds, "truth")
    # allocation after a look exists for looks followed by another one: adaptive designs with several looks
    designs = [d for d in _names(ds, "design") if np.isfinite(ds["allocation"].sel(design=d).values).any()]
    fig, axes = _grid(len(truths), len(designs), sharey=True)
    for i, truth in enumerate(truths):
        for j, design in enumerate(designs):
            ax = axes[i, j]
            history = ds["allocation"].sel(truth=truth, design=design).values  # (trial, look, arm)
            running = np.isfinite(history)  # NaN once a trial has stopped
            count = running.sum(axis=0)
            mean = np.where(running, history, 0).sum(axis=0) / np.maximum(count, 1)
            looks = np.flatnonzero(count.any(axis=1))
            for a, arm in enumerate(_names(ds, "arm")):
                ax.plot(looks + 1, mean[looks, a], marker="o", ms=3, label=arm)
            ax.set_xticks(looks + 1)
            _label_panel(ax, f"{design} | {truth}", i == len(truths) - 1, j == 0, "after look", "allocation probability")
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.suptitle("Allocation over looks (mean over trials still running)")
    return fig


def convergence(source: xr.Dataset | str | Path, metric: str = "prob_any_effective", truth: str | None = None,
                points: int = 25) -> Figure:
    """A metric and its ±1.96 MCSE band as trials accumulate, one line per design."""
    ds = results(source)
    truth = truth or _names(ds, "truth")[0]
    n = ds.sizes["trial"]
    counts = np.unique(np.linspace(min(10, n), n, points).astype(int))
    fig, axes = _grid(1, 1, width=5.5, height=3)
    ax = axes[0, 0]
    for design in _names(ds, "design"):
        values = [cell_per_trial(ds.isel(trial=slice(0, k)), design, truth).get(metric) for k in counts]
        if any(v is None for v in values):
            continue  # the metric does not exist for this design
        est = np.array([v.estimate for v in values])
        se = np.array([v.mcse for v in values])
        line, = ax.plot(counts, est, label=design)
        ax.fill_between(counts, est - 1.96 * se, est + 1.96 * se, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("trials")
    ax.set_ylabel(metric)
    ax.set_title(f"Convergence of {metric} under {truth}", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def sweep_curve(table: pd.DataFrame, path: str, metric: str = "prob_any_effective", truth: str | None = None) -> Figure:
    """A metric against one swept path (a power curve), one line per design, ±1.96 MCSE bars; from sweep.csv."""
    import json

    truth = truth or str(table["truth"].iloc[0])
    part = table[(table["metric"] == metric) & (table["truth"] == truth)]
    fig, axes = _grid(1, 1, width=5.5, height=3)
    ax = axes[0, 0]
    others = [c for c in table.columns[: list(table.columns).index("design")] if c != path]  # other swept paths
    for key, rows in part.groupby(["design", *others], sort=False):
        label = ", ".join([key[0]] + [f"{c.rsplit('.', 1)[-1]}={v}" for c, v in zip(others, key[1:])])
        x = [json.loads(v) if isinstance(v, str) else v for v in rows[path]]
        numeric = all(isinstance(v, int | float) for v in x)
        position = x if numeric else list(range(len(x)))
        ax.errorbar(position, rows["estimate"], yerr=1.96 * rows["mcse"], marker="o", capsize=3, label=label)
        if not numeric:
            ax.set_xticks(position, [str(v) for v in x], fontsize=7, rotation=20)
    ax.set_xlabel(path)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} under {truth}", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


__all__ = ["allocation", "arms", "convergence", "ecdfs", "forest", "png", "results", "stopping", "sweep_curve"]
