"""Exact conjugate posteriors, with every probability by quadrature.

Binary arms: Beta(1 + events, 1 + n - events). Continuous arms with a flat
prior on (mean, log sd): the mean's marginal posterior is Student-t with
n - 1 degrees of freedom, location ybar and scale s / sqrt(n). Arms are
independent a posteriori, so every probability the decisions need is a
one-dimensional integral over one arm's parameter, for example

    Pr(arm k is best) = integral f_k(x) prod_{j != k} F_j(x) dx.

Each trial gets its own uniform grid spanning all arms' posteriors. Densities
are evaluated exactly in log space; CDFs come from cumulative Simpson
integration (O(h^4)); CDFs at shifted points (x + delta) use cubic Hermite
interpolation with the density as derivative (O(h^4)); final integrals use the
trapezoid rule, spectrally accurate for smooth integrands that vanish at both
ends. With the default resolution (6 grid points per posterior SD of the
narrowest arm) the quadrature error is far below 1e-4. Everything is
vectorised over trials: no Monte Carlo noise, no draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .base import LookData

POINTS_PER_SD = 6
MIN_POINTS, MAX_POINTS = 48, 4096
TAIL_SDS_BETA = 12.0  # Beta tails beyond 12 SD hold < 1e-6 for the counts seen in trials
TAIL_MASS_T = 1e-9
MAX_TAIL_SCALES_T = 60.0


@dataclass(frozen=True)
class ArmPosteriors:
    """Per trial x arm posterior of theta: Beta(a, b) or t(df, loc, scale)."""

    binary: bool
    a: np.ndarray
    b: np.ndarray
    defined: np.ndarray  # False where the posterior is improper (t with n < 2)

    @classmethod
    def from_data(cls, data: LookData) -> "ArmPosteriors":
        n, sy, sy2 = data.per_arm()
        if data.binary:
            return cls(True, 1.0 + sy, 1.0 + n - sy, np.ones(n.shape, bool))
        # t posterior: a = (df, loc), b = scale; undefined arms get a harmless unit t
        with np.errstate(divide="ignore", invalid="ignore"):
            ybar = sy / n
            ss = np.maximum(sy2 - n * ybar**2, 0.0)
            scale = np.sqrt(ss / (n - 1) / n)
        defined = (n >= 2) & (scale > 0)
        df = np.where(defined, n - 1.0, 1.0)
        loc = np.where(defined, ybar, 0.0)
        scale = np.where(defined, scale, 1.0)
        return cls(False, np.stack([df, loc]), scale, defined)

    def mean(self) -> np.ndarray:
        if self.binary:
            return self.a / (self.a + self.b)
        return self.a[1]

    def spread(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, sd-like width) of the region holding the mass."""
        if self.binary:
            total = self.a + self.b
            mean = self.a / total
            sd = np.sqrt(self.a * self.b / (total**2 * (total + 1)))
            return np.maximum(mean - TAIL_SDS_BETA * sd, 0.0), np.minimum(mean + TAIL_SDS_BETA * sd, 1.0), sd
        df, loc = self.a
        q = np.minimum(special.stdtrit(df, 1 - TAIL_MASS_T), MAX_TAIL_SCALES_T)
        return loc - q * self.b, loc + q * self.b, self.b

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at x of shape (trials, 1, points); returns (trials, arms, points)."""
        if self.binary:
            a, b = self.a[..., None], self.b[..., None]
            xc = np.clip(x, 1e-300, 1 - 1e-16)
            return (a - 1) * np.log(xc) + (b - 1) * np.log1p(-xc) - special.betaln(a, b)
        df, loc = self.a[0][..., None], self.a[1][..., None]
        scale = self.b[..., None]
        z = (x - loc) / scale
        const = special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * np.log(df * np.pi) - np.log(scale)
        return const - (df + 1) / 2 * np.log1p(z * z / df)


class GridPosterior:
    """A `Posterior` (see base.py) computed by quadrature on per-trial grids."""

    def __init__(self, arms: ArmPosteriors, points_per_sd: float = POINTS_PER_SD):
        self.arms = arms
        self.defined = arms.defined
        lo, hi, width = arms.spread()
        lo = np.where(self.defined, lo, np.inf).min(axis=1)
        hi = np.where(self.defined, hi, -np.inf).max(axis=1)
        narrow = np.where(self.defined, width, np.inf).min(axis=1)
        empty = ~np.isfinite(lo)  # no arm defined: any grid will do, results unused
        lo, hi, narrow = np.where(empty, 0.0, lo), np.where(empty, 1.0, hi), np.where(empty, 1.0, narrow)
        need = np.ceil((hi - lo) / narrow * points_per_sd).max(initial=MIN_POINTS)
        n_points = int(np.clip(need, MIN_POINTS, MAX_POINTS))
        self.lo, self.h = lo, (hi - lo) / (n_points - 1)  # (trials,)
        fine = lo[:, None, None] + self.h[:, None, None] / 2 * np.arange(2 * n_points - 1)
        pdf = np.exp(arms.log_pdf(fine))
        pdf = np.where(self.defined[..., None], pdf, 0.0)
        # Simpson on each coarse cell [x_i, x_{i+1}] with its fine midpoint
        h = self.h[:, None, None]
        cells = h / 6 * (pdf[..., 0:-1:2] + 4 * pdf[..., 1::2] + pdf[..., 2::2])
        cdf = np.concatenate([np.zeros(pdf.shape[:2] + (1,)), np.cumsum(cells, axis=-1)], axis=-1)
        total = np.where(cdf[..., -1:] > 0, cdf[..., -1:], 1.0)
        self.cdf = cdf / total
        self.pdf = pdf[..., ::2] / total  # (trials, arms, points), normalised on the grid
        self.weights = np.full(n_points, 1.0)
        self.weights[[0, -1]] = 0.5
        self.n_points = n_points

    # -- helpers -----------------------------------------------------------
    def _integrate(self, integrand: np.ndarray) -> np.ndarray:
        """Trapezoid rule over the last axis (the grid)."""
        h = self.h.reshape(self.h.shape + (1,) * (integrand.ndim - 2))
        return (integrand @ self.weights) * h

    def _shifted_cdf(self, delta: float) -> np.ndarray:
        """F_k(x_i + delta) on the grid, (trials, arms, points), cubic Hermite."""
        steps = delta / self.h
        whole = np.floor(steps).astype(np.int64)
        t = (steps - whole)[:, None, None]
        idx = np.arange(self.n_points)[None, :] + whole[:, None]  # grid cell below x_i + delta
        below = (idx < 0)[:, None, :]  # beyond the grid: F is 0 below it and 1 above it
        above = (idx >= self.n_points - 1)[:, None, :]

        def at(values: np.ndarray, i: np.ndarray) -> np.ndarray:
            return np.take_along_axis(values, np.clip(i, 0, self.n_points - 1)[:, None, :], axis=-1)

        h = self.h[:, None, None]
        f0, f1 = at(self.cdf, idx), at(self.cdf, idx + 1)
        d0, d1 = at(self.pdf, idx) * h, at(self.pdf, idx + 1) * h
        t2, t3 = t * t, t * t * t
        value = (2 * t3 - 3 * t2 + 1) * f0 + (t3 - 2 * t2 + t) * d0 + (-2 * t3 + 3 * t2) * f1 + (t3 - t2) * d1
        value = np.where(below, 0.0, np.where(above, 1.0, value))
        return np.clip(value, 0.0, 1.0)

    def _is_control(self, control: np.ndarray) -> np.ndarray:
        return np.arange(self.pdf.shape[1]) == control[:, None]

    def _control_pdf(self, control: np.ndarray) -> np.ndarray:
        return np.take_along_axis(self.pdf, control[:, None, None], axis=1)  # (trials, 1, points)

    # -- the Posterior interface -------------------------------------------
    def mean(self) -> np.ndarray:
        return self.arms.mean()

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        others = np.where(active[..., None], self.cdf, 1.0)
        k = active.shape[1]
        out = np.empty(active.shape)
        for arm in range(k):
            loo = np.prod(np.delete(others, arm, axis=1), axis=1)
            out[:, arm] = self._integrate(self.pdf[:, arm] * loo)
        out = np.where(active, np.clip(out, 0.0, None), 0.0)
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.zeros_like(out), where=total > 0)

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        p = np.clip(self._integrate(self._control_pdf(control) * (1.0 - self._shifted_cdf(delta))), 0.0, 1.0)
        return np.where(self._is_control(control), float(0.0 > delta), p)

    def prob_all_equivalent(self, active: np.ndarray, margin: float) -> np.ndarray:
        within = np.where(active[..., None], self._shifted_cdf(margin) - self.cdf, 1.0)
        total = np.zeros(active.shape[0])
        for arm in range(active.shape[1]):
            loo = np.prod(np.delete(within, arm, axis=1), axis=1)
            total += np.where(active[:, arm], self._integrate(self.pdf[:, arm] * loo), 0.0)
        return np.clip(total, 0.0, 1.0)

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        band = self._shifted_cdf(margin) - self._shifted_cdf(-margin)
        p = np.clip(self._integrate(self._control_pdf(control) * band), 0.0, 1.0)
        return np.where(self._is_control(control), 1.0, p)


def exact_posterior(data: LookData) -> GridPosterior:
    """The exact engine: conjugate per-arm posteriors pooled over phenotypes."""
    return GridPosterior(ArmPosteriors.from_data(data))
