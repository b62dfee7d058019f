"""What within-patient designs (crossover, N-of-1) share: period timing and the look loop.

Their patients' outcomes are known up front (every period's, from Cohort.sequence_outcomes);
a look analyses the running trials' patients who completed every period, and the design's
decisions (design/decisions.py) act on that posterior. Each design supplies `analyse(rows,
upto)`: the posterior of trials `rows` from their first `upto` patients, and how many patients
it analysed per trial (each of them has every treatment of the design).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..patients.sequence import Periods
from .decisions import EXCLUDED, decide
from .schedule import look_schedule
from .state import ArmFate, Stop, TrialState

if TYPE_CHECKING:
    from ..cohort import Cohort
    from ..effects import EffectModel
    from ..inference.base import Posterior
    from .parallel import DesignPlan, Observer


class PeriodTiming:
    """Periods of `period_weeks` of treatment, each followed by `washout_weeks` without (mixin:
    the plan class gives the two fields and `n_periods`)."""

    period_weeks: float
    washout_weeks: float
    n_periods: int

    @property
    def starts(self) -> tuple[float, ...]:
        return tuple(p * (self.period_weeks + self.washout_weeks) for p in range(self.n_periods))

    @property
    def follow_up_weeks(self) -> float:
        """From randomisation to the last period's outcome."""
        return self.starts[-1] + self.period_weeks

    def periods(self, model: "EffectModel") -> Periods:
        v = model.visit
        return Periods(self.starts, self.period_weeks, v.carry_share, v.carry_half_life)


@dataclass
class Looked:
    """The loop's outcome per trial."""

    state: TrialState
    last_pr_best: np.ndarray  # (trials, arms) Pr(best) at each trial's last look with decisions
    skipped: np.ndarray  # (trials,) looks without decisions (too few complete patients)
    size: np.ndarray  # (trials,) patients randomised when the trial stopped
    excluded: np.ndarray  # (arms,) arms outside the design


def run_looks(design: "DesignPlan", cohort: "Cohort", follow_up_weeks: float,
              analyse: Callable[[np.ndarray, np.ndarray], tuple["Posterior", np.ndarray]],
              observer: "Observer | None" = None) -> Looked:
    """Every look of every trial: analyse the complete patients, then apply the design's decisions.

    `observer`, if given, sees every look (for tracing one trial look by look)."""
    from .parallel import LookRecord

    n_trials, n_arms, rule = len(cohort.trials), len(cohort.plan.arms), design.decisions
    schedule = look_schedule(design.looks, cohort.arrival_week, follow_up_weeks)
    state = TrialState.start(n_trials, n_arms, len(cohort.prevalence), rule.control)
    excluded = rule.comparators(n_arms) == EXCLUDED
    state.fate[:, excluded] = ArmFate.EXCLUDED
    last_pr_best = np.zeros((n_trials, n_arms))
    skipped = np.zeros(n_trials, np.int16)
    for look in range(design.looks.n_looks):
        idx = np.flatnonzero(state.running)
        if idx.size == 0:
            break
        post, analysed = analyse(idx, schedule.analysed[idx, look])
        final_look = schedule.final[idx] == look
        ok = post.proper(state.active[idx])
        if not ok.all():  # too few complete patients for the model: no decision at this look
            skipped[idx[~ok]] += 1
            stuck = idx[~ok & final_look]
            state.stop[stuck], state.stop_look[stuck] = Stop.MAX, look
            idx, post, final_look, analysed = idx[ok], post.take(ok), final_look[ok], analysed[ok]
        last_pr_best[idx] = decide(rule, post, state, idx, look, final_look)
        if observer is not None:  # sequences are randomised in fixed shares: no allocation to show
            observer(LookRecord(look, idx, schedule.analysed[idx, look], schedule.randomised[idx, look],
                                np.where(excluded, 0, analysed[:, None]), post, last_pr_best[idx], state,
                                np.full((idx.size, n_arms), np.nan)))
    size = schedule.randomised[np.arange(n_trials), np.maximum(state.stop_look, 0)]
    return Looked(state, last_pr_best, skipped, size, excluded)
