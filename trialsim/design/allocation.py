"""Allocation rules: fixed ratios and response-adaptive randomisation.

Adaptive probabilities follow adaptr's semantics: proportional to
Pr(arm is best among the active arms) ** c (c constant, or n / (2 N) after
Thall and Wathen), with the control's share fixed, sqrt(k)-based or matched
to the best arm (adaptr's control_prob_fixed variants, from the first
patient, burn-in included, and following the control when it changes), then
minimum and maximum probabilities applied iteratively until the
probabilities sum to 1. Thompson sampling assigns each patient to
the arm whose posterior draw is largest; between looks that is the same as
randomising with probabilities Pr(best), which is what is done here (exact,
no sampling noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kernels

SQRT_VARIANTS = ("sqrt-based", "sqrt-based start", "sqrt-based fixed")


def sqrt_share(k: np.ndarray | int) -> np.ndarray:
    """The sqrt-based control share with k non-control arms: sqrt(k) / (sqrt(k) + k); 1 when k = 0."""
    k = np.asarray(k, float)
    return np.where(k > 0, np.sqrt(k) / (np.sqrt(k) + np.maximum(k, 1e-300)), 1.0)


def matched_start(comparator: np.ndarray, control_prob: float | str | None) -> np.ndarray:
    """Matched controls before adaptation: every arm 1, each control its share of its family
    (`match` or none: 1, as an arm of the family; a number or sqrt-based: that share)."""
    w = np.where(comparator < 0, 0.0, 1.0)
    for c in np.unique(comparator[comparator >= 0]):
        k = int((comparator == c).sum())
        if control_prob is None or control_prob == "match":
            w[c] = 1.0
        else:
            s = float(sqrt_share(k)) if control_prob in SQRT_VARIANTS + ("sqrt",) else float(control_prob)
            w[c] = k * s / max(1.0 - s, 1e-12)
    return w / w.sum()


def start_probabilities(n_arms: int, control: int | None, control_prob: float | list[float] | str | None,
                        ratio: np.ndarray | None = None) -> np.ndarray:
    """Allocation before any adaptation (adaptr's start_probs), from the first patient.

    sqrt-based variants: control sqrt(k) / (sqrt(k) + k), every other arm 1 / (sqrt(k) + k)
    with k = n_arms - 1; a number (or the first of a list): the control's share, the rest equal;
    "match" or no control share: equal (or the fixed `ratio`).
    """
    if ratio is not None:
        return ratio / ratio.sum()
    if control is None or control_prob is None or control_prob == "match":
        return np.full(n_arms, 1.0 / n_arms)
    k = n_arms - 1
    if control_prob in SQRT_VARIANTS + ("sqrt",):
        c, other = sqrt_share(k), 1.0 / (np.sqrt(k) + k)
    else:
        c = float(control_prob[0] if isinstance(control_prob, (list, tuple)) else control_prob)
        other = (1.0 - c) / k
    p = np.full(n_arms, other)
    p[control] = c
    return p


@dataclass(frozen=True)
class AllocationRule:
    """An allocation rule compiled to arrays (see compile.py)."""

    adaptive: bool
    start: np.ndarray  # (arms,) probabilities from the first patient
    power: float | None  # None: Thall-Wathen n / (2 N)
    min_prob: float
    max_prob: float
    control: int | None  # the first control
    control_prob: float | tuple[float, ...] | str | None  # "sqrt" becomes "sqrt-based"
    burn_in: int
    stratified: bool
    block_size: int | None
    # matched controls: each arm's comparator (arms,), -1 for the controls; None: one control (or none)
    comparator: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.control_prob == "sqrt":  # the older name of "sqrt-based"
            object.__setattr__(self, "control_prob", "sqrt-based")

    def update(self, pr_best: np.ndarray, active: np.ndarray, n_analysed: int | np.ndarray, n_max: int,
               control: np.ndarray | None = None) -> np.ndarray:
        """New probabilities (trials, [phenotypes,] arms) from Pr(best) of the same shape.

        `pr_best` is Pr(best) among all active arms, control included (as adaptr);
        `control` (trials,) is each trial's current control (default: the first).
        """
        fixed = restrict_to_active(np.broadcast_to(self.start, pr_best.shape), active)
        if not self.adaptive:
            return fixed
        # per-trial quantities broadcast over (phenotypes, arms)
        n = np.reshape(n_analysed, np.shape(n_analysed) + (1,) * (pr_best.ndim - np.ndim(n_analysed)))
        power = n / (2 * n_max) if self.power is None else self.power
        active = np.broadcast_to(active, pr_best.shape)
        adapted = self._adapt(pr_best, active, power, control)
        burning = n < self.burn_in
        if not np.any(burning):
            return adapted
        if self.comparator is not None:
            burn = self._adapt(np.ones(pr_best.shape), active, 1.0, control)
        elif self.control is None or self.control_prob is None:
            burn = fixed
        else:  # burn-in: equal shares but the control's, which follows its rule from the first patient
            burn = self._adapt(np.ones(pr_best.shape), active, 1.0, control)
        return np.where(burning, burn, adapted)

    def _adapt(self, pr_best: np.ndarray, active: np.ndarray, power: float | np.ndarray,
               control: np.ndarray | None = None) -> np.ndarray:
        weights = np.where(active, pr_best, 0.0) ** power
        ones = np.ones(weights.shape[:-1])
        if self.comparator is not None:
            return self._adapt_matched(weights, active, power)
        if self.control is None or self.control_prob is None:
            return apply_bounds(weights, active, self.min_prob, self.max_prob, ones)
        n_trials, n_arms = active.shape[0], active.shape[-1]
        control = np.full(n_trials, self.control) if control is None else np.asarray(control)
        is_control = np.arange(n_arms) == control.reshape(control.shape + (1,) * (active.ndim - 1))
        others = active & ~is_control
        k = others.sum(axis=-1)
        if self.control_prob == "match":
            # adaptr: the control's Pr(best) becomes the best other arm's, before softening;
            # the control is then exempt from the bounds
            matched = np.where(others, pr_best, 0.0).max(axis=-1, keepdims=True)
            weights = np.where(is_control & active, matched ** power, weights)
            lo, hi = np.where(is_control, 0.0, self.min_prob), np.where(is_control, 1.0, self.max_prob)
            return apply_bounds(weights, active, lo, hi, ones)
        if self.control_prob == "sqrt-based fixed":
            # every arm fixed: the control at the sqrt-based share for the arms left, the others at
            # their start share, then rescaled to sum to 1 (adaptr's reallocate_probs, all fixed)
            p = np.where(is_control, sqrt_share(k)[..., None], np.where(others, self._other_start, 0.0))
            return restrict_to_active(p, active)
        if self.control_prob == "sqrt-based":
            control_share = sqrt_share(k)
        elif self.control_prob == "sqrt-based start":
            control_share = np.full(k.shape, self.start[self.control])
        elif isinstance(self.control_prob, tuple):  # one share per number of active non-control arms
            shares = np.append(np.asarray(self.control_prob, float), 1.0)
            control_share = shares[np.clip(n_arms - 1 - k, 0, n_arms - 1)]
        else:
            control_share = np.full(k.shape, float(self.control_prob))
        control_share = np.where(k > 0, control_share, 1.0)
        p = apply_bounds(weights, others, self.min_prob, self.max_prob, 1.0 - control_share)
        return np.where(is_control, control_share[..., None], p) * active

    def _adapt_matched(self, weights: np.ndarray, active: np.ndarray, power: float | np.ndarray) -> np.ndarray:
        """Matched controls: arms by their weights (Pr(beating their own control)^power, see
        design.parallel), each control at its share of its family (`match`: the family's best
        arm's weight); min/max bounds on the non-control arms, controls exempt as adaptr's match."""
        comparator = self.comparator
        is_control = comparator < 0
        weights = np.where(is_control, 0.0, weights)
        for c in np.unique(comparator[~is_control]):
            family = active & (comparator == c)
            k = family.sum(axis=-1)
            if self.control_prob == "match":
                share = np.where(family, weights, 0.0).max(axis=-1)
            else:
                s = sqrt_share(k) if self.control_prob == "sqrt-based" else np.full(k.shape, float(self.control_prob))
                total = np.where(family, weights, 0.0).sum(axis=-1)
                share = np.where(total > 0, total, k) * s / np.maximum(1.0 - s, 1e-12)
            weights[..., c] = np.where(k > 0, share, 0.0)
        lo, hi = np.where(is_control, 0.0, self.min_prob), np.where(is_control, 1.0, self.max_prob)
        return apply_bounds(weights, active, lo, hi, np.ones(weights.shape[:-1]))

    @property
    def _other_start(self) -> float:
        """A non-control arm's start share (sqrt-based: 1 / (sqrt(k) + k))."""
        return float(np.delete(self.start, self.control).max())


def restrict_to_active(p: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Renormalise probabilities over active arms (dropped arms get 0)."""
    p = np.where(active, p, 0.0)
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


def apply_bounds(weights: np.ndarray, free: np.ndarray, lo: float | np.ndarray, hi: float | np.ndarray,
                 budget: np.ndarray) -> np.ndarray:
    """Scale `weights` of the `free` arms to sum to `budget`, each within [lo, hi].

    Arms pushed to a bound are fixed there and the rest rescaled, until no arm
    violates a bound (at most one pass per arm), as adaptr's reallocate_probs.
    Arms outside `free` get 0. Each trial (row) is solved on its own, so its
    probabilities do not depend on the other trials computed with it.
    """
    shape = np.shape(weights)
    n_arms = shape[-1]

    def rows(a: np.ndarray | float, dtype: type) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(a, shape), dtype).reshape(-1, n_arms)

    bounded = _bounded(rows(weights, np.float64), rows(free, np.bool_), rows(lo, np.float64), rows(hi, np.float64),
                       np.ascontiguousarray(np.broadcast_to(budget, shape[:-1]), np.float64).reshape(-1))
    return bounded.reshape(shape)


# inputs may be read-only (broadcast_to views that needed no copy): read-only signatures take either
_RO2, _RO1 = "Array(float64, 2, 'C', readonly=True)", "Array(float64, 1, 'C', readonly=True)"


@kernels.jit(f"f8[:, ::1]({_RO2}, Array(bool, 2, 'C', readonly=True), {_RO2}, {_RO2}, {_RO1})")
def _bounded(weights, free, lo, hi, budget):
    n_rows, n_arms = weights.shape
    out = np.zeros((n_rows, n_arms))
    fixed, scalable = np.zeros(n_arms, np.bool_), np.zeros(n_arms, np.bool_)
    for r in range(n_rows):
        p, b = out[r], budget[r]
        n_free = 0
        for k in range(n_arms):
            fixed[k] = False
            if free[r, k]:
                p[k] = weights[r, k]
                n_free += 1
        for _ in range(n_arms + 1):
            held, mass, n_scalable = 0.0, 0.0, 0
            for k in range(n_arms):
                scalable[k] = free[r, k] and not fixed[k]
                if fixed[k]:
                    held += p[k]
                if scalable[k]:
                    mass += p[k]
                    n_scalable += 1
            remaining = b - held
            equal = remaining / max(n_scalable, 1)
            violated = False
            for k in range(n_arms):
                if scalable[k]:
                    p[k] = p[k] * remaining / mass if mass > 0 else equal
                    if p[k] < lo[r, k] - 1e-12:
                        p[k], fixed[k], violated = lo[r, k], True, True
                    elif p[k] > hi[r, k] + 1e-12:
                        p[k], fixed[k], violated = hi[r, k], True, True
            if not violated:
                break
        # Every arm pinned at a bound but the total is off (e.g. an arm with weight 0
        # held at the minimum while the rest hit the maximum): share the gap by the
        # room each arm has left, which keeps every bound that can hold
        total = 0.0
        for k in range(n_arms):
            if free[r, k]:
                total += p[k]
        gap = b - total
        total_room, lo_sum, hi_sum = 0.0, 0.0, 0.0
        for k in range(n_arms):
            if free[r, k]:
                total_room += hi[r, k] - p[k] if gap > 0 else p[k] - lo[r, k]
                lo_sum += lo[r, k]
                hi_sum += hi[r, k]
        # bounds that cannot all hold (too few arms left) yield to summing to the budget
        infeasible = lo_sum > b + 1e-12 or hi_sum < b - 1e-12
        for k in range(n_arms):
            if free[r, k]:
                if infeasible:
                    p[k] = b / max(n_free, 1)
                elif total_room > 0:
                    room = hi[r, k] - p[k] if gap > 0 else p[k] - lo[r, k]
                    p[k] = p[k] + gap * room / total_room
    return out


def randomise(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Arm index for each patient from its uniform u, by inverse CDF.

    probs: (trials, patients or 1, arms), zero for arms not randomised; u: (trials, patients).
    """
    return _inverse_cdf(np.ascontiguousarray(probs, np.float64), np.ascontiguousarray(u, np.float64))


@kernels.jit("i8[:, ::1](f8[:, :, ::1], f8[:, ::1])")
def _inverse_cdf(probs, u):
    """The arm whose cumulative probability interval holds u: the number of running totals <= u,
    never past the last arm with positive probability, whatever the rounding."""
    n_trials, n_patients = u.shape
    n_arms = probs.shape[2]
    out = np.empty((n_trials, n_patients), np.int64)
    for t in range(n_trials):
        for j in range(n_patients):
            row = j if probs.shape[1] > 1 else 0
            total, below, last = 0.0, 0, n_arms - 1
            for a in range(n_arms):
                total += probs[t, row, a]  # the same running sum as np.cumsum
                if u[t, j] >= total:
                    below += 1
            for a in range(n_arms - 1, -1, -1):
                if probs[t, row, a] > 0:
                    last = a
                    break
            out[t, j] = min(below, last)
    return out


def block_assign(start: np.ndarray, block_size: int, u: np.ndarray) -> np.ndarray:
    """Permuted-block randomisation: each block holds the ratio exactly.

    The block's arm sequence is shuffled by ranking each patient's uniform
    within the block, so the same uniforms drive fixed and adaptive designs.
    """
    counts = start * block_size
    if not np.allclose(counts, np.round(counts)):
        raise ValueError(f"block size {block_size} does not hold the ratio {start} in whole patients")
    base = np.repeat(np.arange(len(start)), np.round(counts).astype(int))
    n = u.shape[-1]
    n_blocks = -(-n // block_size)
    padded = np.concatenate([u, np.ones(u.shape[:-1] + (n_blocks * block_size - n,))], axis=-1)
    order = np.argsort(padded.reshape(u.shape[:-1] + (n_blocks, block_size)), axis=-1)
    return base[order].reshape(u.shape[:-1] + (-1,))[..., :n]


def warm_up() -> None:
    """Load the compiled kernels now (e.g. before forking workers that inherit them)."""
    randomise(np.ones((1, 1, 1)), np.zeros((1, 1)))
    apply_bounds(np.ones((1, 2)), np.ones((1, 2), bool), 0.0, 1.0, np.ones(1))
