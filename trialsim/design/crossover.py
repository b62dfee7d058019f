"""Crossover designs (AB/BA, Williams squares, given sequences) on the parallel design's patients.

Each patient is randomised (permuted blocks of twice the number of sequences, from the
randomisation uniform every design uses) to a sequence of arms over periods of `period_weeks`
of treatment each followed by `washout_weeks` without; the outcome of a period is the change
in NRS from the trial's baseline at the visit ending its treatment (Cohort.sequence_outcomes:
the same latent pain, errors and per-arm draws as the parallel design, so comparisons are
paired). Carry-over and its washout decay come from the truth (patients.sequence); period
effects emerge from the natural course and the nonspecific time course in trial time.

A look happens when `looks.at_patients[j]` patients have completed every period (complete
pairs: patients lost before their last period's visit, or to the logistics dropout, are left
out); the analysis is the exact within-patient mixed model (design/within.py) and the
decisions are the design's (superiority / futility against the control, design/decisions.py).
After a trial stops, everyone randomised by then is followed to the end of their sequence and
analysed. Sample size is patients randomised; duration runs to the last one's last period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..summarise.selection import select
from .allocation import block_assign
from .decisions import outcomes
from .observe import Observed
from .state import ArmFate
from .within import SequenceDesign, WithinPosterior, within_posterior, within_stats
from .within_looks import PeriodTiming, run_looks

if TYPE_CHECKING:
    from ..cohort import Cohort
    from ..inference.base import Inference
    from .parallel import DesignPlan, DesignResult, Observer, TruthPlan


def williams(k: int) -> list[list[int]]:
    """A Williams design for k treatments: each treatment follows each other equally often
    (once for even k with k sequences; twice for odd k with 2k sequences, the square and its mirror)."""
    first = [0]
    lo, hi = 1, k - 1
    for j in range(1, k):  # 0, 1, k-1, 2, k-2, ...
        first.append(lo if j % 2 else hi)
        lo, hi = (lo + 1, hi) if j % 2 else (lo, hi - 1)
    square = [[(a + i) % k for a in first] for i in range(k)]
    return square if k % 2 == 0 else square + [row[::-1] for row in square]


@dataclass(frozen=True)
class CrossoverPlan(PeriodTiming):
    """A compiled crossover design (a design/families.FamilyPlan)."""

    sequences: np.ndarray  # (S, P) scenario arm index per sequence and period
    treatments: tuple[int, ...]  # scenario arms in the design, the control first
    period_weeks: float  # treatment weeks per period
    washout_weeks: float  # weeks without treatment after each period's treatment
    visits: tuple[int, ...]  # index (visit model) of the visit ending each period's treatment
    name: str = "crossover"

    @property
    def n_periods(self) -> int:
        return self.sequences.shape[1]

    def local(self) -> SequenceDesign:
        """The sequences over the design's own treatments (the control is 0)."""
        index = {a: i for i, a in enumerate(self.treatments)}
        return SequenceDesign(np.vectorize(index.get)(self.sequences), len(self.treatments), 0)

    def posterior(self, y: np.ndarray, sequence: np.ndarray, include: np.ndarray, n_arms: int) -> WithinPosterior:
        """The exact posterior over every scenario arm (arms outside the design: NaN level, no data)."""
        local = within_posterior(self.local(), within_stats(y, sequence, include, len(self.sequences)))
        t = np.asarray(self.treatments)
        level = np.full((len(y), n_arms), np.nan)
        level[:, t] = local.level
        cov = np.zeros((len(y), n_arms, n_arms))
        cov[:, t[:, None], t[None, :]] = np.nan_to_num(local.cov)
        cov[~np.isfinite(local.cov).all(axis=(1, 2))] = np.nan
        return WithinPosterior(level, cov, local.df, self.treatments[0])

    def run(self, design: "DesignPlan", cohort: "Cohort", truth: "TruthPlan", infer: "Inference",
            observer: "Observer | None" = None) -> "DesignResult":
        return run_sequences(self, design, cohort, truth, observer)


def randomise_sequences(cohort: "Cohort", n_sequences: int, n: int) -> np.ndarray:
    """Sequence index per patient (trials, n): permuted blocks of 2 x sequences from the randomisation
    uniforms (those of every design: the same patients in the same arrival order)."""
    cohort.reach(np.arange(len(cohort.trials)), np.full(len(cohort.trials), n))
    start = np.full(n_sequences, 1.0 / n_sequences)
    size = 2 * n_sequences
    width = -(-n // size) * size
    u = cohort.u_randomise[:, :n]
    padded = np.concatenate([u, np.ones((u.shape[0], width - n))], axis=1)
    return block_assign(start, size, padded)[:, :n]


def run_sequences(plan: CrossoverPlan, design: "DesignPlan", cohort: "Cohort", truth: "TruthPlan",
                  observer: "Observer | None" = None) -> "DesignResult":
    """The look loop of a crossover design on every trial of the cohort under one truth."""
    from .parallel import DesignResult

    n_trials, n_max = len(cohort.trials), design.n_max
    n_arms, rule = len(cohort.plan.arms), design.decisions
    sequence = randomise_sequences(cohort, len(plan.sequences), n_max)
    arms = plan.sequences[sequence]  # (trials, patients, periods)
    change, responder, seen = cohort.sequence_outcomes(
        truth.endpoint, truth.model, np.arange(n_trials)[:, None], np.arange(n_max)[None, :], arms,
        plan.periods(truth.model), plan.visits)
    y = truth.endpoint.to_internal(change)
    complete = seen.all(axis=-1) & ~cohort.dropout[:, :n_max]
    cols = np.arange(n_max)

    def analyse(rows: np.ndarray, upto: np.ndarray) -> tuple[WithinPosterior, np.ndarray]:
        include = complete[rows] & (cols < upto[:, None])
        return plan.posterior(y[rows], sequence[rows], include, n_arms), include.sum(axis=1)

    looked = run_looks(design, cohort, plan.follow_up_weeks, analyse, observer)
    state, size, excluded = looked.state, looked.size, looked.excluded
    include = complete & (cols < size[:, None])
    final = plan.posterior(y, sequence, include, n_arms)
    contention = state.active | (state.fate == ArmFate.EFFECTIVE)
    final_pr_best = final.prob_best(contention)
    trial_outcomes = outcomes(rule, state, final_pr_best, looked.last_pr_best)
    randomised = cols < size[:, None]
    observed = Observed(np.where(randomised, arms[..., 0], -1).astype(np.int16), np.where(randomised, y[..., 0], 0.0),
                        responder[..., 0] & randomised, ~complete)  # records count patients by their first arm
    estimate = np.where(excluded, np.nan, final.mean())
    return DesignResult(
        observed=observed, size=size, state=state, estimate=estimate, estimate_median=estimate,
        final_pr_best=final_pr_best, outcomes=trial_outcomes, selected=select(trial_outcomes, design.selection.strategy()),
        alloc_history=np.full((n_trials, design.looks.n_looks, n_arms), np.nan), looks_skipped=looked.skipped,
        follow_up_weeks=plan.follow_up_weeks,
    )
