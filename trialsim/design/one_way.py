"""A parallel-group design whose control patients cross to an active arm after the primary endpoint.

ReActiv8-B (Gilligan et al. 2021 Pain) compared restorative neurostimulation with a
low-level sham at 120 days, then let sham patients cross to active stimulation. The
primary comparison is the parallel design's, untouched (the same loop on the same
patients: identical results). After the trial, every randomised patient is followed to
a long-term visit and each arm is compared with the control by randomised arm twice on
the same patients: as the trial sees it (control patients on the sequence control, then
`to` from the primary endpoint; Cohort.sequence_outcomes) and without the crossover (the
counterfactual a parallel trial would have measured). The difference is what the
crossover costs the long-term comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..patients.sequence import Periods
from .parallel import DesignPlan, DesignResult, Observer, TruthPlan, compare_with_control, randomised_arms, run_design

if TYPE_CHECKING:
    from ..cohort import Cohort
    from ..inference.base import Inference
    from ..visits import VisitPlan


@dataclass(frozen=True)
class LongTerm:
    """Per trial x arm at the long-term visit (internal scale), with and without the crossover."""

    estimate: np.ndarray  # posterior mean, control patients crossed over
    pr_better: np.ndarray  # Pr(arm - control > delta), control patients crossed over
    estimate_direct: np.ndarray  # the same patients without the crossover
    pr_better_direct: np.ndarray


@dataclass(frozen=True)
class OneWayCrossoverPlan:
    """A compiled `one_way_crossover` block."""

    to: int  # arm index the control's patients cross to
    visit: int  # long-term visit (index into patients.visits)
    weeks: float
    switch_weeks: float  # the primary endpoint's week
    threshold: float
    delta: float
    true_values: dict[str, np.ndarray] = field(default_factory=dict)  # truth -> (arms,) at the visit, no crossover
    name: str = "one_way_crossover"

    def run(self, design: DesignPlan, cohort: "Cohort", truth: TruthPlan, infer: "Inference",
            observer: Observer | None = None) -> DesignResult:
        result = run_design(replace(design, family=None), cohort, truth, infer, observer)
        return replace(result, long_term=self.long_term(design, cohort, truth, infer, result))

    def long_term(self, design: DesignPlan, cohort: "Cohort", truth: TruthPlan, infer: "Inference",
                  result: DesignResult) -> LongTerm:
        endpoint, model, control = truth.endpoint, truth.model, design.decisions.control
        arm = randomised_arms(result.observed, result.size)
        y, seen = cohort.later_visit(endpoint, model, np.arange(len(cohort.trials)), arm, self.visit,
                                     design.analysis.screen_failures)
        crossed = arm == control
        y_x, seen_x = y.copy(), seen.copy()
        if crossed.any():
            rows, patients = np.nonzero(crossed)
            change, responder, followed = cohort.sequence_outcomes(
                endpoint, model, rows, patients, np.array([control, self.to]), Periods((0.0, self.switch_weeks)),
                (self.visit,))
            y_x[crossed] = endpoint.visit_outcomes(change[:, 0], responder[:, 0])[0]
            seen_x[crossed] = followed[:, 0]
        n_arms, binary = len(cohort.plan.arms), endpoint.binary

        def analyse(values: np.ndarray, followed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return compare_with_control(cohort, arm, endpoint.to_internal(values), followed, result.size, n_arms,
                                        binary, infer, control, self.delta)

        better_x, mean_x = analyse(y_x, seen_x)
        better, mean = analyse(y, seen)
        return LongTerm(mean_x, better_x, mean, better)


def long_term_true_values(plan: OneWayCrossoverPlan, visits: "VisitPlan", truth: TruthPlan, prevalence: np.ndarray,
                          screening: np.ndarray) -> np.ndarray:
    """Each arm's true value at the long-term visit without crossover (the pure model, visits.true_values)."""
    from ..visits import true_values

    v = truth.model.visit
    change, responder = true_values(visits, v.arms, prevalence, screening, truth.endpoint.responder_reduction,
                                    week=plan.weeks)
    return truth.endpoint.visit_outcomes(change, responder)[0]
