"""Compiled quadrature kernels of the exact engine (numba: ahead of time, or JIT cached on disk; kernels.py).

Every trial x arm has a uniform grid (origin lo[b, k], spacing h[b, k], n[b, k]
points); arrays are padded to the largest n with pdf = 0 and cdf = 1. Usually
all arms of a trial share one grid, and another arm's CDF at a grid point is
read off the grid. When arms lie so far apart, relative to their widths, that
no shared grid resolves them all, each arm gets its own grid (exact.py) and
other arms' CDFs are interpolated at the point. The kernels loop over trials,
arms and grid points in one pass each, which is several times faster than the
equivalent chain of numpy temporaries.

Accuracy (see exact.py): CDFs by the trapezoid rule with the Euler-Maclaurin
end correction, O(h^4); shifted CDFs F(x + delta) by cubic Hermite
interpolation using the density as derivative, O(h^4); integrals by the
trapezoid rule, spectrally accurate for integrands that vanish at both ends.
"""

from __future__ import annotations

import math

import numpy as np

from .. import kernels

inline = kernels.inner(inline="always")  # small helpers of the kernels' inner loops


@kernels.jit("UniTuple(f8[:, :, ::1], 2)(i8, f8[:, ::1], f8[:, ::1], f8[:, ::1], f8[:, ::1], b1[:, ::1], f8[:, ::1], f8[:, ::1], i8[:, ::1], i8)")
def grid_densities(family: int, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, const: np.ndarray,
                   use: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray, width: int):
    """Normalised pdf and cdf on each trial x arm grid, (trials, arms, width).

    family 0: Beta(p1, p2) (const = -log B(p1, p2)); family 1: Student-t with
    df p1, location p2, scale p3 (const = log normalising constant). Only the
    first n[b, k] points of a grid are set (no kernel reads past them).
    """
    n_trials, n_arms = p1.shape
    pdf = np.empty((n_trials, n_arms, width))
    cdf = np.empty((n_trials, n_arms, width))
    dpdf = np.zeros(width)
    # Beta arms on a shared grid share x, 1 - x, log(x) and log(1 - x): computed once per trial, not per arm
    xs, one_m_x, log_x, log_1mx = np.zeros(width), np.zeros(width), np.zeros(width), np.zeros(width)
    for b in range(n_trials):
        shared = family == 0 and _common_grid(lo, h, n, b)
        if shared:
            for i in range(n[b, 0]):
                xc = min(max(lo[b, 0] + i * h[b, 0], 1e-300), 1.0 - 1e-16)
                xs[i], one_m_x[i], log_x[i], log_1mx[i] = xc, 1.0 - xc, math.log(xc), math.log1p(-xc)
        for k in range(n_arms):
            hb, nb = h[b, k], n[b, k]
            if not use[b, k]:  # never integrated: a density of 0 and a CDF of 1
                pdf[b, k, :nb], cdf[b, k, :nb] = 0.0, 1.0
                continue
            f_row = pdf[b, k]
            if shared:  # log density and its derivative first: a loop of divisions without calls vectorises
                am1, bm1, c = p1[b, k] - 1.0, p2[b, k] - 1.0, const[b, k]
                for i in range(nb):
                    f_row[i] = am1 * log_x[i] + bm1 * log_1mx[i] + c
                    dpdf[i] = am1 / xs[i] - bm1 / one_m_x[i]
            else:
                for i in range(nb):
                    if family == 0:
                        xc = min(max(lo[b, k] + i * hb, 1e-300), 1.0 - 1e-16)
                        lx, l1 = math.log(xc), math.log1p(-xc)
                        f_row[i] = (p1[b, k] - 1.0) * lx + (p2[b, k] - 1.0) * l1 + const[b, k]
                        dpdf[i] = (p1[b, k] - 1.0) / xc - (p2[b, k] - 1.0) / (1.0 - xc)
                    else:
                        z = (lo[b, k] + i * hb - p2[b, k]) / p3[b, k]
                        f_row[i] = const[b, k] - (p1[b, k] + 1.0) / 2.0 * math.log1p(z * z / p1[b, k])
                        dpdf[i] = -(p1[b, k] + 1.0) * z / (p3[b, k] * (p1[b, k] + z * z))
            for i in range(nb):
                f_row[i] = math.exp(f_row[i])
            for i in range(nb):  # d pdf / dx = pdf x d log pdf / dx
                dpdf[i] *= f_row[i]
            c_row = cdf[b, k]
            c_row[0] = 0.0
            for i in range(1, nb):  # each panel's corrected trapezoid, then their running sum
                c_row[i] = hb / 2.0 * (f_row[i - 1] + f_row[i]) + hb * hb / 12.0 * (dpdf[i - 1] - dpdf[i])
            total = 0.0
            for i in range(1, nb):
                total += c_row[i]
                c_row[i] = total
            if total > 0.0:
                for i in range(nb):
                    f_row[i] /= total
                    c_row[i] = min(max(c_row[i] / total, 0.0), 1.0)
    return pdf, cdf


