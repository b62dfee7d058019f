"""Group-sequential boundaries for one-sided efficacy tests (numpy/scipy only).

The canonical joint distribution (Jennison & Turnbull 2000, ch. 3): at looks
with information fractions t_1 < ... < t_K = 1 the z statistics Z_k are jointly
normal, Z_k ~ N(theta sqrt(t_k), 1), cov(Z_j, Z_k) = sqrt(t_j / t_k) for j <= k,
where theta is the drift (E[Z] at full information). Boundary crossing
probabilities are computed exactly by the recursive numerical integration of
Armitage, McPherson & Rowe (1969) / Jennison & Turnbull ch. 19: the density of
Z_k on the continuation region is carried from look to look on a fine Simpson
grid, so every probability is a deterministic integral accurate to ~1e-10
(far below the 4 digits published tables print).

- Lan & DeMets (1983) alpha spending: O'Brien-Fleming-type (`obf`), Pocock-type
  (`pocock`), Hwang, Shih & DeCani (1990) (`hsd`, gamma), Kim-DeMets power (`power`, rho).
- Classic Wang-Tsiatis boundaries c_k = C t_k^(Delta - 1/2) (O'Brien & Fleming 1979:
  Delta = 0; Pocock 1977: Delta = 1/2) for checking against the classic constants.
- Non-binding beta-spending futility boundaries under a design drift.
- Several arms against one control (Dunnett 1955): the arms' z statistics share the
  control, corr(Z_a, Z_b) = lambda_a lambda_b with lambda_a = sqrt(n_a / (n_a + n_c))
  (1/2 with equal allocation); crossing probabilities of the maximum over arms come
  from scipy's multivariate normal (Genz) for several looks and from a
  one-dimensional integral (the product structure) for one look.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..ufuncs import special  # scipy.stats and optimize are imported where needed: they cost ~1 s to import

SPENDING = ("obf", "pocock", "hsd", "power")


def spending_words(name: str, param: float | None = None) -> str:
    """A spending function in words (for describe)."""
    if name == "hsd":
        return f"Hwang-Shih-DeCani (gamma {-4.0 if param is None else param:g})"
    if name == "power":
        return f"Kim-DeMets power (rho {3.0 if param is None else param:g})"
    return {"obf": "O'Brien-Fleming-type", "pocock": "Pocock-type"}[name]
GRID_STEP = 0.02  # z-scale Simpson step: quadrature error < 1e-9 for these smooth densities
TAIL = 9.0  # the density is integrated over mean +- 9 SD (mass beyond ~1e-19)
_Z_MAX = 12.0  # boundaries are searched in [-_Z_MAX, _Z_MAX]
_MVN_EPS = 1e-6


def spending(name: str, alpha: float, t: np.ndarray | float, param: float | None = None) -> np.ndarray:
    """Cumulative error spent by information fraction t (Lan & DeMets 1983)."""
    t = np.clip(np.asarray(t, float), 0.0, 1.0)
    if name == "obf":  # 2 - 2 Phi(z_{alpha/2} / sqrt(t)): the O'Brien-Fleming-type function
        with np.errstate(divide="ignore"):
            return 2.0 * special.ndtr(special.ndtri(alpha / 2) / np.sqrt(t))
    if name == "pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    if name == "hsd":
        gamma = -4.0 if param is None else float(param)
        if gamma == 0.0:
            return alpha * t
        return alpha * np.expm1(-gamma * t) / math.expm1(-gamma)
    if name == "power":
        rho = 3.0 if param is None else float(param)
        return alpha * t**rho
    raise ValueError(f"unknown spending function '{name}'; choose from {', '.join(SPENDING)}")


def _simpson(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights on [lo, hi] (odd count, step <= GRID_STEP)."""
    m = max(2, 2 * math.ceil((hi - lo) / (2 * GRID_STEP)))
    x = np.linspace(lo, hi, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (hi - lo) / (3 * m)


def _pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) * _INV_SQRT_2PI


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class _Recursion:
    """The sub-density of Z_k on the continuation region, look by look, under drift theta.

    `crossing(k, c)` is Pr(still running before look k, Z_k >= c) given the
    continuation regions of looks < k (set by `advance`).
    """

    def __init__(self, t: np.ndarray, theta: float):
        self.t, self.theta = t, theta
        self.x: np.ndarray | None = None  # grid of the last look's continuation region
        self.f: np.ndarray | None = None  # density * weights on it
        self.k = 0

    def _transition(self, k: int) -> tuple[float, float, float]:
        """Z_k = (Z_{k-1} sqrt(t_{k-1}) + increment) / sqrt(t_k): (slope, mean shift, sd) of Z_k given Z_{k-1}."""
        t0, t1 = self.t[k - 1], self.t[k]
        return math.sqrt(t0 / t1), self.theta * (t1 - t0) / math.sqrt(t1), math.sqrt((t1 - t0) / t1)

    def _tail(self, k: int, c: float, upper: bool) -> float:
        if k == 0:
            z = c - self.theta * math.sqrt(self.t[0])
            return float(special.ndtr(-z) if upper else special.ndtr(z))
        slope, shift, sd = self._transition(k)
        z = (c - slope * self.x - shift) / sd
        return float(self.f @ (special.ndtr(-z) if upper else special.ndtr(z)))

    def upper(self, k: int, c: float) -> float:
        return self._tail(k, c, True)

    def lower(self, k: int, b: float) -> float:
        return self._tail(k, b, False)

    def advance(self, k: int, lo: float, hi: float) -> None:
        """Carry the density to look k's continuation region (lo, hi)."""
        mean = self.theta * math.sqrt(self.t[k])
        lo, hi = max(lo, mean - TAIL), min(hi, mean + TAIL)
        if hi <= lo:  # nothing continues
            self.x, self.f = np.zeros(1), np.zeros(1)
            return
        x, w = _simpson(lo, hi)
        if k == 0:
            dens = _pdf(x - mean)
        else:
            slope, shift, sd = self._transition(k)
            dens = _pdf((x[:, None] - slope * self.x[None, :] - shift) / sd) @ self.f / sd
        self.x, self.f = x, dens * w


