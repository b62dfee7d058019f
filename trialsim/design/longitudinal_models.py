"""Longitudinal models of the endpoint given earlier visits, fitted at an interim (design/longitudinal.py).

Each model reads a look's completers and pending patients (`LookPatients`) and returns, per trial x
arm, the posterior mean and variance of the arm's endpoint mean as an `ArmFit` (the look's
statistics then hold them as pseudo sufficient statistics for the conjugate t posterior), and each
pending patient's imputed endpoint with its predictive SD (calibration records).

- `itp`: FACTS's integrated two-parameter model (FACTS Core user guide, longitudinal models; Fu &
  Manner 2010; docs/references.md). A patient's change at week t is

      y_it = (theta_a + s_i) f_k(t) + e_it,   f_k(t) = (1 - exp(k t)) / (1 - exp(k T)),

  with s_i ~ N(0, tau^2) per patient, e_it ~ N(0, lambda^2), f_k(T) = 1 (so theta_a is the arm's
  mean at the endpoint week T), one shape k for every arm (k -> 0: linear in t; k < 0: early
  response that levels off). tau^2 and lambda^2 are per arm. Given k they are estimated from the
  completers' full visit vectors (lambda^2 from the residuals off the shape, tau^2 from the spread
  of the patients' projections on it); k has a fixed grid (k T from -12 to 6) with weights from
  the completers' profile likelihood summed over arms (flat prior on the grid). Given k the arm
  mean's posterior (flat prior) is normal with precision n_C / (lambda^2 + tau^2) from the
  completers' endpoints plus a_i / (lambda^2 + tau^2 a_i) per pending patient, a_i = sum of f^2
  over his visits (his best estimate of theta is sum f y / a_i); over the grid, the mixture's mean
  and variance. A pending patient's imputation is E[y_T | his visits].
- `mvn`: per arm, the visits' changes and the endpoint jointly normal with an unrestricted mean and
  covariance, estimated by the monotone-missing factorisation (Anderson 1957; Little & Rubin 2019,
  ch. 7): the first visit's mean from every patient who reached it, then each later visit
  (and the endpoint) regressed on all earlier ones among the patients who reached it. The
  endpoint's mean follows the chain mu_j = c_j + beta_j'(mu_<j - zbar_j); its large-sample
  variance by the delta method over the (independent) factors,

      Var = sum_j D_j^2 s_j^2 [1/n_j + (mu_<j - zbar_j)' Szz_j^-1 (mu_<j - zbar_j)],

  D_j = d mu_T / d mu_j. With one earlier visit this is Anderson's estimator and variance.
  Pending patients are imputed by E[y_T | their visits] along the chain.

Completers are followed in full, and visits are reached in order (dropout is monotone), so each
pending patient has a first run of the earlier visits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from scipy import special

COVERAGE = 0.95  # nominal level of the imputations' predictive intervals (calibration records)
ITP_KT = np.linspace(-12.0, 6.0, 19)  # the ITP shape's grid, k times the endpoint week


def sums(index: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(index, weights=weights, minlength=size).astype(float)


def interval_quantile(df: np.ndarray) -> np.ndarray:
    """Student t quantile of the predictive intervals (COVERAGE) at each df: once per distinct df (few)."""
    distinct, where = np.unique(df, return_inverse=True)
    return special.stdtrit(distinct, 0.5 + COVERAGE / 2)[where]


@dataclass(frozen=True)
class ArmFit:
    """A longitudinal model's answer at one look: per trial x arm (b, k), and per pending patient (m,)."""

    fitted: np.ndarray  # (b, k) the arm's model could be fitted (else its completers only)
    n_eff: np.ndarray  # (b, k) completers' variance of the endpoint / Var(arm mean): pseudo complete patients
    big_n: np.ndarray  # (b, k) completers + pending patients with an earlier visit
    y_hat: np.ndarray  # (m,) each pending patient's imputed endpoint (posterior predictive mean)
    pred_sd: np.ndarray  # (m,) its predictive SD
    q: np.ndarray  # (m,) the predictive interval's quantile (COVERAGE)
    theta: np.ndarray | None = None  # (b, k) the arm mean, if not the mean of completers and imputations


