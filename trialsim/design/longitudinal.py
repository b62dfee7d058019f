"""Interim analyses that use the pending patients' earlier visits (issue 13).

At an interim, patients randomised but not yet at the endpoint may have
reached earlier visits (arrival + visit week <= look time). A design's
`analysis.longitudinal` says what the interim does with them:

- `none`: nothing (only patients with the endpoint are analysed);
- `locf`: a pending patient's last earlier visit stands in for the endpoint
  (a naive reference: it treats a 4-week change as a 12-week one);
- `regression`: per arm and earlier visit v, a linear regression of the
  endpoint on visit v learned from the arm's completers; each pending patient
  is imputed from the last visit he reached. The arm's mean is integrated
  analytically, as the monotone-missing-data estimator of Anderson (1957,
  docs/references.md; Little & Rubin 2019, ch. 7):

      theta = ybar_C + sum_v (m_v / N) beta_v (xbar_Pv - xbar_Cv),

  with N = n_C + sum_v m_v, and the large-sample variance

      N^2 Var = N s_y^2 + sum_v m_v s_ev^2 + (sum_v m_v s_ev)^2 / n_C
                + sum_v s_ev^2 m_v^2 (xbar_Pv - xbar_Cv)^2 / Sxx_v,

  (s_y^2: completers' variance of the endpoint; s_ev^2: residual variance
  given visit v; residuals given different visits taken as fully correlated,
  which is conservative). With one earlier visit it is Anderson's variance.
  The exact engine receives these as pseudo sufficient statistics: the arm
  holds n_eff = s_y^2 / Var "complete patients" with mean theta, so its
  conjugate t posterior has that mean and variance (df n_eff - 1). Phenotype
  cells keep their own completers plus imputations, scaled by the arm's
  n_eff / N, so that they add up to the arm.

Completers are followed in full (dropout is monotone), so each has every
earlier visit. Only interim looks use this: the final analysis has observed
endpoints only. With no pending patient at an earlier visit, the data are
returned untouched (bit-identical to `none`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..inference.base import LookData
from .longitudinal_models import ArmFit, LookPatients, completer_variance, interval_quantile, itp, mvn, sums


@dataclass(frozen=True)
class Imputation:
    """Calibration of a look's imputations against the endpoints later observed, per trial."""

    n: np.ndarray  # patients imputed whose endpoint is later observed
    error: np.ndarray  # sum of (imputed - observed), internal scale
    error2: np.ndarray  # sum of squared errors
    covered: np.ndarray  # observed endpoints inside the 95% predictive interval (regression only)


@dataclass(frozen=True)
class Pending:
    """The pending patients of a look who reached an earlier visit (a window of patients per trial)."""

    mask: np.ndarray  # (trials, patients) pending with an earlier visit seen by the look
    x: np.ndarray  # (trials, patients) outcome at the last such visit, internal scale
    visit: np.ndarray  # (trials, patients) its index among the design's earlier visits
    reached: np.ndarray | None = None  # (trials, patients, visits) every earlier visit seen by the look (itp, mvn);
    # None: the last one only


def pending_patients(arm: np.ndarray, usable: np.ndarray, early: np.ndarray, seen: np.ndarray,
                     arrival: np.ndarray, weeks: np.ndarray, time: np.ndarray, n_look: np.ndarray,
                     randomised: np.ndarray) -> Pending:
    """Pending patients (columns n_look..randomised-1) and their last earlier visit reached by `time`.

    arm, usable, arrival: (trials, patients); early, seen: (trials, patients, visits); weeks (visits,)
    ascending; time, n_look, randomised: (trials,).
    """
    b, w, v = early.shape
    mask, x, last, reached = np.zeros((b, w), bool), np.zeros((b, w)), np.full((b, w), v - 1), np.zeros((b, w, v), bool)
    _pending(arm, usable, early, seen, arrival, np.asarray(weeks, float), np.asarray(time, float),
             np.asarray(n_look, np.int64), np.asarray(randomised, np.int64), mask, x, last, reached)
    return Pending(mask, x, last, reached)


@numba.njit(cache=True, nogil=True)
def _pending(arm, usable, early, seen, arrival, weeks, time, n_look, randomised, mask, x, last, reached):
    """pending_patients' arrays (preset to no one pending), visiting the pending columns only: a visit is
    reached when seen and arrival + week <= the look's time (the same float comparison as the array form)."""
    for t in range(arm.shape[0]):
        for c in range(n_look[t], min(randomised[t], arm.shape[1])):
            if not usable[t, c] or arm[t, c] < 0:
                continue
            for j in range(weeks.size):
                if seen[t, c, j] and arrival[t, c] + weeks[j] <= time[t]:
                    reached[t, c, j] = mask[t, c] = True
                    last[t, c], x[t, c] = j, early[t, c, j]