def _solve(fn: Callable[[float], float], target: float) -> float:
    """The z where the decreasing function fn(z) equals target (boundary search)."""
    if target <= 0.0:
        return math.inf
    if fn(-_Z_MAX) <= target:
        return -_Z_MAX
    from scipy import optimize

    return optimize.brentq(lambda z: fn(z) - target, -_Z_MAX, _Z_MAX, xtol=1e-10, rtol=1e-12)


@dataclass(frozen=True)
class Boundaries:
    """One-sided group-sequential boundaries on the z scale at information fractions `t`."""

    t: np.ndarray  # (looks,) information fractions, last = 1
    efficacy: np.ndarray  # (looks,) reject H0 at look k if Z_k >= efficacy[k]
    futility: np.ndarray  # (looks,) stop for futility if Z_k < futility[k] (non-binding; -inf: none)
    alpha: float  # one-sided level of the family of comparisons
    alpha_per_comparison: float  # after the Bonferroni split (alpha if Dunnett / one arm)
    description: str

    @property
    def nominal_p(self) -> np.ndarray:
        """One-sided nominal p-value that crosses at each look: 1 - Phi(efficacy)."""
        return special.ndtr(-self.efficacy)


def efficacy_bounds(t: np.ndarray, alpha: float, sf: str = "obf", param: float | None = None) -> np.ndarray:
    """Lan-DeMets efficacy boundaries for one comparison: Pr_0(first crossing at k) = alpha(t_k) - alpha(t_{k-1})."""
    t = _fractions(t)
    spent = np.diff(spending(sf, alpha, t, param), prepend=0.0)
    rec, bounds = _Recursion(t, 0.0), np.empty(len(t))
    for k, target in enumerate(spent):
        bounds[k] = _solve(lambda c: rec.upper(k, c), target)
        if k + 1 < len(t):
            rec.advance(k, -math.inf, bounds[k])
    return bounds


def classic_bounds(t: np.ndarray, alpha: float, delta: float) -> np.ndarray:
    """Wang-Tsiatis boundaries c_k = C t_k^(delta - 1/2) with total one-sided level alpha.

    delta = 0: O'Brien & Fleming (1979); delta = 1/2: Pocock (1977).
    """
    t = _fractions(t)
    shape = t ** (delta - 0.5)
    return _solve(lambda c: crossing(t, c * shape)[0].sum(), alpha) * shape