@dataclass(frozen=True)
class LookPatients:
    """The flat lists a longitudinal model reads: completers (c) and pending patients (p) of a look."""

    b: int
    k: int
    c_ta: np.ndarray  # completer's trial * k + arm
    y_c: np.ndarray  # its endpoint
    x_c: np.ndarray  # (completers, visits) its earlier visits
    p_ta: np.ndarray
    x: np.ndarray  # pending patient's last earlier visit
    v: np.ndarray  # its index
    x_p: np.ndarray  # (pending, visits) every earlier visit (0 where not reached)
    reached: np.ndarray  # (pending, visits) bool
    weeks: np.ndarray | None  # (visits + 1,) the earlier visits' weeks and the endpoint's (itp)

    @property
    def size(self) -> int:
        return self.b * self.k

    def completer_sums(self, w: np.ndarray | None = None) -> np.ndarray:
        return sums(self.c_ta, self.size, w).reshape(self.b, self.k)

    @functools.cached_property
    def moments(self) -> "CompleterMoments":
        """The completers' sums per trial x arm, once per look (every model and the combination read them)."""
        n, sy, syy, sx, sxx, sxy = _completer_moments(self.c_ta, self.y_c, self.x_c, self.size)
        shape = (self.b, self.k)
        v = self.x_c.shape[1]
        return CompleterMoments(n.reshape(shape), sy.reshape(shape), syy.reshape(shape), sx.reshape((v,) + shape),
                                sxx.reshape((v,) + shape), sxy.reshape((v,) + shape))


    def pending_sums(self, w: np.ndarray | None = None) -> np.ndarray:
        return sums(self.p_ta, self.size, w).reshape(self.b, self.k)


@dataclass(frozen=True)
class CompleterMoments:
    """Sums over a look's completers per trial x arm (b, k), per earlier visit first for x: the values
    `sums` (np.bincount) gives, from one pass."""

    n: np.ndarray
    sum_y: np.ndarray
    sum_y2: np.ndarray
    sum_x: np.ndarray  # (visits, b, k)
    sum_x2: np.ndarray
    sum_xy: np.ndarray


@numba.njit(cache=True, nogil=True)
def _completer_moments(index, y, x, size):
    """n, sum y, sum y^2 and per visit sum x, sum x^2, sum x y: each a sum in the completers' order, as
    np.bincount adds its weights."""
    v = x.shape[1]
    n, sy, syy = np.zeros(size), np.zeros(size), np.zeros(size)
    sx, sxx, sxy = np.zeros((v, size)), np.zeros((v, size)), np.zeros((v, size))
    for i in range(index.size):
        c, yi = index[i], y[i]
        n[c] += 1.0
        sy[c] += yi
        syy[c] += yi * yi
        for j in range(v):
            xi = x[i, j]
            sx[j, c] += xi
            sxx[j, c] += xi * xi
            sxy[j, c] += xi * yi
    return n, sy, syy, sx, sxx, sxy



@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma), as OpenBLAS's dgemm kernels accumulate."""
    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        return builder.call(builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d])), args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@numba.njit(cache=True, nogil=True)
def _completer_grid(index, full, shape, ff, size):
    """Per trial x arm and grid point: sums of the completers' projections on the shape, their squares and
    the residual sums of squares off it; the values and order of `full @ shape.T` (OpenBLAS: an FMA chain
    over the visits), the row sums of full**2 and np.bincount, without the (completers, grid) temporaries."""
    g, v = shape.shape
    s1, s2, s_rss = np.zeros((size, g)), np.zeros((size, g)), np.zeros((size, g))
    for i in range(index.size):
        ta = index[i]
        sq = full[i, 0] * full[i, 0]
        for j in range(1, v):
            sq = sq + full[i, j] * full[i, j]
        for k in range(g):
            along = full[i, 0] * shape[k, 0]
            for j in range(1, v):
                along = _fma(full[i, j], shape[k, j], along)
            proj = along / ff[k]
            rss = sq - along * proj
            s1[ta, k] += proj
            s2[ta, k] += proj * proj
            s_rss[ta, k] += rss if (rss >= 0.0 or rss != rss) else 0.0  # np.maximum(rss, 0.0)
    return s1, s2, s_rss