def warm_up() -> None:
    """Load the compiled kernels now (before forking workers that inherit them)."""
    from .longitudinal_models import warm_up as models

    one = np.ones((1, 1))
    pending_patients(np.zeros((1, 1), np.int16), one > 0, np.ones((1, 1, 2)), np.ones((1, 1, 2)) > 0, one,
                     np.ones(2), np.ones(1), np.zeros(1, np.int64), np.ones(1, np.int64))
    models()


def combine(data: LookData, mode: str, arm: np.ndarray, completer: np.ndarray, y: np.ndarray, early: np.ndarray,
            pending: Pending, phenotype: np.ndarray, final_seen: np.ndarray, baseline: np.ndarray | None = None,
            weeks: np.ndarray | None = None) -> tuple[LookData, Imputation]:
    """The look's statistics with the pending patients (`mode` locf, regression, itp or mvn), and their calibration.

    data: completers' statistics (trials, arms, phenotypes); arm, completer, y, phenotype, final_seen:
    (trials, patients) over the same window as `pending`, early (trials, patients, visits).
    final_seen marks pending patients whose endpoint will be observed (calibration only). baseline
    (trials, patients), if given, adds the pending patients' baseline NRS to the covariate sums (for
    engines adjusting for it, PyMC). weeks: the earlier visits' weeks then the endpoint's (itp).
    """
    b, k, p = data.n.shape
    zeros = np.zeros(b)
    if not pending.mask.any():
        return data, Imputation(zeros, zeros, zeros, zeros)
    # pending patients as flat lists (a few per trial): their trial, arm, cell, last visit and score
    mask = pending.mask
    pt = np.nonzero(mask)[0]
    p_arm = arm[mask].astype(np.int64)
    p_ta = pt * k + p_arm
    p_cell = p_ta * p + phenotype[mask]
    x, v = pending.x[mask], pending.visit[mask]
    y_p, scored_p = y[mask], final_seen[mask]
    bx = None if baseline is None else baseline[mask]
    if mode == "locf":
        add = [sums(p_cell, b * k * p, w).reshape(b, k, p) for w in (None, x, x * x)]
        sx = _covariate_sums(data, p_cell, bx, x)
        err = np.where(scored_p, x - y_p, 0.0)
        out = LookData(data.n + add[0], data.sum_y + add[1], data.sum_y2 + add[2], *sx, data.binary, data.prevalence)
        return out, Imputation(sums(pt, b, scored_p), sums(pt, b, err), sums(pt, b, err * err), zeros)
    if mode not in MODELS:
        raise ValueError(f"unknown longitudinal model '{mode}'")
    ct = np.nonzero(completer)[0]
    if pending.reached is not None:
        reached = pending.reached[mask]
    else:  # the last visit only
        reached = np.arange(early.shape[-1]) == v[:, None]
    look = LookPatients(b, k, ct * k + arm[completer], y[completer], early[completer], p_ta, x, v,
                        np.where(reached, early[mask], 0.0), reached, weeks)
    fit = MODELS[mode](look)

    # pending patients of arms whose model could be fitted
    use = fit.fitted.ravel()[p_ta]
    p_cell, y_p, scored_p, pt = (a[use] for a in (p_cell, y_p, scored_p, pt))
    y_hat, pred_sd, q = fit.y_hat[use], fit.pred_sd[use], fit.q[use]
    size = b * k
    m = sums(p_ta[use], size).reshape(b, k)
    big_n, n_eff = fit.big_n, fit.n_eff
    var_y = completer_variance(look)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = n_eff / big_n
    imputed = fit.fitted & (m > 0)
    n_cell = sums(p_cell, size * p).reshape(b, k, p) + data.n
    t_cell = sums(p_cell, size * p, y_hat).reshape(b, k, p) + data.sum_y
    q_cell = sums(p_cell, size * p, y_hat * y_hat).reshape(b, k, p) + data.sum_y2
    sx = _covariate_sums(data, p_cell, None if bx is None else bx[use], y_hat)
    if fit.theta is not None:  # every patient of the arm shifted so that the arm's mean is theta
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(imputed, fit.theta - t_cell.sum(-1) / big_n, 0.0)[..., None]
        q_cell = q_cell + 2 * d * t_cell + n_cell * d * d
        t_cell = t_cell + n_cell * d
        sx = (sx[0], sx[1], sx[2] + d * sx[0])
    t_arm, q_arm = t_cell.sum(-1), q_cell.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # spread added per pseudo patient so that the arm's t posterior has variance Var
        c = (var_y * (n_eff - 1) - r * (q_arm - t_arm**2 / big_n)) / n_eff
    r3, c3 = r[..., None], c[..., None]
    keep = ~imputed[..., None]
    n_new = np.where(keep, data.n, r3 * n_cell)
    old = (data.sum_x, data.sum_x2, data.sum_xy)
    scaled = old if bx is None else [np.where(keep, o, r3 * new) for o, new in zip(old, sx)]
    out = LookData(n_new, np.where(keep, data.sum_y, r3 * t_cell),
                   np.where(keep, data.sum_y2, r3 * q_cell + c3 * n_new),
                   *scaled, data.binary, data.prevalence)

    # calibration of each imputation against the endpoint later observed
    err = np.where(scored_p, y_hat - y_p, 0.0)
    covered = scored_p & (np.abs(y_hat - y_p) <= q * pred_sd)
    return out, Imputation(sums(pt, b, scored_p), sums(pt, b, err), sums(pt, b, err * err), sums(pt, b, covered))


