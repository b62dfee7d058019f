"""A patient's latent pain shift under a sequence of treatments over periods (pure: numpy in, numpy out).

Every within-patient design (crossover, Williams squares, N-of-1 blocks, one-way
crossover, SMART) gives a patient one arm per period. Period p's treatment starts at
week `starts[p]` (the first at 0, randomisation) and lasts `weeks` (None: up to the
next period's start); the rest of the period, if any, is a washout without treatment.
At a visit in period p the latent shift (log pain ratio, patients.effects) is

    nonspecific part of arm a_p at the trial week t (context and natural course run
                     in trial time; the arm's expectation under blinding)
  + specific part of arm a_p at t - starts[p] (onset, responder class and loss of
                     response restart with the arm), 0 in the washout
  + carry-over       share_c * (specific part of the previous treatment at its end)
                     * 0.5 ** ((t - end of that treatment) / half_life_c)
  + period shift     period_shift[p]

The previous treatment is period p-1's while period p's treatment runs, and period p's
own in its washout (first-order carry-over, the model Williams designs balance). The
carry-over share and half-life belong to the arm carried over (c); the specific part
carried is the patient's own (responder class, screening). A one-period sequence is the
parallel-group shift bit for bit.

API (stable; used by trialsim.cohort.Cohort.sequence_outcomes and the design families):
  Periods(starts, weeks=None, carry_share=(), carry_half_life=(), period_shift=())
  Periods.period_at(week) -> (period index, True if in the washout)
  sequence_shift(arrays, periods, week, arms (..., P), phenotype, z, u_class (..., P),
                 u_loss (..., P), passed (..., P), trial_shift, expectation (..., P)) -> shift (...)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .effects import ArmArrays, nonspecific_shift, specific_shift


@dataclass(frozen=True)
class Periods:
    """The periods of a sequence and how treatments carry over (per arm, indexed by arm)."""

    starts: tuple[float, ...]  # week each period's treatment starts; the first is 0
    weeks: float | None = None  # treatment length in every period; None: up to the next start (no washout)
    carry_share: tuple[float, ...] = ()  # per arm: share of its specific shift left when it stops; () none
    carry_half_life: tuple[float, ...] = ()  # per arm: weeks to halve what is left; () or inf: no decay
    period_shift: tuple[float, ...] = ()  # per period: latent shift (period effect); () none

    def __post_init__(self) -> None:
        s = np.asarray(self.starts, float)
        if s.size == 0 or s[0] != 0.0 or np.any(np.diff(s) <= 0):
            raise ValueError(f"period starts must begin at 0 and increase strictly, got {self.starts}")
        if self.weeks is not None and len(s) > 1 and self.weeks > np.diff(s).min():
            raise ValueError(f"treatment weeks ({self.weeks:g}) exceed the shortest period ({np.diff(s).min():g})")

    @property
    def n_periods(self) -> int:
        return len(self.starts)

    def end(self, p: int) -> float:
        """Week period p's treatment stops."""
        if self.weeks is not None:
            return self.starts[p] + self.weeks
        return self.starts[p + 1] if p + 1 < self.n_periods else np.inf

    def period_at(self, week: float) -> tuple[int, bool]:
        """(period of a visit at `week`, whether it falls in the washout after the treatment)."""
        p = max(int(np.searchsorted(self.starts, week, side="right")) - 1, 0)
        return p, week > self.end(p)

    @property
    def carries(self) -> bool:
        return any(c != 0.0 for c in self.carry_share)


def sequence_shift(arrays: ArmArrays, periods: Periods, week: float, arms: np.ndarray, phenotype: np.ndarray,
                   z_nonspecific: np.ndarray, u_class: np.ndarray, u_loss: np.ndarray, passed: np.ndarray,
                   trial_shift: float | np.ndarray = 0.0, expectation: float | np.ndarray = 1.0) -> np.ndarray:
    """Shift of latent pain at `week` under a sequence, one per element.

    arms, u_class, u_loss, passed (and expectation, if an array) carry a last axis of periods:
    the element's arm in each period and its uniforms / screening result under that arm."""
    p, washout = periods.period_at(week)
    expect = expectation[..., p] if np.ndim(expectation) else expectation
    arm = arms[..., p]
    shift = nonspecific_shift(arrays, week, arm, z_nonspecific, trial_shift, expect)
    if not washout:
        specific, _ = specific_shift(arrays, week - periods.starts[p], arm, phenotype, u_class[..., p],
                                     u_loss[..., p], passed[..., p])
        shift = shift + specific
    source = p if washout else p - 1  # the treatment that stopped last
    if periods.carries and source >= 0:
        before = arms[..., source]
        ended = periods.end(source)
        left, _ = specific_shift(arrays, ended - periods.starts[source], before, phenotype, u_class[..., source],
                                 u_loss[..., source], passed[..., source])
        share = np.asarray(periods.carry_share, float)[before]
        half_life = np.asarray(periods.carry_half_life or (np.inf,) * len(periods.carry_share), float)[before]
        shift = shift + share * left * 0.5 ** ((week - ended) / half_life)
    if periods.period_shift:
        shift = shift + periods.period_shift[p]
    return shift
