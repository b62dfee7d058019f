"""Proposal densities of the fast path: grids over a log scale and multivariate t pieces.

Everything here draws from a density it can also evaluate exactly, because
importance weights need ``log q`` of every draw:

* `SigmaGrid`: per trial and arm, the Laplace marginal of a log scale
  (log sigma, or a per-arm log residual SD) at grid nodes, turned into a
  density that is exponential (log-linear) between nodes and has
  exponential tails beyond the ends; sampled by inverse CDF.
* `fill_t_draws`: multivariate t draws around Gaussians given per node; a
  draw between nodes k and k + 1 uses the linear interpolation of the nodes'
  means, shared-parameter shifts and Cholesky factors, so the proposal
  follows the conditional posterior continuously along the grid.

Loops over draws run in numba so no (draws x matrix) array is materialised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import special

from .pymc_random import TrialRandom

T_DF = 15.0  # degrees of freedom of the multivariate t proposals: tails heavier than Gaussian
TAIL_RATE_MIN = 0.5  # tails beyond the grid at least as heavy as exp(-0.5 |u|)
LEFT_RATE_MAX = 5.0


@numba.njit(cache=True)
def _fill_t_draws(theta, cols, mean, chol, log_det, shift, node, weight, dev, e, scale,
                  log_sigma, mu_pos, is_z, log_const, df):  # pragma: no cover - numba
    """Write t draws into theta[t, i, cols[a]] and return their log density (T, n, A).

    Draw (t, i, a) lies between nodes k and k + 1 with weight w: its mean,
    shared shift and Cholesky factor are interpolated linearly (a convex
    combination of lower-triangular factors with positive diagonals is one).
    mean (T, A, K, m), chol (T, A, K, m, m), log_det (T, A, K), shift
    (T, A, K, m, s), node / weight (T, n, A), dev (T, n, s), e (T, n, A, m),
    scale (T, n, A) = 1 / sqrt(chi2 / df).
    With is_z set the draw is (mu, alpha) in centred coordinates and is stored
    as (mu, z = (alpha - mu) / sigma) with sigma = exp(log_sigma[t, i, a]),
    the Jacobian sigma^(number of z) entering the density.
    """
    n_t, n_i, n_a, m = e.shape
    n_k, n_s = mean.shape[2], dev.shape[2]
    n_z = 0
    for r in range(m):
        n_z += is_z[r]
    centred = n_z > 0
    logq = np.empty((n_t, n_i, n_a))
    x = np.empty(m)
    for t in range(n_t):
        for i in range(n_i):
            for a in range(n_a):
                k0 = node[t, i, a]
                k1 = min(k0 + 1, n_k - 1)
                w1 = weight[t, i, a]
                w0 = 1.0 - w1
                sc = scale[t, i, a]
                maha = 0.0
                det = 1.0  # product of the interpolated diagonal: one log per draw, not m
                for r in range(m):
                    acc = w0 * mean[t, a, k0, r] + w1 * mean[t, a, k1, r]
                    for c in range(n_s):
                        acc += (w0 * shift[t, a, k0, r, c] + w1 * shift[t, a, k1, r, c]) * dev[t, i, c]
                    z = 0.0
                    for c in range(r + 1):
                        z += (w0 * chol[t, a, k0, r, c] + w1 * chol[t, a, k1, r, c]) * e[t, i, a, c]
                    x[r] = acc + z * sc
                    maha += e[t, i, a, r] * e[t, i, a, r]
                    if w1 > 0.0:
                        det *= w0 * chol[t, a, k0, r, r] + w1 * chol[t, a, k1, r, r]
                ld = np.log(det) if w1 > 0.0 else log_det[t, a, k0]
                maha *= sc * sc
                lq = log_const - ld - 0.5 * (df + m) * np.log1p(maha / df)
                if centred:
                    ls = log_sigma[t, i, a]
                    inv_sigma = np.exp(-ls)
                    mu = x[mu_pos]
                    for r in range(m):
                        if is_z[r]:
                            x[r] = (x[r] - mu) * inv_sigma
                    lq += n_z * ls
                for r in range(m):
                    theta[t, i, cols[a, r]] = x[r]
                logq[t, i, a] = lq
    return logq


def fill_t_draws(
    rng: TrialRandom, theta, cols, mean, chol, shift, node, weight, dev, centred=None, df: float = T_DF
) -> np.ndarray:
    """Multivariate t draws per (trial, draw, arm) written into theta; returns log q (T, n, A).

    cols (A, m): theta columns of each arm's m coordinates; mean (T, A, K, m),
    chol (T, A, K, m, m), shift (T, A, K, m, s) at K nodes; node, weight
    (T, n, A) place every draw between nodes; dev (T, n, s) shared deviations.
    centred = (log sigma (T, n, A), mu position, z positions): see `_fill_t_draws`.
    """
    shape = node.shape
    m = mean.shape[-1]
    e = rng.standard_normal(shape + (m,), dtype=np.float32)  # float32: twice as fast, ample for a proposal
    scale = 1.0 / np.sqrt(rng.chisquare(df, shape) / df)
    log_det = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    log_const = special.gammaln((df + m) / 2) - special.gammaln(df / 2) - m / 2 * np.log(df * np.pi)
    log_sigma, mu_pos, is_z = np.zeros((1, 1, 1)), 0, np.zeros(m, np.int64)
    if centred is not None:
        log_sigma, mu_pos = centred[0], int(centred[1])
        is_z[np.asarray(centred[2])] = 1
    return _fill_t_draws(
        theta, np.asarray(cols, np.int64), mean, chol, log_det, shift, node, weight, dev, e, scale,
        log_sigma, mu_pos, is_z, log_const, df,
    )


def single_t_draws(rng: TrialRandom, theta, cols, mean, chol, shift, dev, df: float = T_DF) -> np.ndarray:
    """t draws around one Gaussian per (trial, arm) written into theta[..., cols]:
    mean (T, A, m), chol (T, A, m, m), shift (T, A, m, s), dev (T, n, s)."""
    node = np.zeros((mean.shape[0], dev.shape[1], mean.shape[1]), dtype=np.int64)
    return fill_t_draws(
        rng, theta, cols, mean[:, :, None], chol[:, :, None], shift[:, :, None], node, np.zeros(node.shape), dev,
        df=df,
    )


# --------------------------------------------------------------------------
# The log sigma grid
# --------------------------------------------------------------------------


def _log_segment_integral(delta: np.ndarray) -> np.ndarray:
    """log of integral_0^1 exp(delta t) dt = log(expm1(delta) / delta), without overflow."""
    size = np.maximum(np.abs(delta), 1e-300)
    small = np.abs(delta) < 1e-8
    value = np.maximum(delta, 0.0) + np.log(-np.expm1(-size) / size)
    return np.where(small, delta / 2, value)


@dataclass(frozen=True)
class SigmaGrid:
    """Per trial and arm: a density over a log scale (log sigma or log s) and a
    Gaussian for the arm's other parameters at every node.

    Pieces: 0 = left tail, 1..K-1 = segments between nodes, K = right tail.
    """

    u: np.ndarray  # (T, A, K) equally spaced nodes
    log_pi: np.ndarray  # (T, A, K) unnormalised log marginal at the nodes
    log_mass: np.ndarray  # (T, A, K + 1) normalised log mass of the pieces
    rate: np.ndarray  # (T, A, 2) tail rates
    mean: np.ndarray  # (T, A, K, m)
    chol: np.ndarray  # (T, A, K, m, m)
    shift: np.ndarray  # (T, A, K, m, s)

    @classmethod
    def from_nodes(cls, u, log_pi, mean, chol, shift) -> "SigmaGrid":
        h = u[..., 1] - u[..., 0]  # (T, A)
        delta = np.diff(log_pi, axis=-1)  # (T, A, K - 1)
        left = np.clip(delta[..., 0] / h, TAIL_RATE_MIN, LEFT_RATE_MAX)
        right = np.maximum(-delta[..., -1] / h, TAIL_RATE_MIN)
        log_seg = log_pi[..., :-1] + np.log(h)[..., None] + _log_segment_integral(delta)
        log_mass = np.concatenate(
            [(log_pi[..., 0] - np.log(left))[..., None], log_seg, (log_pi[..., -1] - np.log(right))[..., None]],
            axis=-1,
        )
        log_mass -= special.logsumexp(log_mass, axis=-1, keepdims=True)
        return cls(np.ascontiguousarray(u), log_pi, log_mass, np.stack([left, right], axis=-1), mean, chol, shift)

    def tail_mass(self) -> np.ndarray:
        """(T,) largest mass any arm's density puts beyond the grid."""
        tails = np.exp(self.log_mass[..., 0]) + np.exp(self.log_mass[..., -1])
        return tails.max(axis=-1)

    def sample(self, n: int, rng: TrialRandom):
        """Draws (T, n, A) of the log scale with log density, lower node and interpolation weight."""
        n_t, n_a = self.log_pi.shape[:2]
        cdf = np.cumsum(np.exp(self.log_mass), axis=-1)
        cdf /= cdf[..., -1:]
        shape = (n_t, n, n_a)
        v, w, expo = rng.random(shape), rng.random(shape), rng.standard_exponential(shape)
        delta = np.diff(self.log_pi, axis=-1)  # per segment: log density rise, its expm1, log normaliser
        h = self.u[..., 1:2] - self.u[..., 0:1]
        log_norm = -_log_segment_integral(delta) - np.log(h)
        constant = self.log_mass[..., 1:-1] + log_norm  # log q at the segment's left node
        return _grid_draws(cdf, self.log_mass, delta, np.expm1(delta), constant, self.rate, self.u, v, w, expo)