def _covariate_sums(data: LookData, p_cell: np.ndarray, bx: np.ndarray | None,
                    y_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sum x, sum x^2, sum x y) of the cells with the pending patients' baselines x and imputations."""
    if bx is None:
        return data.sum_x, data.sum_x2, data.sum_xy
    shape, size = data.n.shape, data.n.size
    return tuple(sums(p_cell, size, w).reshape(shape) + old
                 for w, old in ((bx, data.sum_x), (bx * bx, data.sum_x2), (bx * y_hat, data.sum_xy)))


def regression(look: LookPatients) -> ArmFit:
    """Per arm and earlier visit, the endpoint regressed on the visit among completers; each pending
    patient imputed from his last visit; Anderson's estimator of the arm mean (module docstring)."""
    b, k, size = look.b, look.k, look.size
    n_visits = look.x_c.shape[-1]
    mom = look.moments
    n_c = mom.n
    with np.errstate(divide="ignore", invalid="ignore"):
        ybar = mom.sum_y / n_c
        ss_y = np.maximum(mom.sum_y2 - n_c * ybar**2, 0.0)
        var_y = ss_y / (n_c - 1)
        beta, xbar, sxx, var_e = (np.zeros((n_visits, b, k)) for _ in range(4))
        for j in range(n_visits):
            xbar[j] = mom.sum_x[j] / n_c
            sxx[j] = mom.sum_x2[j] - n_c * xbar[j] ** 2
            sxy = mom.sum_xy[j] - n_c * xbar[j] * ybar
            beta[j] = sxy / sxx[j]
            var_e[j] = np.maximum(ss_y - beta[j] * sxy, 0.0) / (n_c - 2)
    fitted = (n_c >= 3) & (var_y > 0) & (sxx > 0).all(axis=0) & np.isfinite(beta).all(axis=0)

    # imputations: ybar_C + beta_v (x - xbar_v) at each pending patient's last visit
    p_ta, x, v = look.p_ta, look.x, look.v
    flat = lambda a: a.reshape(n_visits, size)[v, p_ta]  # noqa: E731 (per visit x trial-arm -> per patient)
    b_i, xbar_i, e_i, sxx_i = flat(beta), flat(xbar), flat(var_e), flat(sxx)
    with np.errstate(invalid="ignore"):
        y_hat = ybar.ravel()[p_ta] + b_i * (x - xbar_i)

    # the arm's mean and variance (module docstring); pending patients of unfitted arms count only there
    by_visit = v * size + p_ta
    m_v = sums(by_visit, n_visits * size).reshape(n_visits, b, k)
    x_pv = sums(by_visit, n_visits * size, x).reshape(n_visits, b, k)
    m = m_v.sum(axis=0)
    big_n = n_c + m
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(m_v > 0, x_pv / m_v - xbar, 0.0)
        n2_var = (big_n * var_y + (m_v * var_e).sum(0) + (m_v * np.sqrt(var_e)).sum(0) ** 2 / n_c
                  + (var_e * m_v**2 * gap**2 / sxx).sum(0))
        n_eff = var_y * big_n**2 / n2_var
        n_i = n_c.ravel()[p_ta]
        pred_sd = np.sqrt(e_i * (1 + 1 / n_i + (x - xbar_i) ** 2 / sxx_i))
        q = interval_quantile(np.maximum(n_c - 2, 1).ravel()[p_ta])
    return ArmFit(fitted, n_eff, big_n, y_hat, pred_sd, q)


MODELS = {"regression": regression, "itp": itp, "mvn": mvn}
