"""Observed data of a design at a look: outcomes of the assigned arms as sufficient statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kernels
from ..inference.base import LookData


@dataclass
class Observed:
    """What a design has seen of its trials: assigned arms and their outcomes, (trials, patients)."""

    arm: np.ndarray  # assigned arm, -1 if not randomised
    y: np.ndarray  # outcome on the internal higher-is-better scale (0 where not randomised)
    responder: np.ndarray  # bool
    missing: np.ndarray  # bool: randomised but no outcome data (the visit model's dropout, complete case)
    early: np.ndarray | None = None  # (trials, patients, visits) earlier visits' outcome, internal scale (longitudinal designs)
    early_seen: np.ndarray | None = None  # (trials, patients, visits) bool: the patient was still followed at the visit
    harm: np.ndarray | None = None  # bool: had an adverse event the design's harm rule counts


def cell_statistics(obs: Observed, dropout: np.ndarray, phenotype: np.ndarray, baseline: np.ndarray,
                    rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_arms: int, prevalence: np.ndarray,
                    binary: bool) -> LookData:
    """Sufficient statistics per trial x arm x phenotype of patients lo..hi-1 (per trial) with outcome data."""
    lo, hi = np.broadcast_to(lo, rows.shape), np.broadcast_to(hi, rows.shape)
    sums = _cell_sums(obs.arm, dropout, obs.missing, obs.y, phenotype, baseline, np.asarray(rows, np.int64),
                      np.asarray(lo, np.int64), np.asarray(hi, np.int64), n_arms, len(prevalence), binary)
    if binary:  # y*y = y, and no baseline covariate for events
        n, sum_y, zeros = sums[0], sums[1], np.zeros_like(sums[0])
        return LookData(n, sum_y, sum_y, zeros, zeros, zeros, True, prevalence)
    return LookData(*sums, False, prevalence)


# lo and hi are often broadcast (read-only, strided) views: one signature takes any int64 vector
@kernels.jit("f8[:, :, :, ::1](i2[:, ::1], b1[:, ::1], b1[:, ::1], f8[:, ::1], i2[:, ::1], f8[:, ::1], i8[::1], "
             "Array(int64, 1, 'A', readonly=True), Array(int64, 1, 'A', readonly=True), i8, i8, b1)")
def _cell_sums(arm, dropout, missing, y, phenotype, baseline, rows, lo, hi, n_arms, n_pheno, binary):
    """(n, sum y, sum y^2, sum x, sum x^2, sum xy) per row x arm x phenotype, patients in arrival order
    (the order in which bincount would add them). Binary endpoints fill the first two only."""
    out = np.zeros((6 if not binary else 2, rows.size, n_arms, n_pheno))
    for b in range(rows.size):
        r = rows[b]
        for j in range(lo[b], hi[b]):
            a = arm[r, j]
            if a < 0 or dropout[r, j] or missing[r, j]:
                continue
            p = phenotype[r, j]
            v = y[r, j]
            out[0, b, a, p] += 1.0
            out[1, b, a, p] += v
            if not binary:
                x = baseline[r, j]
                out[2, b, a, p] += v * v
                out[3, b, a, p] += x
                out[4, b, a, p] += x * x
                out[5, b, a, p] += x * v
    return out


def arm_tallies(obs: Observed, analysed: np.ndarray, phenotype: np.ndarray, n_arms: int,
                n_pheno: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trial x arm: patients randomised per (true) phenotype (trials, arms, phenotypes), analysed
    patients, and analysed responders, in one pass (`analysed`: randomised with outcome data)."""
    return _tallies(np.ascontiguousarray(obs.arm, np.int16), np.ascontiguousarray(analysed, np.bool_),
                    np.ascontiguousarray(obs.responder, np.bool_), np.ascontiguousarray(phenotype, np.int16), n_arms,
                    n_pheno)


@kernels.jit("Tuple((i8[:, :, ::1], i8[:, ::1], i8[:, ::1]))(i2[:, ::1], b1[:, ::1], b1[:, ::1], i2[:, ::1], i8, i8)")
def _tallies(arm, analysed, responder, phenotype, n_arms, n_pheno):
    by_pheno = np.zeros((arm.shape[0], n_arms, n_pheno), np.int64)
    n = np.zeros((arm.shape[0], n_arms), np.int64)
    responders = np.zeros((arm.shape[0], n_arms), np.int64)
    for b in range(arm.shape[0]):
        for j in range(arm.shape[1]):
            a = arm[b, j]
            if a < 0:
                continue
            by_pheno[b, a, phenotype[b, j]] += 1
            if analysed[b, j]:
                n[b, a] += 1
                responders[b, a] += responder[b, j]
    return by_pheno, n, responders


def scatter_add(data: LookData, rows: np.ndarray, new: LookData) -> LookData:
    """Add `new` statistics into `data` at `rows`, in place."""
    for name in ("n", "sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"):
        getattr(data, name)[rows] += getattr(new, name)
    return data


def warm_up() -> None:
    """Load the compiled kernels now (e.g. before forking workers that inherit them)."""
    one = np.zeros((1, 1))
    arm_tallies(Observed(np.zeros((1, 1), np.int16), one, one > 0, one > 0), one > 0, np.zeros((1, 1), np.int16), 1, 1)
    for binary in (True, False):
        _cell_sums(np.zeros((1, 1), np.int16), one > 0, one > 0, one, np.zeros((1, 1), np.int16), one,
                   np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.int64), 1, 1, binary)
