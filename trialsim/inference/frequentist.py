"""The frequentist engine: each arm against the control by a z or t test.

The look loop asks a `Posterior` for Pr(theta_k - theta_control > delta). Here
that is the confidence-distribution analogue, one minus the one-sided p-value
of H0: theta_k - theta_control <= delta:

- means: Student's t with the pooled variance (n_k + n_c - 2 df), or Welch's
  t with Satterthwaite df (`variance="unpooled"`);
- rates: z for the difference in proportions with the pooled SE under H0
  (the square of the 2x2 chi-square statistic) or the unpooled (Wald) SE.

A design's group-sequential boundaries (design/boundaries.py) become per-look
thresholds Phi(c_k) on this quantity (compile.py), so "Pr(better) >
threshold" is "Z_k >= c_k" for z tests and the t test at the nominal level
1 - Phi(c_k) for means. Everything else the loop asks (Pr(best) for the
"best" selection, equivalence) comes from the flat-prior exact posterior; the
estimates are the sample means.
"""

from __future__ import annotations

import numpy as np

from .base import Inference, LookData, Posterior
from .exact import GridPosterior, exact_posterior
from ..ufuncs import special

VARIANCES = ("pooled", "unpooled")


class PValuePosterior:
    """A `Posterior` whose Pr(arm - control > delta) is 1 - the test's one-sided p-value."""

    def __init__(self, inner: GridPosterior, n: np.ndarray, total: np.ndarray, ss: np.ndarray, binary: bool,
                 pooled: bool):
        self.inner, self.n, self.total, self.ss = inner, n, total, ss  # per (trial, arm): n, sum y, sum of squares
        self.binary, self.pooled = binary, pooled

    @classmethod
    def from_data(cls, data: LookData, relevant: np.ndarray | None, pooled: bool) -> "PValuePosterior":
        n, sy, sy2 = data.per_arm()
        with np.errstate(divide="ignore", invalid="ignore"):
            ss = np.maximum(sy2 - np.where(n > 0, sy**2 / n, 0.0), 0.0)
        return cls(exact_posterior(data, relevant), n, sy, ss, data.binary, pooled)

    def take(self, rows: np.ndarray) -> "PValuePosterior":
        return PValuePosterior(self.inner.take(rows), self.n[rows], self.total[rows], self.ss[rows], self.binary,
                             self.pooled)

    def mean(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n > 0, self.total / self.n, self.inner.mean())

    def median(self) -> np.ndarray:
        return self.mean()  # the sample mean is the estimate (normal sampling distribution: median = mean)

    def proper(self, active: np.ndarray) -> np.ndarray:
        return self.inner.proper(active) & ~(active & (self.n < 1)).any(axis=1)

    def statistic(self, control: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
        """(test statistic, df) of each arm against `control`, (trials, arms); df = inf for z tests."""
        rows = np.arange(len(control))
        n, t = self.n, self.total
        nc, tc = n[rows, control][:, None], t[rows, control][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            mean, mc = t / n, tc / nc
            diff = mean - mc - delta
            if self.binary:
                if self.pooled:
                    p = (t + tc) / (n + nc)
                    var = p * (1 - p) * (1 / n + 1 / nc)
                else:
                    var = mean * (1 - mean) / n + mc * (1 - mc) / nc
                df = np.full(var.shape, np.inf)
            else:
                ssc = self.ss[rows, control][:, None]
                if self.pooled:
                    df = n + nc - 2
                    var = (self.ss + ssc) / df * (1 / n + 1 / nc)
                else:
                    va, vc = self.ss / (n - 1) / n, ssc / (nc - 1) / nc
                    var = va + vc
                    df = var**2 / (va**2 / (n - 1) + vc**2 / (nc - 1))  # Welch-Satterthwaite
            stat = diff / np.sqrt(var)
        bad = ~np.isfinite(stat) | ~(df > 0)
        return np.where(bad, 0.0, stat), np.where(bad, np.inf, df)

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        stat, df = self.statistic(control, float(delta))
        p = np.where(np.isinf(df), special.ndtr(stat), special.stdtr(np.where(np.isinf(df), 1.0, df), stat))
        return np.where(np.arange(p.shape[1]) == control[:, None], 0.0, p)

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        return self.inner.prob_best(active)

    def prob_all_equivalent(self, active: np.ndarray, margin: float) -> np.ndarray:
        return self.inner.prob_all_equivalent(active, margin)

    def all_equivalent(self, active: np.ndarray, margin: float, threshold: float) -> np.ndarray:
        return self.inner.all_equivalent(active, margin, threshold)

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        return self.inner.prob_equivalent_to(control, margin)

    def sample(self, rng: np.random.Generator, n_draws: int) -> np.ndarray:
        return self.inner.sample(rng, n_draws)


class FrequentistInference(Inference):
    """z / t tests of each arm against the control: no model fit, nothing to diagnose."""

    def __init__(self, variance: str = "pooled"):
        super().__init__()
        if variance not in VARIANCES:
            raise ValueError(f"unknown variance '{variance}'; choose from {', '.join(VARIANCES)}")
        self.pooled = variance == "pooled"

    def __call__(self, data: LookData, trials: np.ndarray, relevant: np.ndarray) -> Posterior:
        return PValuePosterior.from_data(data, relevant, self.pooled)
