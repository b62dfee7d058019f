"""Compiled quadrature kernels of the exact engine (numba, cached on disk).

Every trial has its own uniform grid (origin lo[b], spacing h[b], n[b]
points); arrays are padded to the largest n with pdf = 0 and cdf = 1. The
kernels loop over trials, arms and grid points in one pass each, which is
several times faster than the equivalent chain of numpy temporaries.

Accuracy (see exact.py): CDFs by the trapezoid rule with the Euler-Maclaurin
end correction, O(h^4); shifted CDFs F(x + delta) by cubic Hermite
interpolation using the density as derivative, O(h^4); integrals by the
trapezoid rule, spectrally accurate for integrands that vanish at both ends.
"""

from __future__ import annotations

import math

import numba
import numpy as np

jit = numba.njit(cache=True, fastmath=False, nogil=True)


@jit
def grid_densities(family: int, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, const: np.ndarray,
                   use: np.ndarray, lo: np.ndarray, h: np.ndarray, n: np.ndarray, width: int):
    """Normalised pdf and cdf on each trial's grid, (trials, arms, width).

    family 0: Beta(p1, p2) (const = -log B(p1, p2)); family 1: Student-t with
    df p1, location p2, scale p3 (const = log normalising constant).
    """
    n_trials, n_arms = p1.shape
    pdf = np.zeros((n_trials, n_arms, width))
    cdf = np.ones((n_trials, n_arms, width))
    dpdf = np.zeros(width)
    for b in range(n_trials):
        hb = h[b]
        for k in range(n_arms):
            if not use[b, k]:
                continue
            for i in range(n[b]):
                x = lo[b] + i * hb
                if family == 0:
                    xc = min(max(x, 1e-300), 1.0 - 1e-16)
                    logf = (p1[b, k] - 1.0) * math.log(xc) + (p2[b, k] - 1.0) * math.log1p(-xc) + const[b, k]
                    dlog = (p1[b, k] - 1.0) / xc - (p2[b, k] - 1.0) / (1.0 - xc)
                else:
                    z = (x - p2[b, k]) / p3[b, k]
                    logf = const[b, k] - (p1[b, k] + 1.0) / 2.0 * math.log1p(z * z / p1[b, k])
                    dlog = -(p1[b, k] + 1.0) * z / (p3[b, k] * (p1[b, k] + z * z))
                f = math.exp(logf)
                pdf[b, k, i] = f
                dpdf[i] = f * dlog
            total = 0.0
            cdf[b, k, 0] = 0.0
            for i in range(1, n[b]):
                total += hb / 2.0 * (pdf[b, k, i - 1] + pdf[b, k, i]) + hb * hb / 12.0 * (dpdf[i - 1] - dpdf[i])
                cdf[b, k, i] = total
            if total > 0.0:
                for i in range(n[b]):
                    pdf[b, k, i] /= total
                    cdf[b, k, i] = min(max(cdf[b, k, i] / total, 0.0), 1.0)
    return pdf, cdf


@jit
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


@jit
def _weight(i: int, nb: int, hb: float) -> float:
    return hb / 2.0 if i == 0 or i == nb - 1 else hb


@jit
def prob_best(pdf: np.ndarray, cdf: np.ndarray, h: np.ndarray, n: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Pr(arm k has the largest theta among active arms), normalised to sum to 1."""
    n_trials, n_arms, _ = pdf.shape
    out = np.zeros((n_trials, n_arms))
    for b in range(n_trials):
        total = 0.0
        for k in range(n_arms):
            if not active[b, k]:
                continue
            acc = 0.0
            for i in range(n[b]):
                f = pdf[b, k, i]
                if f == 0.0:
                    continue
                for j in range(n_arms):
                    if j != k and active[b, j]:
                        f *= cdf[b, j, i]
                acc += f * _weight(i, n[b], h[b])
            out[b, k] = max(acc, 0.0)
            total += out[b, k]
        if total > 0.0:
            for k in range(n_arms):
                out[b, k] /= total
    return out


@jit
def prob_difference_between(pdf: np.ndarray, cdf: np.ndarray, h: np.ndarray, n: np.ndarray, control: np.ndarray,
                            lower: float, upper: float, use: np.ndarray) -> np.ndarray:
    """Pr(lower < theta_k - theta_control < upper) for arms in `use` (upper may be +inf).

    Pr(better by delta) is (delta, inf); Pr(equivalent within m) is (-m, m). The
    control's difference with itself is 0: it gets 1[lower < 0 < upper].
    """
    n_trials, n_arms, _ = pdf.shape
    out = np.full((n_trials, n_arms), np.nan)
    bounded = not math.isinf(upper)
    for b in range(n_trials):
        c = control[b]
        lo_steps = lower / h[b]
        lo_whole = int(math.floor(lo_steps))
        lo_t = lo_steps - lo_whole
        hi_whole, hi_t = 0, 0.0
        if bounded:
            hi_steps = upper / h[b]
            hi_whole = int(math.floor(hi_steps))
            hi_t = hi_steps - hi_whole
        for k in range(n_arms):
            if k == c:
                out[b, k] = 1.0 if lower < 0.0 < upper else 0.0
                continue
            if not use[b, k]:
                continue
            acc = 0.0
            for i in range(n[b]):
                f = pdf[b, c, i]
                if f != 0.0:
                    top = _shifted(cdf, pdf, b, k, i, hi_whole, hi_t, h[b], n[b]) if bounded else 1.0
                    band = top - _shifted(cdf, pdf, b, k, i, lo_whole, lo_t, h[b], n[b])
                    acc += f * band * _weight(i, n[b], h[b])
            out[b, k] = min(max(acc, 0.0), 1.0)
    return out


@jit
def prob_all_equivalent(pdf: np.ndarray, cdf: np.ndarray, h: np.ndarray, n: np.ndarray, active: np.ndarray,
                        margin: float) -> np.ndarray:
    """Pr(max - min of theta over active arms < margin): sum over the arm that is the minimum."""
    n_trials, n_arms, _ = pdf.shape
    out = np.zeros(n_trials)
    for b in range(n_trials):
        steps = margin / h[b]
        whole = int(math.floor(steps))
        t = steps - whole
        total = 0.0
        for k in range(n_arms):
            if not active[b, k]:
                continue
            for i in range(n[b]):
                f = pdf[b, k, i]
                if f == 0.0:
                    continue
                for j in range(n_arms):
                    if j != k and active[b, j]:
                        f *= _shifted(cdf, pdf, b, j, i, whole, t, h[b], n[b]) - cdf[b, j, i]
                total += f * _weight(i, n[b], h[b])
        out[b] = min(max(total, 0.0), 1.0)
    return out


def warm_up() -> None:
    """Load (or compile) every kernel now, e.g. before forking worker processes that inherit them."""
    one = np.ones((1, 2))
    use = np.ones((1, 2), np.bool_)
    pdf, cdf = grid_densities(0, one * 2, one * 3, one, one * 0.0, use, np.zeros(1), np.full(1, 0.1), np.full(1, 11, np.int64), 11)
    h, n, control = np.full(1, 0.1), np.full(1, 11, np.int64), np.zeros(1, np.int64)
    prob_best(pdf, cdf, h, n, use)
    prob_difference_between(pdf, cdf, h, n, control, 0.1, math.inf, use)
    prob_all_equivalent(pdf, cdf, h, n, use, 0.1)
