"""Blinding: each patient's belief of being on active treatment, its effect, and end-of-trial guesses.

A truth's `blinding` gives, per arm, the probability p that a patient believes they are on
active treatment. Each patient has one uniform u (stream BLINDING, column 0) shared by every
arm (common random numbers): under arm a they believe "active" when u < p_a. The expectation
part e of the arm's nonspecific shift m becomes m e 2B (B = 1 if they believe "active"), so
the arm's mean nonspecific shift is m (1 - e + 2 e p): unchanged under perfect blinding
(p = 0.5), smaller for a sham its patients see through (p < 0.5), larger for an arm whose
patients know it is active (paresthesia). At the end of the trial a share `dont_know` answers
"don't know" (column 1); the others guess what they believe.

Bang's blinding index of an arm (Bang, Ni & Davis, Control Clin Trials 2004;25:143-156), with
correct / incorrect guesses judged by the arm's role in the design (controls: "placebo" is
correct): BI = (correct - incorrect) / n, in [-1, 1]; 0 is ideal blinding, 1 complete
unblinding, -1 opposite guessing. In expectation it is (1 - d)(2p - 1) for an active arm and
(1 - d)(1 - 2p) for a control.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels, rng
from .rng import Stream

# Probability of believing "active" by arm kind when a truth's blinding does not name the arm.
# Low certainty (docs/references.md, "Blinding"): paresthesia-based SCS is nearly impossible to
# blind; paresthesia-free 10 kHz, sub-perception and closed-loop programmes allow blinded designs;
# arms whose patients cannot be blinded at all (exercise, usual care) keep their figures (0.5:
# the truth's nonspecific part is taken as given).
BELIEF_BY_KIND: dict[str, float] = {
    "sham_implanted": 0.5, "sham_noninvasive": 0.5, "usual_care": 0.5,
    "scs_conventional": 0.95, "scs_10khz": 0.6, "scs_closed_loop": 0.6,
    "dbs_open_loop": 0.7, "dbs_closed_loop": 0.7, "rtms": 0.65, "tdcs": 0.55,
    "exercise": 0.5, "walking": 0.5, "custom": 0.5,
}
GUESSES = ("active", "placebo", "dont_know")


@dataclass(frozen=True)
class BlindingPlan:
    """A truth's compiled blinding."""

    believes_active: np.ndarray  # (arms,)
    expectation_share: float
    dont_know: float

    @property
    def perfect(self) -> bool:
        return bool(np.all(self.believes_active == 0.5))

    def blinded(self) -> "BlindingPlan":
        """The same truth under perfect blinding (every arm 0.5)."""
        return BlindingPlan(np.full_like(self.believes_active, 0.5), self.expectation_share, self.dont_know)

    def expectation(self, u_belief: np.ndarray, arm: np.ndarray) -> np.ndarray:
        """Multiplier of the nonspecific mean shift per element: 1 - e + 2 e B."""
        believes = u_belief < self.believes_active[arm]
        return 1.0 - self.expectation_share + 2.0 * self.expectation_share * believes


def guess_counts(plan: BlindingPlan | None, seed: int, trials: np.ndarray, arm: np.ndarray, asked: np.ndarray,
                 n_arms: int) -> np.ndarray:
    """End-of-trial guesses of the `asked` patients (trials, patients) under their arms, counted per
    trial x arm x guess (GUESSES: active, placebo, don't know).

    A patient answers "don't know" when their column-1 uniform is below `dont_know`, else guesses
    what they believe (column-0 uniform below the arm's p). Without a blinding model every patient
    believes "active" half the time and nobody answers "don't know"."""
    p = np.full(n_arms, 0.5) if plan is None else np.asarray(plan.believes_active, float)
    dont_know = 0.0 if plan is None else float(plan.dont_know)
    return _guess_counts(rng.stream_key(seed, Stream.BLINDING), np.asarray(trials, np.int64),
                         np.ascontiguousarray(arm, np.int64), np.ascontiguousarray(asked, np.bool_), p, dont_know)


@kernels.jit("i8[:, :, ::1](u4[::1], i8[::1], i8[:, ::1], b1[:, ::1], f8[::1], f8)")
def _guess_counts(key, trials, arm, asked, believes_active, dont_know):
    counts = np.zeros((trials.size, believes_active.size, len(GUESSES)), np.int64)
    for b in range(trials.size):
        for i in range(arm.shape[1]):
            if asked[b, i]:
                a = arm[b, i]
                if dont_know > 0.0:  # a uniform is never below 0: drawn only where it can be
                    w0, w1, _, _ = rng.counter_words(key[0], key[1], trials[b], i, 1)
                    if rng.uniform_of_words(w0, w1) < dont_know:
                        counts[b, a, 2] += 1
                        continue
                w0, w1, _, _ = rng.counter_words(key[0], key[1], trials[b], i, 0)
                counts[b, a, 0 if rng.uniform_of_words(w0, w1) < believes_active[a] else 1] += 1
    return counts


def warm_up() -> None:
    """Load the guess-counting kernel now (before forking workers that inherit it)."""
    guess_counts(None, 0, np.arange(1), np.zeros((1, 1), np.int64), np.ones((1, 1), bool), 1)


def bang_index(counts: np.ndarray, control: bool) -> np.ndarray:
    """Bang's index from guess counts (..., 3) (active, placebo, don't know): (correct - incorrect) / n."""
    correct, incorrect = (counts[..., 1], counts[..., 0]) if control else (counts[..., 0], counts[..., 1])
    n = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (correct - incorrect) / np.maximum(n, 1), np.nan)