@numba.njit(cache=True, nogil=True)
def _pending_grid(reached, x, ee, early):
    """Per pending patient and grid point: sum of f^2 over the visits reached, projection sum f y and the
    residual sum of squares, with the values of `reached @ ee.T`, `x @ early.T` (FMA chains, as OpenBLAS)
    and numpy's row sums."""
    n, (g, v) = x.shape[0], early.shape
    a, along, rss = np.empty((n, g)), np.empty((n, g)), np.empty((n, g))
    for i in range(n):
        sq = x[i, 0] * x[i, 0]
        for j in range(1, v):
            sq = sq + x[i, j] * x[i, j]
        for k in range(g):
            ai, al = reached[i, 0] * ee[k, 0], x[i, 0] * early[k, 0]
            for j in range(1, v):
                ai, al = _fma(reached[i, j], ee[k, j], ai), _fma(x[i, j], early[k, j], al)
            a[i, k], along[i, k] = ai, al
            r = sq - al * al / ai
            rss[i, k] = r if (r >= 0.0 or r != r) else 0.0
    return a, along, rss


def itp_shape(kt: np.ndarray, weeks: np.ndarray) -> np.ndarray:
    """f_k(t) = (1 - exp(k t)) / (1 - exp(k T)) at `weeks` (T the last) for each k T of `kt`: (grid, weeks);
    t / T where k = 0."""
    weeks = np.asarray(weeks, dtype=float)
    k = np.asarray(kt, dtype=float)[:, None] / weeks[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.expm1(k * weeks) / np.expm1(k * weeks[-1])
    return np.where(k == 0, weeks / weeks[-1], f)


def itp(look: LookPatients) -> ArmFit:
    """FACTS's ITP model (module docstring): one shape k per trial on a grid, tau^2 and lambda^2 per arm."""
    b, k, size = look.b, look.k, look.size
    if look.weeks is None:
        raise ValueError("the itp model needs the visits' weeks")
    shape = itp_shape(ITP_KT, look.weeks)  # (G, visits + 1)
    n_visits = shape.shape[1] - 1
    ff = (shape * shape).sum(1)
    # completers: projections on the shape (their estimates of theta + s_i) and residuals off it
    s1, s2, s_rss = _completer_grid(look.c_ta, np.column_stack([look.x_c, look.y_c]), shape, ff, size)
    nc = look.moments.n.reshape(size, 1)
    # pending patients: the same over the visits each reached
    early = shape[:, :n_visits]
    with np.errstate(divide="ignore", invalid="ignore"):
        a, along_p, rss_p = _pending_grid(look.reached.astype(float), look.x_p, early * early, early)  # (pending, G)
    n_seen = look.reached.sum(1)[:, None]
    g = len(ff)
    p_index = (look.p_ta[:, None] * g + np.arange(g)).ravel()  # pending patients' (trial x arm, grid point)
    by_grid = lambda w: sums(p_index, size * g, w.ravel()).reshape(size, g)  # noqa: E731 (sums over the pending)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam2 = s_rss / (nc * n_visits)  # residual variance off the shape
        tau2 = np.maximum((s2 - s1 * s1 / nc) / (nc - 1) - lam2 / ff, 0.0)  # patients' spread along it
        d_c = lam2 + tau2 * ff
        lam_i, tau_i = lam2[look.p_ta], tau2[look.p_ta]
        den = lam_i + tau_i * a
        # given k, the arm mean's precision and (precision x) estimate from every patient's visits
        prec = nc * ff / d_c + by_grid(a / den)
        total = ff / d_c * s1 + by_grid(along_p / den)
        theta_k = total / prec
        # log likelihood of k (theta integrated under its flat prior), summed over the trial's arms
        spread = ff / d_c * s2 + by_grid(along_p * along_p / (a * den)) - total * theta_k
        log_lam = np.log(lam2)  # per trial x arm: the pending patients' log lambda^2 is a lookup
        log_det = nc * (n_visits * log_lam + np.log(d_c)) + by_grid((n_seen - 1) * log_lam[look.p_ta] + np.log(den))
        resid = (s_rss + by_grid(rss_p)) / lam2
        loglik = -0.5 * (log_det + resid + spread + np.log(prec))
    usable = ((nc >= 3) & (lam2 > 0) & np.isfinite(loglik) & np.isfinite(theta_k)).all(axis=1)
    loglik = np.where(usable[:, None], loglik, 0.0).reshape(b, k, -1).sum(1)
    weight = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    weight /= weight.sum(axis=1, keepdims=True)  # (b, G): the shape's posterior on the grid
    w_arm = np.repeat(weight, k, axis=0)  # (size, G)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = (w_arm * theta_k).sum(1)
        var = (w_arm * (1 / prec + (theta_k - theta[:, None]) ** 2)).sum(1)
        # pending patients: E[y_T | visits] = theta (1 - g) + tau^2 sum f y / den, g = tau^2 a / den
        th_i, w_i = theta_k[look.p_ta], w_arm[look.p_ta]
        shrink = 1 - tau_i * a / den
        y_k = th_i * shrink + tau_i * along_p / den
        pv_k = (lam2 + tau2)[look.p_ta] - (tau2 * tau2)[look.p_ta] * a / den + shrink**2 / prec[look.p_ta]
        y_hat = (w_i * y_k).sum(1)
        pred_sd = np.sqrt((w_i * (pv_k + (y_k - y_hat[:, None]) ** 2)).sum(1))
    var = var.reshape(b, k)
    var_y = completer_variance(look)
    n_c = nc.reshape(b, k)
    fitted = usable.reshape(b, k) & (var_y > 0) & np.isfinite(var) & (var > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = interval_quantile(np.maximum(n_c - 2, 1).ravel()[look.p_ta])
        return ArmFit(fitted, var_y / var, n_c + look.pending_sums(), y_hat, pred_sd, q, theta.reshape(b, k))


def _moments(index: np.ndarray, size: int, values: np.ndarray, keep: np.ndarray,
             j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trial x arm: count, means of the first j columns of values[keep] (size, j) and their centred
    cross-products (size, j, j)."""
    n, total, raw = _raw_moments(index, values, keep, j, size)
    mean = total / n[:, None]
    return n, mean, raw - n[:, None, None] * mean[:, :, None] * mean[:, None, :]


@numba.njit(cache=True, nogil=True)
def _raw_moments(index, values, keep, j, size):
    """Count, sums and cross-product sums (symmetric) of values[keep, :j] per index: each a sum in the
    rows' order, as np.bincount adds its weights."""
    n, total, raw = np.zeros(size), np.zeros((size, j)), np.zeros((size, j, j))
    for r in range(index.size):
        if not keep[r]:
            continue
        c = index[r]
        n[c] += 1.0
        for i in range(j):
            wi = values[r, i]
            total[c, i] += wi
            for m in range(i, j):
                raw[c, i, m] += wi * values[r, m]
    for i in range(j):
        for m in range(i + 1, j):
            raw[:, m, i] = raw[:, i, m]
    return n, total, raw


def mvn(look: LookPatients) -> ArmFit:
    """Per-arm multivariate normal of the visits and the endpoint by its monotone factorisation (module docstring)."""
    b, k, size = look.b, look.k, look.size
    n_visits = look.x_c.shape[1]
    prefix = np.logical_and.accumulate(look.reached, axis=1)  # visits reached in order
    n_cpl, n_pend = len(look.c_ta), len(look.p_ta)
    values = np.vstack([np.column_stack([look.x_c, look.y_c]),
                        np.column_stack([np.where(prefix, look.x_p, 0.0), np.zeros(n_pend)])])
    seen = np.vstack([np.ones((n_cpl, n_visits + 1), bool), np.column_stack([prefix, np.zeros(n_pend, bool)])])
    ta = np.concatenate([look.c_ta, look.p_ta])
    stages = []  # per variable j: (n, ybar, zbar, beta, s2, inverse of Szz)
    mu = np.zeros((size, n_visits + 1))
    ok = np.ones(size, bool)
    var_terms = []
    for j in range(n_visits + 1):
        with np.errstate(divide="ignore", invalid="ignore"):
            n, mean, centred = _moments(ta, size, values, np.ascontiguousarray(seen[:, j]), j + 1)  # who reached j
            zbar, ybar = mean[:, :j], mean[:, j]
            czz, czy, cyy = centred[:, :j, :j], centred[:, :j, j], centred[:, j, j]
            scale = np.maximum(np.abs(np.diagonal(czz, axis1=1, axis2=2)).prod(-1), 1e-300)
            det = np.linalg.det(czz)
            good = (n > j + 1) & np.isfinite(det) & (det > 1e-10 * scale)
            inv = np.linalg.inv(np.where(good[:, None, None], czz, np.eye(j)))
            beta = np.einsum("sil,sl->si", inv, czy)
            s2 = (cyy - (beta * czy).sum(-1)) / (n - j - 1)
            dev = mu[:, :j] - zbar
            mu[:, j] = ybar + (beta * dev).sum(-1)
            var_terms.append(1 / n + np.einsum("si,sil,sl->s", dev, inv, dev))
        ok &= good & (s2 > 0) & np.isfinite(mu[:, j])
        stages.append((n, ybar, zbar, beta, s2, inv))
    # d mu_T / d mu_j, backwards along the chain
    grad = np.zeros((size, n_visits + 1))
    grad[:, n_visits] = 1.0
    for i in range(n_visits - 1, -1, -1):
        grad[:, i] = sum(grad[:, l] * stages[l][3][:, i] for l in range(i + 1, n_visits + 1))
    with np.errstate(invalid="ignore"):
        var = sum(grad[:, j] ** 2 * stages[j][4] * var_terms[j] for j in range(n_visits + 1))

    # pending patients: each later visit, then the endpoint, predicted from the visits before it
    last = prefix.sum(1) - 1
    filled = np.where(prefix, look.x_p, 0.0)
    pv = np.zeros(n_pend)
    p = look.p_ta
    filled = np.column_stack([filled, np.zeros(n_pend)])
    for j in range(1, n_visits + 1):
        n, ybar, zbar, beta, s2, inv = stages[j]
        todo = last < j
        with np.errstate(invalid="ignore"):
            dev = filled[:, :j] - zbar[p]
            guess = ybar[p] + (beta[p] * dev).sum(-1)
            filled[:, j] = np.where(todo, guess, filled[:, j])
            # the stage's residual and its regression's uncertainty at this patient's predictors
            spread = 1 + 1 / n[p] + np.einsum("mi,mil,ml->m", dev, inv[p], dev)
            pv += np.where(todo, grad[p, j] ** 2 * s2[p] * spread, 0.0)
    var_y = completer_variance(look)
    n_c = look.moments.n
    var = var.reshape(b, k)
    fitted = ok.reshape(b, k) & (n_c >= n_visits + 3) & (var_y > 0) & np.isfinite(var) & (var > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = interval_quantile(np.maximum(n_c - n_visits - 1, 1).ravel()[p])
        return ArmFit(fitted, var_y / var, n_c + look.pending_sums(), filled[:, n_visits], np.sqrt(pv), q,
                      mu[:, n_visits].reshape(b, k))


def completer_variance(look: LookPatients) -> np.ndarray:
    """Completers' sample variance of the endpoint per trial x arm."""
    m = look.moments
    with np.errstate(divide="ignore", invalid="ignore"):
        ybar = m.sum_y / m.n
        return np.maximum(m.sum_y2 - m.n * ybar**2, 0.0) / (m.n - 1)


def warm_up() -> None:
    """Load the kernels now (before forking workers), with the argument types the models pass."""
    shape = np.ones((2, 3))
    _completer_grid(np.zeros(1, np.int64), np.ones((1, 3)), shape, np.ones(2), 1)
    _completer_moments(np.zeros(1, np.int64), np.ones(1), np.ones((1, 2)), 1)
    _raw_moments(np.zeros(1, np.int64), np.ones((1, 2)), np.ones(1, bool), 2, 1)
    _pending_grid(np.ones((1, 2)), np.ones((1, 2)), np.ones((2, 2)), shape[:, :2])
