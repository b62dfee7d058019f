"""A two-stage SMART (sequential multiple-assignment randomised trial) as a design family.

Every patient of the design's sample is randomised equally among the stage-1 arms
(the cohort's randomisation uniforms, as a parallel design). At the response visit a
patient whose NRS fell by at least the response share of baseline is a responder and
stays on the arm; a non-responder is re-randomised equally among the stage-2 options of
their arm (a uniform of the randomisation stream under the key "stage2") and switches at
that week. The final endpoint is the primary visit: responders' outcomes are the stage-1
arm's, switched non-responders' come from the treatment-sequence layer
(Cohort.sequence_outcomes: the same latent pain and draws as every other design).

One analysis after everyone reached the final endpoint: each embedded regime's
weighted mean and robust SE (design/dtr.py), one-sided z tests of every regime against
the reference regime, and the regime with the best estimated mean. Patients are
recorded under the treatment they are on at the final visit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .. import rng
from ..patients.sequence import Periods
from ..rng import Stream
from .allocation import randomise
from .decisions import outcomes
from .dtr import Regimes, RegimeResult, best_regime, better_than_reference, ipw_means
from .observe import Observed
from .parallel import DesignPlan, DesignResult, Observer, TruthPlan
from .state import Stop, TrialState

if TYPE_CHECKING:
    from ..cohort import Cohort, CohortPlan
    from ..inference.base import Inference

TRUE_VALUE_TRIALS, TRUE_VALUE_PATIENTS = 200, 500  # 100,000 patients per regime's true value
TRUE_VALUE_SEED = 7_340_991_205  # a fixed seed of its own: the true values' patients are not a run's patients


@dataclass(frozen=True)
class SmartPlan:
    """A compiled `smart` block (arm indices into the scenario's arms; visits index patients.visits)."""

    regimes: Regimes
    stage1: tuple[int, ...]
    options: dict[int, tuple[int, ...]]  # stage-1 arm -> its non-responders' options
    response_visit: int
    response_weeks: float
    response_reduction: float
    final_visit: int
    reference: int  # index into regimes
    alpha: float  # one-sided level of each comparison with the reference (after multiplicity)
    small_sample: bool = True  # t reference on Welch-Satterthwaite df (False: normal, the large-sample Wald test)
    true_values: dict[str, np.ndarray] = field(default_factory=dict)  # truth -> (regimes,) endpoint scale
    name: str = "smart"

    def run(self, design: DesignPlan, cohort: "Cohort", truth: TruthPlan, infer: "Inference",
            observer: Observer | None = None) -> DesignResult:
        n_trials, n = len(cohort.trials), design.n_max
        n_arms, n_pheno = len(cohort.plan.arms), len(cohort.prevalence)
        rows = np.arange(n_trials)
        cohort.reach(rows, np.full(n_trials, n))
        treated = self.treat(cohort, truth, n)
        endpoint = truth.endpoint
        y = endpoint.to_internal(treated.y)
        observed = treated.seen & ~cohort.dropout[:, :n]
        est = ipw_means(self.regimes, y, observed, treated.first, treated.responded, treated.second)
        t, better = better_than_reference(est, self.reference, self.alpha, self.small_sample)
        final_arm = np.where(treated.switched, treated.second, treated.first)
        state = TrialState.start(n_trials, n_arms, n_pheno)
        state.stop[:], state.stop_look[:] = Stop.MAX, 0
        nan = np.full((n_trials, n_arms), np.nan)
        history = np.broadcast_to(self.stage1_probabilities(n_arms), (n_trials, 1, n_arms)).copy()
        return DesignResult(
            observed=Observed(final_arm.astype(np.int16), y, treated.responder, ~treated.seen),
            size=np.full(n_trials, n), state=state, estimate=nan, estimate_median=nan, final_pr_best=nan,
            outcomes=outcomes(design.decisions, state, nan, nan), selected=np.full(n_trials, -1),
            alloc_history=history, looks_skipped=np.zeros(n_trials, np.int16),
            regimes=RegimeResult(self.regimes.names, est.mean, est.se, est.n_eff - 1, t, better,
                                 best_regime(est)),
        )

    def stage1_probabilities(self, n_arms: int) -> np.ndarray:
        p = np.zeros(n_arms)
        p[list(self.stage1)] = 1.0 / len(self.stage1)
        return p

    def treat(self, cohort: "Cohort", truth: TruthPlan, n: int) -> "Treated":
        """Randomise patients 0..n-1 of every trial through both stages and measure the final endpoint."""
        n_trials = len(cohort.trials)
        rows, patients = np.arange(n_trials)[:, None], np.arange(n)[None, :]
        p = self.stage1_probabilities(len(cohort.plan.arms))
        first = randomise(np.broadcast_to(p, (n_trials, 1, len(p))), cohort.u_randomise[:, :n])
        u2 = rng.block(rng.stream_key(cohort.seed, Stream.RANDOMISATION, "stage2"), cohort.trials, 0, n)
        return self.follow(cohort, truth, rows, patients, first, u2)

    def follow(self, cohort: "Cohort", truth: TruthPlan, rows: np.ndarray, patients: np.ndarray,
               first: np.ndarray, u2: np.ndarray) -> "Treated":
        """Both stages for given stage-1 arms and stage-2 uniforms (rows, patients and first broadcast)."""
        endpoint, model = truth.endpoint, truth.model
        change, responder, seen = cohort.sequence_outcomes(endpoint, model, rows, patients, first[..., None],
                                                           Periods((0.0,)), (self.response_visit, self.final_visit))
        baseline = cohort.baseline_nrs[rows, patients]
        responded = -change[..., 0] >= self.response_reduction * baseline
        counts = np.zeros(len(cohort.plan.arms), np.int64)
        table = np.zeros((len(cohort.plan.arms), max(len(o) for o in self.options.values())), np.int64)
        for arm, opts in self.options.items():
            counts[arm], table[arm, : len(opts)] = len(opts), opts
        pick = np.minimum((u2 * counts[first]).astype(np.int64), np.maximum(counts[first] - 1, 0))
        second = table[first, pick]
        switched = ~responded & (second != first)
        final, final_resp, final_seen = change[..., 1], responder[..., 1], seen[..., 1]
        if switched.any():  # non-responders who change treatment at the response visit
            r, q = np.broadcast_to(rows, first.shape)[switched], np.broadcast_to(patients, first.shape)[switched]
            arms = np.stack([first[switched], second[switched]], axis=-1)
            c2, r2, s2 = cohort.sequence_outcomes(endpoint, model, r, q, arms, Periods((0.0, self.response_weeks)),
                                                  (self.final_visit,))
            final, final_resp, final_seen = final.copy(), final_resp.copy(), final_seen.copy()
            final[switched], final_resp[switched], final_seen[switched] = c2[:, 0], r2[:, 0], s2[:, 0]
        y, resp = endpoint.visit_outcomes(final, final_resp)
        return Treated(first, second, responded, switched, y, resp, final_seen)

    def with_true_values(self, cohort_plan: "CohortPlan", truths: dict[str, TruthPlan]) -> "SmartPlan":
        """This plan with every truth's regime values (endpoint scale), from a large cohort of their own."""
        return replace(self, true_values={name: regime_true_values(self, cohort_plan, t) for name, t in truths.items()})


@dataclass(frozen=True)
class Treated:
    """The two stages of patients (trials, patients): arms, response, the final endpoint."""

    first: np.ndarray
    second: np.ndarray  # the option drawn (used only by non-responders)
    responded: np.ndarray  # responder at the response visit (the SMART's rule)
    switched: np.ndarray  # non-responder moved to another arm
    y: np.ndarray  # final endpoint, endpoint scale
    responder: np.ndarray  # the endpoint's responder definition at the final visit
    seen: np.ndarray  # followed to the final visit


def regime_true_values(plan: SmartPlan, cohort_plan: "CohortPlan", truth: TruthPlan) -> np.ndarray:
    """Each regime's mean final endpoint (endpoint scale) when every patient follows it, over
    TRUE_VALUE_TRIALS x TRUE_VALUE_PATIENTS patients of a fixed seed; dropout does not enter
    (potential outcomes), so complete-case analyses are judged against the full population."""
    from ..cohort import Cohort

    c = Cohort(replace(cohort_plan, max_patients=TRUE_VALUE_PATIENTS), TRUE_VALUE_SEED, np.arange(TRUE_VALUE_TRIALS))
    rows, patients = np.arange(TRUE_VALUE_TRIALS)[:, None], np.arange(TRUE_VALUE_PATIENTS)[None, :]
    c.reach(rows[:, 0], np.full(TRUE_VALUE_TRIALS, TRUE_VALUE_PATIENTS))
    values = []
    for a, o in zip(plan.regimes.first, plan.regimes.second):  # everyone starts on a; option o for non-responders
        one = replace(plan, options={int(a): (int(o),)})
        first = np.full((TRUE_VALUE_TRIALS, TRUE_VALUE_PATIENTS), a)
        treated = one.follow(c, truth, rows, patients, first, np.zeros(first.shape))
        values.append(treated.y.mean())
    return np.array(values)