def crossing(t: np.ndarray, efficacy: np.ndarray, futility: np.ndarray | None = None,
             theta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Pr(crossing the efficacy / the futility boundary at each look first), under drift theta.

    `futility` (binding when given) is -inf where there is none.
    """
    t = _fractions(t)
    futility = np.full(len(t), -math.inf) if futility is None else np.asarray(futility, float)
    rec = _Recursion(t, theta)
    up, down = np.zeros(len(t)), np.zeros(len(t))
    for k in range(len(t)):
        up[k] = rec.upper(k, efficacy[k])
        down[k] = rec.lower(k, min(futility[k], efficacy[k])) if np.isfinite(futility[k]) else 0.0
        if k + 1 < len(t):
            rec.advance(k, futility[k], efficacy[k])
    return up, down


def futility_bounds(t: np.ndarray, efficacy: np.ndarray, theta: float, beta: float, sf: str = "obf",
                    param: float | None = None) -> np.ndarray:
    """Beta-spending futility boundaries under drift theta (non-binding: `efficacy` ignores them).

    Pr_theta(first stop for futility at look k) = beta(t_k) - beta(t_{k-1}) for k < K;
    the last look has no separate futility boundary (-inf: only efficacy is judged).
    """
    t = _fractions(t)
    spent = np.diff(spending(sf, beta, t, param), prepend=0.0)
    rec, bounds = _Recursion(t, theta), np.full(len(t), -math.inf)
    for k in range(len(t) - 1):
        b = -_solve(lambda z: rec.lower(k, -z), spent[k])  # Pr(Z_k < b) increases in b
        bounds[k] = min(b, efficacy[k])
        rec.advance(k, bounds[k], efficacy[k])
    return bounds


def power(t: np.ndarray, efficacy: np.ndarray, theta: float, futility: np.ndarray | None = None) -> float:
    """Pr(crossing the efficacy boundary at some look) under drift theta (futility binding if given)."""
    return float(crossing(t, efficacy, futility, theta)[0].sum())


def expected_fraction(t: np.ndarray, efficacy: np.ndarray, theta: float, futility: np.ndarray | None = None) -> float:
    """Expected information fraction at stopping under drift theta."""
    t = _fractions(t)
    up, down = crossing(t, efficacy, futility, theta)
    stop = up + down
    stop[-1] = 1.0 - stop[:-1].sum()
    return float(stop @ t)


# -- several arms against one control ------------------------------------------------------

def dunnett_correlation(n_arm: np.ndarray, n_control: float) -> np.ndarray:
    """corr(Z_a, Z_b) of arms sharing a control: lambda_a lambda_b, lambda_a = sqrt(n_a / (n_a + n_c))."""
    lam = np.sqrt(np.asarray(n_arm, float) / (np.asarray(n_arm, float) + n_control))
    corr = np.outer(lam, lam)
    np.fill_diagonal(corr, 1.0)
    return corr


def familywise_error(c: float, corr: np.ndarray) -> float:
    """Pr_0(max_a Z_a >= c) at one look for a product-structure correlation (one integral).

    Given the shared (control) component x the arms are independent:
    Pr(all Z_a < c | x) = prod_a Phi((c - lambda_a x) / sqrt(1 - lambda_a^2)).
    """
    lam = _lambdas(corr)
    if np.any(lam >= 1.0):
        return float(special.ndtr(-c))
    x, w = _simpson(-TAIL, TAIL)
    return 1.0 - float((_pdf(x) * w) @ np.prod(special.ndtr((c - np.outer(x, lam)) / np.sqrt(1 - lam**2)), axis=1))


def dunnett_critical(alpha: float, corr: np.ndarray) -> float:
    """One-look one-sided Dunnett critical value: Pr_0(max_a Z_a >= c) = alpha."""
    return _solve(lambda c: familywise_error(c, corr), alpha)


def _lambdas(corr: np.ndarray) -> np.ndarray:
    """lambda_a of a product-structure correlation (corr_ab = lambda_a lambda_b, a != b)."""
    m = corr.shape[0]
    if m == 1:
        return np.ones(1)
    if m == 2:  # any split works; the symmetric one
        return np.full(2, math.sqrt(corr[0, 1]))
    i = np.arange(m)
    j, k = (i + 1) % m, (i + 2) % m
    return np.sqrt(corr[i, j] * corr[i, k] / corr[j, k])


def dunnett_group_sequential(t: np.ndarray, alpha: float, corr: np.ndarray, sf: str = "obf",
                             param: float | None = None, seed: int = 20261127) -> np.ndarray:
    """Common efficacy boundaries for m arms vs one control, spending the family-wise alpha.

    Pr_0(some arm first crosses at look k, none before) = alpha(t_k) - alpha(t_{k-1}), from the
    joint normal of all arms and looks: corr(Z_ak, Z_bl) = corr_ab sqrt(t_k / t_l), k <= l.
    Genz's algorithm with a fixed seed: deterministic, abs error ~1e-6, boundaries to ~1e-4
    (they lie between the one-arm boundaries at alpha and at alpha / m, which bracket the search).
    """
    from scipy import optimize, stats

    t, m = _fractions(t), corr.shape[0]
    if m == 1:
        return efficacy_bounds(t, alpha, sf, param)
    if len(t) == 1:
        return np.array([dunnett_critical(alpha, corr)])
    cum = spending(sf, alpha, t, param)
    low, high = efficacy_bounds(t, alpha, sf, param), efficacy_bounds(t, alpha / m, sf, param)
    bounds = np.empty(len(t))
    for k in range(len(t)):
        tk = t[: k + 1]
        time_corr = np.sqrt(np.minimum.outer(tk, tk) / np.maximum.outer(tk, tk))
        cov = np.kron(time_corr, corr)  # look-major: index = look * m + arm
        mvn = stats.multivariate_normal(np.zeros(cov.shape[0]), cov, seed=seed, abseps=_MVN_EPS, releps=0.0,
                                        maxpts=20_000 * cov.shape[0])

        def excess(c: float) -> float:
            mvn.random_state = np.random.default_rng(seed)  # the same points for every c: a smooth function of c
            return 1.0 - mvn.cdf(np.repeat(np.append(bounds[:k], c), m)) - cum[k]

        lo, hi = low[k] - 0.05, high[k] + 0.05
        bounds[k] = optimize.brentq(excess, lo, hi, xtol=1e-6) if excess(lo) > 0 > excess(hi) else hi
    return bounds


def _fractions(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, float)
    if t.ndim != 1 or len(t) == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or abs(t[-1] - 1.0) > 1e-12:
        raise ValueError(f"information fractions must increase strictly in (0, 1] and end at 1, got {t}")
    return t
