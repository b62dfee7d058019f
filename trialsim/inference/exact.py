"""Exact conjugate posteriors, with every probability by quadrature.

Binary arms: Beta(a0 + events, b0 + n - events), flat Beta(1, 1) by default.
Continuous arms: normal-gamma prior on (mean, precision), so the mean's
marginal posterior is Student-t; the default is the flat prior on (mean,
log sd) (n0 = 0, shape = -1/2, rate = 0), which gives n - 1 degrees of
freedom, location ybar and scale s / sqrt(n). Arms are
independent a posteriori, so every probability the decisions need is a
one-dimensional integral over one arm's parameter, for example

    Pr(arm k is best) = integral f_k(x) prod_{j != k} F_j(x) dx.

Each trial gets a uniform grid spanning its arms' posteriors; the compiled
kernels in quadrature.py evaluate densities exactly in log space, CDFs by the
Euler-Maclaurin corrected trapezoid rule (O(h^4)), shifted CDFs F(x + delta)
by cubic Hermite interpolation (O(h^4)), and integrals by the trapezoid rule,
spectrally accurate for smooth integrands that vanish at both ends. With 5
grid points per SD of the narrowest arm the error is below 1e-6 (tests
compare with scipy's adaptive quadrature). Vectorised over trials: no Monte
Carlo noise, no draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import quadrature
from .base import LookData
from .priors import FLAT, ConjugatePrior
from ..ufuncs import special

POINTS_PER_SD = 5
MIN_POINTS, MAX_POINTS = 48, 4096
MIN_SHARED_RESOLUTION = 2.0  # a shared grid may be this much coarser than POINTS_PER_SD asks
TAIL_SDS_BETA = 10.0  # beyond 10 SD: < 1e-4 even for Beta(1, n) (no events), far less otherwise
TAIL_MASS_T = 1e-9
MAX_TAIL_SCALES_T = 60.0
CANTELLI_SLACK = 1e-3  # a bound this far below a threshold decides without the integral (its error < 1e-6)




@dataclass(frozen=True)
class ArmPosteriors:
    """Per trial x arm posterior of theta: Beta(a, b) or t(df, loc, scale)."""

    binary: bool
    a: np.ndarray
    b: np.ndarray
    defined: np.ndarray  # False where the posterior is improper (t with n < 2)

    @classmethod
    def from_data(cls, data: LookData, prior: ConjugatePrior = FLAT) -> "ArmPosteriors":
        n, sy, sy2 = data.per_arm()
        if data.binary:
            return cls(True, prior.a + sy, prior.b + n - sy, np.ones(n.shape, bool))
        # Normal-gamma update; the marginal of the mean is t(2 shape_n, mean_n, sqrt(rate_n / (shape_n n0_n)))
        with np.errstate(divide="ignore", invalid="ignore"):
            ybar = np.where(n > 0, sy / n, 0.0)
            ss = np.maximum(sy2 - n * ybar**2, 0.0)
            n0_n = prior.n0 + n
            mean_n = (prior.n0 * prior.mean + sy) / n0_n
            shape_n = prior.shape + n / 2
            rate_n = prior.rate + ss / 2 + prior.n0 * n * (ybar - prior.mean) ** 2 / (2 * n0_n)
            scale = np.sqrt(rate_n / (shape_n * n0_n))
        defined = (n0_n > 0) & (shape_n > 0) & (rate_n > 0) & np.isfinite(scale) & (scale > 0)
        # undefined (improper) arms get a harmless unit t; decisions skip trials that need them
        df = np.where(defined, 2 * shape_n, 1.0)
        loc = np.where(defined, mean_n, 0.0)
        scale = np.where(defined, scale, 1.0)
        return cls(False, np.stack([df, loc]), scale, defined)

    def sample(self, rng: np.random.Generator, n_draws: int) -> np.ndarray:
        """Draws of theta, (trials, draws, arms)."""
        shape = self.b.shape[:1] + (n_draws,) + self.b.shape[1:]
        if self.binary:
            return rng.beta(self.a[:, None, :], self.b[:, None, :], shape)
        df, loc = self.a
        return loc[:, None, :] + self.b[:, None, :] * rng.standard_t(df[:, None, :], shape)

    def mean(self) -> np.ndarray:
        if self.binary:
            return self.a / (self.a + self.b)
        return self.a[1]

    def variance(self) -> np.ndarray:
        """Posterior variance of theta (inf for a t with df <= 2)."""
        if self.binary:
            total = self.a + self.b
            return self.a * self.b / (total**2 * (total + 1))
        df = self.a[0]
        return np.where(df > 2, self.b**2 * df / np.maximum(df - 2, 1e-300), np.inf)

    def median(self) -> np.ndarray:
        if self.binary:
            return special.betaincinv(self.a, self.b, 0.5)
        return self.a[1]  # t: symmetric

    def spread(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, sd-like width) of the region holding the mass."""
        if self.binary:
            mean, sd = self.mean(), np.sqrt(self.variance())
            return np.maximum(mean - TAIL_SDS_BETA * sd, 0.0), np.minimum(mean + TAIL_SDS_BETA * sd, 1.0), sd
        df, loc = self.a
        q = np.minimum(special.stdtrit(df, 1 - TAIL_MASS_T), MAX_TAIL_SCALES_T)
        return loc - q * self.b, loc + q * self.b, self.b

    def kernel_params(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(family, p1, p2, p3, log normalising constant) for quadrature.grid_densities."""
        if self.binary:
            return 0, self.a, self.b, self.b, -special.betaln(self.a, self.b)
        df, loc = self.a
        const = special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * np.log(df * np.pi) - np.log(self.b)
        return 1, df, loc, self.b, const


class GridPosterior:
    """A `Posterior` (see base.py) computed by quadrature on per-trial grids.

    Each trial's grid spans the mass of its relevant arms with POINTS_PER_SD
    points per SD of its narrowest arm (at most MAX_POINTS, which may coarsen
    it up to MIN_SHARED_RESOLUTION times). Where arms lie further apart,
    relative to their widths (e.g. SDs of 1e-4 NRS and effects of 1 NRS), each
    arm gets a grid of its own at its own scale, so every probability follows
    the posteriors' scale whatever the units.
    """

    def __init__(self, arms: ArmPosteriors, relevant: np.ndarray | None = None, points_per_sd: float = POINTS_PER_SD):
        self.arms = arms
        # Only `relevant` arms get a grid density: probabilities may be asked of them only
        self.use = arms.defined if relevant is None else arms.defined & relevant
        arm_lo, arm_hi, width = arms.spread()
        lo = np.where(self.use, arm_lo, np.inf).min(axis=1)
        hi = np.where(self.use, arm_hi, -np.inf).max(axis=1)
        narrow = np.where(self.use, width, np.inf).min(axis=1)
        empty = ~np.isfinite(lo)  # no arm to integrate: any grid will do, results unused
        lo, hi, narrow = np.where(empty, 0.0, lo), np.where(empty, 1.0, hi), np.where(empty, 1.0, narrow)
        h = np.maximum(narrow / points_per_sd, (hi - lo) / (MAX_POINTS - 1))
        n = np.maximum(np.ceil((hi - lo) / h) + 1, MIN_POINTS)
        shape = self.use.shape
        self.lo, self.h, self.n = np.repeat(lo[:, None], shape[1], 1), np.repeat(h[:, None], shape[1], 1), \
            np.repeat(n[:, None], shape[1], 1)
        # a shared grid coarser than half the intended resolution misses narrow arms: one grid per arm
        apart = h > MIN_SHARED_RESOLUTION * narrow / points_per_sd
        if apart.any():
            # twice as fine: another arm's CDF is interpolated between this grid's points, not read off it
            own_h = np.maximum(width / (2 * points_per_sd), (arm_hi - arm_lo) / (MAX_POINTS - 1))
            own_n = np.maximum(np.ceil((arm_hi - arm_lo) / own_h) + 1, MIN_POINTS)
            own = apart[:, None] & self.use
            self.lo, self.h, self.n = np.where(own, arm_lo, self.lo), np.where(own, own_h, self.h), np.where(own, own_n, self.n)
        self.n = self.n.astype(np.int64)
        family, p1, p2, p3, const = arms.kernel_params()
        self.pdf, self.cdf = quadrature.grid_densities(family, p1, p2, p3, const, self.use, self.lo, self.h, self.n,
                                                       int(self.n.max(initial=MIN_POINTS)))

    def take(self, rows: np.ndarray) -> "GridPosterior":
        out = object.__new__(GridPosterior)
        out.arms = ArmPosteriors(self.arms.binary, self.arms.a[..., rows, :] if self.arms.a.ndim == 3 else self.arms.a[rows],
                                 self.arms.b[rows], self.arms.defined[rows])
        out.use, out.lo, out.h, out.n = self.use[rows], self.lo[rows], self.h[rows], self.n[rows]
        out.pdf, out.cdf = self.pdf[rows], self.cdf[rows]
        return out

    def sample(self, rng: np.random.Generator, n_draws: int) -> np.ndarray:
        return self.arms.sample(rng, n_draws)

    def _check(self, arms: np.ndarray) -> None:
        if (arms & ~self.use & self.arms.defined).any():
            raise ValueError("probability asked of an arm outside the posterior's relevant arms")

    # -- the Posterior interface -------------------------------------------
    def mean(self) -> np.ndarray:
        return self.arms.mean()

    def median(self) -> np.ndarray:
        """Posterior medians (adaptr's robust estimates)."""
        return self.arms.median()

    def proper(self, active: np.ndarray) -> np.ndarray:
        return ~(active & ~self.arms.defined).any(axis=1)

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        self._check(active)
        return quadrature.prob_best(self.pdf, self.cdf, self.lo, self.h, self.n, active & self.use)

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        return self._difference_between(control, float(delta), np.inf)

    def prob_all_equivalent(self, active: np.ndarray, margin: float) -> np.ndarray:
        self._check(active)
        return quadrature.prob_all_equivalent(self.pdf, self.cdf, self.lo, self.h, self.n, active & self.use, float(margin))

    def all_equivalent(self, active: np.ndarray, margin: float, threshold: float) -> np.ndarray:
        """Pr(all active arms within margin) > threshold, integrated only where Cantelli's inequality
        allows it: for the active arms with the highest and lowest means, D = theta_hi - theta_lo,
        Pr(all within margin) <= Pr(D < margin) <= var D / (var D + (E D - margin)^2) when E D > margin.
        A trial whose bound is below the threshold by far more than the quadrature's error (< 1e-6)
        gets the decision the integral would give."""
        mean = self.arms.mean()
        hi = np.where(active, mean, -np.inf).argmax(axis=1, keepdims=True)
        lo = np.where(active, mean, np.inf).argmin(axis=1, keepdims=True)
        gap = (np.take_along_axis(mean, hi, 1) - np.take_along_axis(mean, lo, 1))[:, 0] - margin
        var = self.arms.variance()
        spread = (np.take_along_axis(var, hi, 1) + np.take_along_axis(var, lo, 1))[:, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            bound = np.where(gap > 0, spread / (spread + gap**2), 1.0)
        needed = ~(bound < threshold - CANTELLI_SLACK)  # NaN bounds are integrated too
        if not needed.any():
            return needed
        # trials without active arms cost nothing in the kernel (no copies of the grids)
        return needed & (self.prob_all_equivalent(active & needed[:, None], margin) > threshold)

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        return self._difference_between(control, -float(margin), float(margin))

    def _difference_between(self, control: np.ndarray, lower: float, upper: float) -> np.ndarray:
        return quadrature.prob_difference_between(self.pdf, self.cdf, self.lo, self.h, self.n, control.astype(np.int64),
                                                  lower, upper, self.use)


def exact_posterior(data: LookData, relevant: np.ndarray | None = None, prior: ConjugatePrior = FLAT) -> GridPosterior:
    """The exact engine: conjugate per-arm posteriors pooled over phenotypes.

    `relevant` (trials, arms) limits the quadrature grid to the arms whose
    probabilities will be asked (the active ones); None means all arms.
    """
    return GridPosterior(ArmPosteriors.from_data(data, prior), relevant)