@numba.njit(cache=True)
def _grid_draws(cdf, log_mass, delta, expm1_delta, constant, rate, u_nodes, v, w, expo):  # pragma: no cover
    """Inverse-CDF draws from the piecewise log-linear density with exponential tails.

    Segment k (nodes k, k + 1): density exp(constant[k] + delta[k] * f) at
    fraction f of the segment, f drawn as log1p(w * expm1(delta)) / delta.
    """
    n_t, n_i, n_a = v.shape
    n_k = u_nodes.shape[2]
    u = np.empty(v.shape)
    logq = np.empty(v.shape)
    node = np.zeros(v.shape, dtype=np.int64)
    weight = np.zeros(v.shape)
    for t in range(n_t):
        for a in range(n_a):
            lo, hi = u_nodes[t, a, 0], u_nodes[t, a, n_k - 1]
            h = u_nodes[t, a, 1] - lo
            for i in range(n_i):
                piece = min(np.searchsorted(cdf[t, a], v[t, i, a], side="right"), n_k)
                if piece == 0:  # left tail
                    u[t, i, a] = lo - expo[t, i, a] / rate[t, a, 0]
                    logq[t, i, a] = log_mass[t, a, 0] + np.log(rate[t, a, 0]) - expo[t, i, a]
                elif piece == n_k:  # right tail
                    u[t, i, a] = hi + expo[t, i, a] / rate[t, a, 1]
                    logq[t, i, a] = log_mass[t, a, n_k] + np.log(rate[t, a, 1]) - expo[t, i, a]
                    node[t, i, a] = n_k - 1
                else:  # segment between nodes piece - 1 and piece
                    k = piece - 1
                    d = delta[t, a, k]
                    frac = w[t, i, a] if abs(d) < 1e-8 else np.log1p(w[t, i, a] * expm1_delta[t, a, k]) / d
                    u[t, i, a] = u_nodes[t, a, k] + h * frac
                    logq[t, i, a] = constant[t, a, k] + d * frac
                    node[t, i, a] = k
                    weight[t, i, a] = frac
    return u, logq, node, weight