@inline
def _shifted(cdf: np.ndarray, pdf: np.ndarray, b: int, k: int, i: int, whole: int, t: float, hb: float, nb: int) -> float:
    """F_k at grid position i + whole + t (0 <= t < 1) by cubic Hermite interpolation."""
    j = i + whole
    if j < 0:
        if j == -1 and t > 0.0:  # between the point below the grid (F = 0, f = 0) and x_0
            f1, d1 = cdf[b, k, 0], pdf[b, k, 0] * hb
            t2, t3 = t * t, t * t * t
            return (-2 * t3 + 3 * t2) * f1 + (t3 - t2) * d1
        return 0.0
    if j >= nb - 1:
        return 1.0
    f0, f1 = cdf[b, k, j], cdf[b, k, j + 1]
    d0, d1 = pdf[b, k, j] * hb, pdf[b, k, j + 1] * hb
    t2, t3 = t * t, t * t * t
    v = (2 * t3 - 3 * t2 + 1) * f0 + (t3 - 2 * t2 + t) * d0 + (-2 * t3 + 3 * t2) * f1 + (t3 - t2) * d1
    return min(max(v, 0.0), 1.0)


@inline
def _weight(i: int, nb: int, hb: float) -> float:
    return hb / 2.0 if i == 0 or i == nb - 1 else hb


@inline
def _offset(shift: float, hb: float) -> tuple[int, float, int]:
    """A shift in grid units: (whole steps, fraction, -1/+1 for -inf/+inf, else 0)."""
    if math.isinf(shift):
        return 0, 0.0, 1 if shift > 0 else -1
    steps = shift / hb
    whole = int(math.floor(steps))
    return whole, steps - whole, 0


@inline
def _band(cdf: np.ndarray, pdf: np.ndarray, b: int, k: int, i: int, lo: tuple[int, float, int],
          hi: tuple[int, float, int], hb: float, nb: int) -> float:
    """Pr(x_i + lower < theta_k < x_i + upper) for offsets made by `_offset` (x_i on k's own grid)."""
    return _cdf_at(cdf, pdf, b, k, i, hi, hb, nb) - _cdf_at(cdf, pdf, b, k, i, lo, hb, nb)


@inline
def _cdf_at(cdf: np.ndarray, pdf: np.ndarray, b: int, k: int, i: int, offset: tuple[int, float, int], hb: float,
            nb: int) -> float:
    """F_k(x_i + shift): 0 or 1 for infinite shifts, the grid value for whole steps, else interpolated."""
    whole, t, infinite = offset
    if infinite != 0:
        return 1.0 if infinite > 0 else 0.0
    if t == 0.0 and 0 <= i + whole < nb:
        return cdf[b, k, i + whole]
    return _shifted(cdf, pdf, b, k, i, whole, t, hb, nb)


@inline
def _cdf_anywhere(cdf: np.ndarray, pdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray, b: int, k: int,
                  x: float) -> float:
    """F_k(x) at any point, from arm k's own grid (0 below it, 1 above it)."""
    if math.isinf(x):
        return 1.0 if x > 0 else 0.0
    steps = (x - lo[b, k]) / h[b, k]
    if steps <= -1.0:
        return 0.0
    if steps >= n[b, k] - 1:
        return 1.0
    whole = int(math.floor(steps))
    return _shifted(cdf, pdf, b, k, 0, whole, steps - whole, h[b, k], n[b, k])


