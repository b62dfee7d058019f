"""Exact analysis of within-patient designs: period + treatment effects within patients (pure numpy / scipy).

Every complete patient i has outcomes y_ip in periods p = 1..P under arms a_ip given by their
sequence s(i). The linear mixed model

    y_ip = alpha_i + pi_p + tau_{a_ip} + e_ip,   e_ip ~ N(0, sigma^2),   alpha_i patient effects

estimates period and treatment effects from within-patient contrasts. When every sequence holds
the same treatments the same number of times (AB/BA, ABBA/BAAB, Williams squares, N-of-1 blocks),
patient totals carry no treatment information, so the random-patient (REML) estimate of the
treatment effects equals the within-patient (fixed-patient) one: under the flat prior
p(beta, sigma^2) ~ 1 / sigma^2 the posterior of beta = (pi_2..pi_P, tau_k - tau_ref) is the
multivariate t with N (P - 1) - q degrees of freedom, location the least-squares estimate and scale
s^2 (X'X)^-1 of the patient-centred design (exact, no Monte Carlo). For AB/BA this is the classic
analysis of period differences: tau_B - tau_A = (mean d_AB - mean d_BA) / 2 with N - 2 df.

Sufficient statistics per trial are small: patients per sequence n_s, outcome sums per sequence
and period Y_sp, and the within-patient sum of squares W.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ufuncs import special

PROB_BEST_DRAWS = 2000  # fixed draws for Pr(best) and Pr(all equivalent) among more than two arms


@dataclass(frozen=True)
class SequenceDesign:
    """Sequences of arms over periods (S, P) and their patient-centred design rows (S, P, q)."""

    sequences: np.ndarray  # (S, P) arm index per sequence and period
    n_arms: int
    reference: int  # the arm whose effect is 0 (the control)

    @property
    def n_periods(self) -> int:
        return self.sequences.shape[1]

    @property
    def others(self) -> np.ndarray:
        return np.array([a for a in range(self.n_arms) if a != self.reference], np.int64)

    @property
    def q(self) -> int:
        return self.n_periods - 1 + self.n_arms - 1

    def rows(self) -> np.ndarray:
        """Uncentred design rows (S, P, q): period indicators 2..P, then non-reference treatments."""
        s, p = self.sequences.shape
        x = np.zeros((s, p, self.q))
        for j in range(1, p):
            x[:, j, j - 1] = 1.0
        for col, arm in enumerate(self.others):
            x[..., p - 1 + col] = self.sequences == arm
        return x


@dataclass(frozen=True)
class WithinStats:
    """Sufficient statistics of complete patients per trial."""

    n: np.ndarray  # (trials, S) patients per sequence
    sums: np.ndarray  # (trials, S, P) outcome sums per sequence and period
    within_ss: np.ndarray  # (trials,) sum over patients and periods of (y_ip - mean_i)^2


def within_stats(y: np.ndarray, sequence: np.ndarray, include: np.ndarray, n_sequences: int) -> WithinStats:
    """Statistics of patients with `include` (trials, patients): y (trials, patients, P), sequence index."""
    b, _, p = y.shape
    cell = np.where(include, np.arange(b)[:, None] * n_sequences + sequence, b * n_sequences)
    n = np.bincount(cell.ravel(), minlength=b * n_sequences + 1)[:-1].reshape(b, n_sequences).astype(float)
    sums = np.stack([np.bincount(cell.ravel(), weights=y[..., j].ravel(), minlength=b * n_sequences + 1)[:-1]
                     for j in range(p)], axis=-1).reshape(b, n_sequences, p)
    centred = y - y.mean(axis=-1, keepdims=True)
    within_ss = np.where(include, (centred ** 2).sum(axis=-1), 0.0).sum(axis=1)
    return WithinStats(n, sums, within_ss)


@dataclass(frozen=True)
class WithinPosterior:
    """The multivariate t posterior of the arms' effects relative to the reference, per trial (a
    `Posterior`: theta_k = the arm's least-squares mean over periods; differences are exact t)."""

    level: np.ndarray  # (trials, arms) least-squares mean of each arm (posterior mean of theta)
    cov: np.ndarray  # (trials, arms, arms) scale matrix of the effects (0 for the reference)
    df: np.ndarray  # (trials,) degrees of freedom (<= 0: improper)
    reference: int

    def mean(self) -> np.ndarray:
        return self.level

    def median(self) -> np.ndarray:
        return self.level  # symmetric

    def proper(self, active: np.ndarray) -> np.ndarray:
        return (self.df >= 1) & np.isfinite(self.cov).all(axis=(1, 2))

    def take(self, rows: np.ndarray) -> "WithinPosterior":
        return WithinPosterior(self.level[rows], self.cov[rows], self.df[rows], self.reference)

    def _difference(self, control: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, scale) of theta_k - theta_control, (trials, arms)."""
        rows = np.arange(len(control))
        d = self.level - self.level[rows, control][:, None]
        diag = np.diagonal(self.cov, axis1=1, axis2=2)
        v = diag + diag[rows, control][:, None] - 2 * self.cov[rows, :, control]
        return d, np.sqrt(np.maximum(v, 0.0))

    def _t_cdf(self, x: np.ndarray) -> np.ndarray:
        df = np.maximum(self.df, 1.0)[:, None]
        return special.stdtr(df, x)

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        d, sd = self._difference(control)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = self._t_cdf((d - delta) / sd)
        return np.where(sd > 0, p, (d > delta).astype(float))

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        d, sd = self._difference(control)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = self._t_cdf((margin - d) / sd) - self._t_cdf((-margin - d) / sd)
        return np.where(sd > 0, p, (np.abs(d) < margin).astype(float))

    def sample(self, rng: np.random.Generator, n_draws: int) -> np.ndarray:
        return self._draws(rng.standard_normal((n_draws, self.level.shape[1])), rng.random(n_draws))

    def _draws(self, z: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Multivariate t draws (trials, draws, arms) from standard normals z (draws, arms) and uniforms u."""
        chol = np.linalg.cholesky(np.nan_to_num(self.cov) + 1e-12 * np.eye(self.cov.shape[1]))
        df = np.maximum(self.df, 1.0)
        values, which = np.unique(df, return_inverse=True)  # few distinct df: quantiles once per value
        scale = np.sqrt(values[:, None] / special.chdtri(values[:, None], u[None, :]))[which]  # (trials, draws)
        return self.level[:, None, :] + np.einsum("bij,dj->bdi", chol, z) * scale[..., None]

    def _fixed_draws(self) -> np.ndarray:
        g = np.random.default_rng(20261128)  # fixed: probabilities are deterministic functions of the data
        return self._draws(g.standard_normal((PROB_BEST_DRAWS, self.level.shape[1])), g.random(PROB_BEST_DRAWS))

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        """Exact for up to two active arms (Pr(one beats the other)); fixed draws for more."""
        n_active = active.sum(axis=1)
        out = np.where(n_active[:, None] == 1, active, 0.0).astype(float)
        two = np.flatnonzero(n_active == 2)
        if two.size:
            first = active[two].argmax(axis=1)
            second = active.shape[1] - 1 - active[two][:, ::-1].argmax(axis=1)
            beats = self.take(two).prob_better(first, 0.0)[np.arange(two.size), second]
            out[two, second], out[two, first] = beats, 1.0 - beats
        more = np.flatnonzero(n_active > 2)
        if more.size:
            draws = np.where(active[more, None, :], self.take(more)._fixed_draws(), -np.inf)
            best = draws.argmax(axis=2)
            counts = (best[:, :, None] == np.arange(active.shape[1])).mean(axis=1)
            out[more] = np.where(active[more], counts, 0.0)
        return out

    def prob_all_equivalent(self, active: np.ndarray, margin: float) -> np.ndarray:
        draws = self._fixed_draws()
        hi = np.where(active[:, None, :], draws, -np.inf).max(axis=2)
        lo = np.where(active[:, None, :], draws, np.inf).min(axis=2)
        return (hi - lo < margin).mean(axis=1)