# --------------------------------------------------------------------------
# Importance resampling
# --------------------------------------------------------------------------


def psis_resample(logw: np.ndarray, draws: int, rng: TrialRandom):
    """Pareto-smoothed importance resampling per row of log weights (T, rows, n).

    Returns indices (T, rows, draws), Pareto k (T, rows) and the ESS of the
    smoothed weights (T, rows).
    """
    import arviz as az

    smoothed, khat = az.psislw(logw.copy())
    w = np.exp(smoothed - smoothed.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    ess = 1.0 / np.sum(w**2, axis=-1)
    return systematic_resample(w, draws, rng), khat, ess


def systematic_resample(w: np.ndarray, draws: int, rng: TrialRandom) -> np.ndarray:
    """Systematic resampling of every row of normalised weights, order then shuffled."""
    cdf = np.cumsum(w, axis=-1)
    cdf /= cdf[..., -1:]
    points = (rng.random(w.shape[:-1] + (1,)) + np.arange(draws)) / draws
    flat_cdf, flat_pts = cdf.reshape(-1, cdf.shape[-1]), points.reshape(-1, draws)
    index = np.stack([np.searchsorted(c, p) for c, p in zip(flat_cdf, flat_pts)]).reshape(points.shape)
    index = np.minimum(index, w.shape[-1] - 1)
    return rng.permuted(index)


@numba.njit(cache=True)
def gather_rows(theta, index, col_groups):  # pragma: no cover - numba
    """out[t, d, cols_g] = theta[t, index[t, g, d], cols_g] for every column group g.

    theta (T, n, P), index (T, G, draws), col_groups (G, c): groups resampled
    independently (arms), or one group of every column (joint weights).
    """
    n_t, n_g, n_d = index.shape
    out = np.empty((n_t, n_d, theta.shape[2]))
    for t in range(n_t):
        for g in range(n_g):
            for d in range(n_d):
                row = index[t, g, d]
                for c in col_groups[g]:
                    out[t, d, c] = theta[t, row, c]
    return out