@inline
def _common_grid(lo: np.ndarray, h: np.ndarray, n: np.ndarray, b: int) -> bool:
    """Whether every arm of trial b has the same grid (the usual case: other arms' CDFs are read off it)."""
    for k in range(1, lo.shape[1]):
        if lo[b, k] != lo[b, 0] or h[b, k] != h[b, 0] or n[b, k] != n[b, 0]:
            return False
    return True


@inline
def _band_anywhere(cdf: np.ndarray, pdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray, b: int, j: int,
                   x: float, lower: float, upper: float) -> float:
    """Pr(x + lower < theta_j < x + upper) at any x, from arm j's own grid."""
    return _cdf_anywhere(cdf, pdf, lo, h, n, b, j, x + upper) - _cdf_anywhere(cdf, pdf, lo, h, n, b, j, x + lower)


@kernels.jit("f8[:, ::1](f8[:, :, ::1], f8[:, :, ::1], f8[:, ::1], f8[:, ::1], i8[:, ::1], b1[:, ::1], f8, f8)")
def others_within(pdf: np.ndarray, cdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray,
                  active: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """For each active arm k: Pr(every other active arm j has x + lower < theta_j < x + upper at x = theta_k).

    (-inf, 0) gives Pr(k is the largest); (0, margin) gives Pr(k is the smallest and
    all arms lie within the margin), whose sum over k is Pr(all equivalent).
    """
    n_trials, n_arms, width = pdf.shape
    out = np.zeros((n_trials, n_arms))
    band = np.empty((n_arms, width))  # Pr(x_i + lower < theta_j < x_i + upper) on a shared grid
    best = lower == -math.inf and upper == 0.0  # Pr(k is best): the band is the CDF at the point itself
    for b in range(n_trials):
        common = _common_grid(lo, h, n, b)
        if common and not best:
            _bands(pdf, cdf, h, n, active, b, lower, upper, band)
        for k in range(n_arms):
            if active[b, k]:
                out[b, k] = max(_within_common(pdf, cdf[b] if best else band, h, n, active, b, k) if common else
                                _within_apart(pdf, cdf, lo, h, n, active, b, k, lower, upper), 0.0)
    return out


@inline
def _bands(pdf: np.ndarray, cdf: np.ndarray, h: np.ndarray, n: np.ndarray, active: np.ndarray, b: int, lower: float,
           upper: float, band: np.ndarray) -> None:
    """Each active arm's band probability at every point of trial b's shared grid: once, not once for
    every arm that multiplies by it."""
    hb, nb = h[b, 0], n[b, 0]
    lo_off, hi_off = _offset(lower, hb), _offset(upper, hb)
    for j in range(pdf.shape[1]):
        if active[b, j]:
            for i in range(nb):
                band[j, i] = _band(cdf, pdf, b, j, i, lo_off, hi_off, hb, nb)


@inline
def _within_common(pdf: np.ndarray, band: np.ndarray, h: np.ndarray, n: np.ndarray, active: np.ndarray, b: int,
                   k: int) -> float:
    """others_within for one arm when all arms share its grid: the other arms' bands read off the grid."""
    hk, nk = h[b, k], n[b, k]
    acc = 0.0
    for i in range(nk):
        f = pdf[b, k, i]
        if f == 0.0:
            continue
        for j in range(pdf.shape[1]):
            if j != k and active[b, j]:
                f *= band[j, i]
        acc += f * _weight(i, nk, hk)
    return acc


@kernels.inner(inline="never")  # the rare path: kept out of the usual path's code
def _within_apart(pdf: np.ndarray, cdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray, active: np.ndarray,
                  b: int, k: int, lower: float, upper: float) -> float:
    """others_within for one arm when arms have grids of their own: other arms' CDFs interpolated."""
    hk, nk = h[b, k], n[b, k]
    acc = 0.0
    for i in range(nk):
        f = pdf[b, k, i]
        if f == 0.0:
            continue
        for j in range(pdf.shape[1]):
            if j != k and active[b, j]:
                f *= _band_anywhere(cdf, pdf, lo, h, n, b, j, lo[b, k] + i * hk, lower, upper)
        acc += f * _weight(i, nk, hk)
    return acc


def prob_best(pdf: np.ndarray, cdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray,
              active: np.ndarray) -> np.ndarray:
    """Pr(arm k has the largest theta among active arms), normalised to sum to 1."""
    out = others_within(pdf, cdf, lo, h, n, active, -math.inf, 0.0)
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=out, where=total > 0)