def within_posterior(design: SequenceDesign, data: WithinStats) -> WithinPosterior:
    """The exact posterior (flat prior) of the mixed model above, per trial."""
    x = design.rows()
    centred = x - x.mean(axis=1, keepdims=True)
    per_sequence = np.einsum("spq,spr->sqr", centred, centred)
    xtx = np.einsum("bs,sqr->bqr", data.n, per_sequence)
    xty = np.einsum("bsp,spq->bq", data.sums, centred)
    n_patients = data.n.sum(axis=1)
    df = n_patients * (design.n_periods - 1) - design.q
    # full rank: every contrast is estimable (enough sequences have patients)
    eig = np.linalg.eigvalsh(xtx)
    ok = (eig[:, 0] > 1e-9 * np.maximum(eig[:, -1], 1e-300)) & (df >= 1)
    safe = np.where(ok[:, None, None], xtx, np.eye(design.q))
    inverse = np.linalg.inv(safe)
    beta = np.einsum("bqr,br->bq", inverse, xty)
    rss = np.maximum(data.within_ss - np.einsum("bq,bq->b", beta, xty), 0.0)
    s2 = np.where(ok, rss / np.maximum(df, 1), np.nan)
    p, k = design.n_periods, design.n_arms
    tau_index = p - 1 + np.arange(k - 1)
    effect = np.zeros((len(df), k))
    effect[:, design.others] = beta[:, tau_index]
    cov = np.zeros((len(df), k, k))
    cov[:, design.others[:, None], design.others[None, :]] = (
        s2[:, None, None] * inverse[:, tau_index[:, None], tau_index[None, :]])
    # least-squares means: mean patient level + mean period effect + the arm's effect
    total = data.sums.sum(axis=(1, 2))
    mean_row = np.einsum("bs,sq->bq", data.n, x.mean(axis=1)) / np.maximum(n_patients, 1)[:, None]
    alpha = total / np.maximum(n_patients * p, 1) - np.einsum("bq,bq->b", mean_row, beta)
    period = np.concatenate([np.zeros((len(df), 1)), beta[:, : p - 1]], axis=1).mean(axis=1)
    level = (alpha + period)[:, None] + effect
    level = np.where(ok[:, None], level, np.nan)
    return WithinPosterior(level, np.where(ok[:, None, None], cov, np.nan), np.where(ok, df, 0), design.reference)
