"""A look's patients' visits for the PyMC visit-level models (inference/pymc_visits.py), without PyMC.

The look loop (design/parallel.py) builds `VisitStats` from its window of patients and hands the engine
a `LookData` with `visits`: the usual (combined) statistics plus the visits. Per trial x arm x pattern, counts
and moment matrices of w = (earlier visits (V), endpoint, baseline - the trial's completer mean,
phenotype indicators (F)): pattern p < V holds pending patients who reached the first p + 1 earlier
visits (their endpoint and later visits 0), p = V the completers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


VISIT_MODELS = ("itp", "mvn")  # longitudinal models with a visit-level PyMC likelihood


@dataclass(frozen=True)
class VisitStats:
    """Per trial x arm x pattern: counts (b, k, P) and moment matrices (b, k, P, W, W) of
    w = (earlier visits (V), endpoint, baseline - trial's completer mean, phenotype indicators (F)).

    Pattern p < V: pending patients who reached the first p + 1 earlier visits (endpoint and later
    visits 0); p = V: completers. `weeks`: the earlier visits' weeks and the endpoint's."""

    n: np.ndarray
    mom: np.ndarray
    weeks: tuple[float, ...]

    @property
    def n_visits(self) -> int:
        return len(self.weeks) - 1

    def take(self, rows) -> "VisitStats":
        return VisitStats(self.n[rows], self.mom[rows], self.weeks)


def visit_stats(arm: np.ndarray, completer: np.ndarray, y: np.ndarray, early: np.ndarray, reached: np.ndarray,
                phenotype: np.ndarray, baseline: np.ndarray, n_arms: int, n_phenotypes: int,
                weeks: Sequence[float]) -> VisitStats:
    """Moment matrices from a look's window of patients (trials, patients): completers, and pending patients
    whose `reached` (trials, patients, visits) marks the earlier visits seen (a first run of them)."""
    b, _, n_visits = early.shape
    n_pat = n_visits + 1
    width = n_visits + 2 + n_phenotypes
    runs = np.logical_and.accumulate(reached, axis=-1).sum(-1)
    pattern = np.where(completer, n_visits, runs - 1)
    used = (arm >= 0) & (completer | (runs > 0))
    t, i = np.nonzero(used)
    p = pattern[t, i]
    # centre the baseline on the trial's completers (pymc_model.model_data's centring point)
    n_c = completer.sum(1)
    xbar = np.divide(np.where(completer, baseline, 0.0).sum(1), n_c, out=np.zeros(b), where=n_c > 0)
    w = np.zeros((len(t), width))
    seen = np.arange(n_visits) <= p[:, None]
    w[:, :n_visits] = np.where(seen, early[t, i], 0.0)
    w[:, n_visits] = np.where(p == n_visits, y[t, i], 0.0)
    w[:, n_visits + 1] = baseline[t, i] - xbar[t]
    w[np.arange(len(t)), n_visits + 2 + phenotype[t, i].astype(np.int64)] = 1.0
    cell = (t * n_arms + arm[t, i].astype(np.int64)) * n_pat + p
    size = b * n_arms * n_pat
    counts = np.bincount(cell, minlength=size).astype(float).reshape(b, n_arms, n_pat)
    mom = np.zeros((size, width, width))
    for r in range(width):
        for c in range(r, width):
            mom[:, r, c] = mom[:, c, r] = np.bincount(cell, weights=w[:, r] * w[:, c], minlength=size)
    return VisitStats(counts, mom.reshape(b, n_arms, n_pat, width, width), tuple(float(x) for x in weeks))


def model_arrays(stats: VisitStats, n_cells: int) -> dict[str, np.ndarray]:
    """The model's data (`data_names`); with one cell, the phenotype indicators summed into one."""
    mom = stats.mom
    if n_cells == 1:
        head = stats.n_visits + 2
        keep = np.zeros((head + 1, mom.shape[-1]))
        keep[:head, :head] = np.eye(head)
        keep[head, head:] = 1.0
        mom = keep @ mom @ keep.T
    flat = mom.reshape(*mom.shape[:3], -1)
    return {"n": stats.n, **{f"mom{p}": flat[:, :, p] for p in range(flat.shape[2])}}


def enough_data(stats: VisitStats) -> np.ndarray:
    """(trials,) every arm has V + 3 completers: the endpoint's regression on the visits has data to spare."""
    return (stats.n[..., -1] >= stats.n_visits + 3).all(axis=1)
