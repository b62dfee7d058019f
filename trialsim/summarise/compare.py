"""Designs compared with a reference design, metric by metric, from per-trial records.

Within one run every design ran on the same virtual patients, trial by trial
(common random numbers): a difference is the mean of per-trial paired
differences, and its MCSE is sd(paired differences of influence values) /
sqrt(n), usually far below the unpaired sqrt(se_a^2 + se_b^2). Result folders
are paired under a truth when they share their patients there: the same seed,
population, logistics, arms, endpoint and truth (RunInfo.patients_key), as
folders of one scenario and seed, subsets run with --design, or sweep points
that change only designs. Otherwise the difference is unpaired and marked so
(`paired` False).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .info import RunInfo
from .per_trial import PerTrial, cell_per_trial

COLUMNS = ["design", "reference", "truth", "metric", "estimate", "reference_estimate", "difference", "mcse", "paired"]


@dataclass(frozen=True)
class Entry:
    """A design in one results Dataset, under the label it has in the comparison."""

    label: str
    design: str
    ds: xr.Dataset

    def key(self, truth: str) -> str:
        """Runs with the same key simulated the same patients in trial i under `truth`."""
        return RunInfo.of(self.ds).patients_key(truth)


def entries(results: Sequence[tuple[str, xr.Dataset]]) -> list[Entry]:
    """Every design of every result, labelled by its name, or 'result/design' when names clash."""
    found = [(name, str(d), ds) for name, ds in results for d in ds["design"].values]
    counts = pd.Series([d for _, d, _ in found]).value_counts()
    return [Entry(d if counts[d] == 1 else f"{name}/{d}", d, ds) for name, d, ds in found]


def compare(results: Sequence[tuple[str, xr.Dataset]], reference: str | None = None,
            metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Differences of every design from `reference` (default: the first design), per truth and metric.

    `results` are (name, trials Dataset) pairs, e.g. one per result folder.
    `reference` is a design label (see `entries`). Columns: COLUMNS.
    """
    everything = entries(results)
    labels = [e.label for e in everything]
    reference = reference or labels[0]
    if reference not in labels:
        raise ValueError(f"no design '{reference}' in the results; choose from {', '.join(labels)}")
    ref = everything[labels.index(reference)]
    wanted = None if metrics is None else set(metrics)
    cache: dict[tuple[int, str, str, bytes | None], dict[str, PerTrial]] = {}

    def cell(e: Entry, truth: str, trials: np.ndarray | None = None) -> dict[str, PerTrial]:
        """Per-trial metrics of a design, on `trials` only when given (paired runs of different lengths)."""
        key = (id(e.ds), e.design, truth, None if trials is None else trials.tobytes())
        if key not in cache:
            ds = e.ds if trials is None else e.ds.sel(trial=trials)
            cache[key] = cell_per_trial(ds, e.design, truth)
        return cache[key]

    rows = []
    ref_truths = [str(t) for t in ref.ds["truth"].values]
    for e in everything:
        if e is ref:
            continue
        # paired runs of different lengths are compared on the trials both ran
        common = np.intersect1d(e.ds["trial"].values, ref.ds["trial"].values)
        if common.size == e.ds.sizes["trial"] == ref.ds.sizes["trial"]:
            common = None
        for truth in (t for t in ref_truths if t in e.ds["truth"].values):
            paired = e.ds is ref.ds or e.key(truth) == ref.key(truth)
            trials = common if paired else None
            mine, theirs = cell(e, truth, trials), cell(ref, truth, trials)
            for metric in (m for m in theirs if m in mine and (wanted is None or m in wanted)):
                a, b = mine[metric], theirs[metric]
                if paired:
                    diff = a.estimate - b.estimate
                    d = a.influence - b.influence
                    se = float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else np.nan
                else:
                    diff, se = a.estimate - b.estimate, float(np.hypot(a.mcse, b.mcse))
                rows.append((e.label, ref.label, truth, metric, a.estimate, b.estimate, diff, se, paired))
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def target_checks(results: Sequence[tuple[str, xr.Dataset]]) -> pd.DataFrame:
    """Every result's targets judged (targets.check_targets), with designs labelled as in `compare`."""
    from .targets import check_targets, per_trial_oc

    labels = {(id(e.ds), e.design): e.label for e in entries(results)}
    frames = []
    for _, ds in results:
        checks = check_targets(per_trial_oc(ds), ds)
        checks["design"] = [labels[(id(ds), d)] for d in checks["design"]]
        frames.append(checks)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def open_results(folders: Sequence[str]) -> list[tuple[str, xr.Dataset]]:
    """(folder name, trials Dataset) of result folders; names made unique by their path when needed."""
    from pathlib import Path

    paths = [Path(f) for f in folders]
    names = [p.resolve().name for p in paths]
    if len(set(names)) < len(names):
        names = [str(p) for p in paths]
    return [(n, xr.load_dataset(p / "trials.nc", engine="h5netcdf")) for n, p in zip(names, paths)]