def prob_all_equivalent(pdf: np.ndarray, cdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray,
                        active: np.ndarray, margin: float) -> np.ndarray:
    """Pr(max - min of theta over active arms < margin): a sum over the arm that is the minimum."""
    return np.clip(others_within(pdf, cdf, lo, h, n, active, 0.0, margin).sum(axis=1), 0.0, 1.0)


@kernels.jit("f8[:, ::1](f8[:, :, ::1], f8[:, :, ::1], f8[:, ::1], f8[:, ::1], i8[:, ::1], i8[::1], f8, f8, b1[:, ::1])")
def prob_difference_between(pdf: np.ndarray, cdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray,
                            control: np.ndarray, lower: float, upper: float, use: np.ndarray) -> np.ndarray:
    """Pr(lower < theta_k - theta_control < upper) for arms in `use` (either bound may be infinite).

    Pr(better by delta) is (delta, inf); Pr(equivalent within m) is (-m, m). The
    control's difference with itself is 0: it gets 1[lower < 0 < upper].
    """
    n_trials, n_arms, _ = pdf.shape
    out = np.full((n_trials, n_arms), np.nan)
    for b in range(n_trials):
        c = control[b]
        common = _common_grid(lo, h, n, b)
        for k in range(n_arms):
            if k == c:
                out[b, k] = 1.0 if lower < 0.0 < upper else 0.0
            elif use[b, k]:
                acc = (_difference_common(pdf, cdf, h, n, b, c, k, lower, upper) if common else
                       _difference_apart(pdf, cdf, lo, h, n, b, c, k, lower, upper))
                out[b, k] = min(max(acc, 0.0), 1.0)
    return out


@inline
def _difference_common(pdf: np.ndarray, cdf: np.ndarray, h: np.ndarray, n: np.ndarray, b: int, c: int, k: int,
                       lower: float, upper: float) -> float:
    hc, nc = h[b, c], n[b, c]
    lo_off, hi_off = _offset(lower, hc), _offset(upper, hc)
    acc = 0.0
    for i in range(nc):
        f = pdf[b, c, i]
        if f != 0.0:
            acc += f * _band(cdf, pdf, b, k, i, lo_off, hi_off, hc, nc) * _weight(i, nc, hc)
    return acc


@inline
def _difference_apart(pdf: np.ndarray, cdf: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray, b: int, c: int,
                      k: int, lower: float, upper: float) -> float:
    hc, nc = h[b, c], n[b, c]
    acc = 0.0
    for i in range(nc):
        f = pdf[b, c, i]
        if f != 0.0:
            acc += f * _band_anywhere(cdf, pdf, lo, h, n, b, k, lo[b, c] + i * hc, lower, upper) * _weight(i, nc, hc)
    return acc


def warm_up() -> None:
    """Load (or compile) every kernel now, e.g. before forking worker processes that inherit them."""
    one = np.ones((1, 2))
    use = np.ones((1, 2), np.bool_)
    lo, h, n = np.zeros((1, 2)), np.full((1, 2), 0.1), np.full((1, 2), 11, np.int64)
    pdf, cdf = grid_densities(0, one * 2, one * 3, one, one * 0.0, use, lo, h, n, 11)
    control = np.zeros(1, np.int64)
    others_within(pdf, cdf, lo, h, n, use, -math.inf, 0.0)
    prob_difference_between(pdf, cdf, lo, h, n, control, 0.1, math.inf, use)
