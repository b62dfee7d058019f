"""Observed data of a design at a look: outcomes of the assigned arms as sufficient statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..inference.base import LookData


@dataclass
class Observed:
    """What a design has seen of its trials: assigned arms and their outcomes, (trials, patients)."""

    arm: np.ndarray  # assigned arm, -1 if not randomised
    y: np.ndarray  # outcome on the internal higher-is-better scale (0 where not randomised)
    responder: np.ndarray  # bool
    missing: np.ndarray  # bool: randomised but no outcome data (the visit model's dropout, complete case)


def cell_statistics(obs: Observed, dropout: np.ndarray, phenotype: np.ndarray, baseline: np.ndarray,
                    rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_arms: int, prevalence: np.ndarray,
                    binary: bool) -> LookData:
    """Sufficient statistics per trial x arm x phenotype of patients lo..hi-1 (per trial) with outcome data."""
    n_pheno = len(prevalence)
    lo, hi = np.broadcast_to(lo, rows.shape), np.broadcast_to(hi, rows.shape)
    bottom, top = (0, 0) if rows.size == 0 else (int(lo.min()), max(int(hi.max()), int(lo.min())))
    b = len(rows)
    a = obs.arm[rows, bottom:top]
    cols = np.arange(bottom, top)
    observed = ((a >= 0) & ~dropout[rows, bottom:top] & ~obs.missing[rows, bottom:top]
                & (cols >= lo[:, None]) & (cols < hi[:, None]))
    y = obs.y[rows, bottom:top]
    cell = (np.arange(b)[:, None] * n_arms + a) * n_pheno + phenotype[rows, bottom:top]
    cell = np.where(observed, cell, b * n_arms * n_pheno).ravel()
    size = b * n_arms * n_pheno + 1

    def total(weights: np.ndarray | None) -> np.ndarray:
        w = None if weights is None else weights.ravel()
        return np.bincount(cell, weights=w, minlength=size)[:-1].reshape(b, n_arms, n_pheno).astype(float)

    n, sum_y = total(None), total(y)
    if binary:  # y*y = y, and no baseline covariate for events
        zeros = np.zeros_like(n)
        return LookData(n, sum_y, sum_y, zeros, zeros, zeros, True, prevalence)
    x = baseline[rows, bottom:top]
    return LookData(n, sum_y, total(y * y), total(x), total(x * x), total(x * y), False, prevalence)


def scatter_add(data: LookData, rows: np.ndarray, new: LookData) -> LookData:
    """Add `new` statistics into `data` at `rows`, in place."""
    for name in ("n", "sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"):
        getattr(data, name)[rows] += getattr(new, name)
    return data
