"""The look loop of a parallel-group design over a batch of trials, vectorised across trials.

At each look: randomise the patients who arrived since the last look (with
the current allocation probabilities) and draw their outcomes under the arm
they were given, add the outcomes of patients who reached the endpoint to the
sufficient statistics, ask the inference engine for the posterior, apply the
decisions, and update the allocation. After a trial stops, a final analysis
uses every patient randomised by then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..cohort import Cohort
from ..effects import EffectModel
from ..endpoints import Endpoint
from ..inference.base import Inference, LookData, Posterior
from ..inference.engines import AnalysisPlan
from ..inference.visit_data import VISIT_MODELS, visit_stats
from .boundaries import Boundaries
from .allocation import AllocationRule, block_assign, randomise, restrict_to_active
from ..summarise.selection import SelectionPlan, TrialOutcomes, select
from .decisions import EXCLUDED, DecisionRule, against_own, close_by_phenotype, decide, drop_harmful, outcomes
from .observe import Observed, cell_statistics, scatter_add
from .schedule import LookPlan, look_schedule
from .state import ArmFate, Stop, TrialState

if TYPE_CHECKING:
    from .dtr import RegimeResult
    from .longitudinal import Imputation
    from .families import FamilyPlan
    from .one_way import LongTerm


@dataclass(frozen=True)
class Durability:
    """A secondary decision at a later visit: effective at the endpoint and durable at `weeks`."""

    visit: int  # index into the visit model's visits
    weeks: float
    threshold: float
    delta: float


@dataclass(frozen=True)
class DesignPlan:
    """A design compiled to plain rule objects (compile.py builds it)."""

    name: str
    looks: LookPlan
    allocation: AllocationRule
    decisions: DecisionRule
    analysis: AnalysisPlan
    control: str | None = None
    selection: SelectionPlan = SelectionPlan()
    durability: Durability | None = None
    boundaries: Boundaries | None = None  # frequentist designs: the z-scale boundaries behind `decisions`
    family: "FamilyPlan | None" = None  # another design family's plan (design/families.py); None: parallel groups

    @property
    def n_max(self) -> int:
        return self.looks.n_max


@dataclass(frozen=True)
class TruthPlan:
    """A truth compiled for the look loop: the endpoint and the effect arrays."""

    name: str
    endpoint: Endpoint
    model: EffectModel
    blinded: "TruthPlan | None" = None  # the same truth under perfect blinding (an unblinded truth only)


@dataclass(frozen=True)
class LookRecord:
    """What happened at one look, for the trials in `trials` (an observer's view)."""

    look: int
    trials: np.ndarray
    analysed: np.ndarray
    randomised: np.ndarray
    n: np.ndarray  # (trials, arms) patients analysed per arm
    posterior: Posterior
    pr_best: np.ndarray  # Pr(best) among the arms active after the decisions
    state: TrialState  # after this look's decisions
    allocation: np.ndarray  # probabilities for the next patients (NaN where the trial stopped)


Observer = Callable[[LookRecord], None]


@dataclass
class DesignResult:
    """Per-trial outcome of one design on one batch (arrays over trials)."""

    observed: Observed  # assigned arms and outcomes, (trials, patients)
    size: np.ndarray
    state: TrialState
    estimate: np.ndarray  # (trials, arms) final posterior mean, internal scale
    estimate_median: np.ndarray  # (trials, arms) final posterior median, internal scale (NaN if unavailable)
    final_pr_best: np.ndarray
    outcomes: TrialOutcomes  # what arm selection needs, per trial
    selected: np.ndarray  # under the design's first selection strategy
    alloc_history: np.ndarray  # (trials, looks, arms) probabilities after each look (NaN after stop)
    looks_skipped: np.ndarray  # (trials,) looks without decisions: an active arm's posterior was improper
    durable: np.ndarray | None = None  # (trials, arms) effective at the endpoint and durable at the later visit
    pr_durable: np.ndarray | None = None  # (trials, arms) Pr(arm - control > delta at the durability visit)
    estimate_durable: np.ndarray | None = None  # (trials, arms) posterior mean there, internal scale
    follow_up_weeks: float | None = None  # randomisation to the last outcome; None: the endpoint's weeks
    detected_share: np.ndarray | None = None  # (trials, arms) N-of-1: share of patients whose own effect is detected
    calibration: np.ndarray | None = None  # (4, trials, looks) imputations at interims: count, sum of errors (internal
    # scale), sum of squared errors, count inside the predictive interval (design/longitudinal.py)
    regimes: "RegimeResult | None" = None  # SMART: the embedded regimes' estimates and tests (design/smart.py)
    long_term: "LongTerm | None" = None  # one-way crossover: the long-term comparison (design/one_way.py)


class _Trials:
    """The batch being simulated: cohort, truth and what the design has observed so far."""

    def __init__(self, cohort: Cohort, truth: TruthPlan, n_max: int, n_arms: int, missing: str = "complete_case",
                 screen_failures: str = "observed", harm_events: tuple[int, ...] | None = None,
                 early_visits: tuple[int, ...] = ()):
        self.cohort, self.truth, self.missing, self.screen_failures = cohort, truth, missing, screen_failures
        self.harm_events, self.early_visits = harm_events, early_visits
        n = len(cohort.trials)
        early = (np.zeros((n, n_max, len(early_visits))), np.zeros((n, n_max, len(early_visits)), bool)) \
            if early_visits else (None, None)
        self.obs = Observed(np.full((n, n_max), -1, np.int16), np.zeros((n, n_max)), np.zeros((n, n_max), bool),
                            np.zeros((n, n_max), bool), *early,
                            harm=None if harm_events is None else np.zeros((n, n_max), bool))
        self.n_arms = n_arms

    def with_pending(self, data: LookData, mode: str, rows: np.ndarray, n_look: np.ndarray, randomised: np.ndarray,
                     time: np.ndarray, visit_level: bool = False) -> tuple[LookData, Imputation]:
        """An interim's statistics with the pending patients' earlier visits (design/longitudinal.py); with
        `visit_level`, the patients' visits are attached for the PyMC visit-level model (inference/pymc_visits.py)."""
        from .longitudinal import combine, pending_patients  # numba's JIT: imported by designs that use it only

        c, obs = self.cohort, self.obs
        top = int(randomised.max(initial=0))
        window = (rows, slice(0, top))
        arm = obs.arm[window]
        cols = np.arange(top)
        kept = ~c.dropout[window]
        completer = kept & (arm >= 0) & ~obs.missing[window] & (cols < n_look[:, None])
        weeks = np.asarray([c.plan.visit.visits[v] for v in self.early_visits])
        pending = pending_patients(arm, kept, obs.early[window], obs.early_seen[window], c.arrival_week[window],
                                   weeks, time, n_look, randomised)
        all_weeks = np.append(weeks, c.plan.endpoint_weeks)
        out, imputed = combine(data, mode, arm, completer, obs.y[window], obs.early[window], pending,
                               c.observed_phenotype[window], ~obs.missing[window], c.baseline_nrs[window], all_weeks)
        if visit_level:
            out = out.with_visits(visit_stats(arm, completer, obs.y[window], obs.early[window], pending.reached,
                                                      c.observed_phenotype[window], c.baseline_nrs[window],
                                                      self.n_arms, data.n.shape[2], all_weeks))
        return out, imputed

    def statistics(self, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> LookData:
        c = self.cohort
        return cell_statistics(self.obs, c.dropout, c.observed_phenotype, c.baseline_nrs, rows, lo, hi, self.n_arms,
                               c.prevalence, self.truth.endpoint.binary)

    def assign(self, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, new_arm: np.ndarray, start: int) -> None:
        """Record arms new_arm (columns start..) for patients lo..hi-1 and draw their outcomes."""
        cols = np.arange(start, start + new_arm.shape[1])
        todo = (cols >= lo[:, None]) & (cols < hi[:, None])
        window = slice(start, start + new_arm.shape[1])
        arm = np.where(todo, new_arm, -1)
        if self.early_visits:  # with the earlier visits a longitudinal interim may use
            y, responder, missing, change, seen = self.cohort.outcomes_block_early(
                self.truth.endpoint, self.truth.model, rows, start, arm, self.missing, self.early_visits,
                self.screen_failures)
        else:
            y, responder, missing = self.cohort.outcomes_block(self.truth.endpoint, self.truth.model, rows, start, arm,
                                                               self.missing, self.screen_failures)
        obs = self.obs
        obs.missing[rows, window] = np.where(todo, missing, obs.missing[rows, window])
        obs.arm[rows, window] = np.where(todo, new_arm, obs.arm[rows, window])
        obs.y[rows, window] = np.where(todo, self.truth.endpoint.to_internal(y), obs.y[rows, window])
        obs.responder[rows, window] = np.where(todo, responder, obs.responder[rows, window])
        if self.early_visits:
            todo3 = todo[..., None]
            obs.early[rows, window] = np.where(todo3, self.truth.endpoint.to_internal(change), obs.early[rows, window])
            obs.early_seen[rows, window] = np.where(todo3, seen, obs.early_seen[rows, window])
        if self.harm_events is not None:  # the adverse events the harm rule counts, from the event streams
            patients = np.broadcast_to(cols, arm.shape)
            had = self.cohort.adverse_events(np.broadcast_to(rows[:, None], arm.shape), patients, np.maximum(arm, 0))
            obs.harm[rows, window] = np.where(todo, had[..., list(self.harm_events)].any(axis=-1), obs.harm[rows, window])

    def harm_counts(self, rows: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(patients, patients with a counted adverse event) per trial x arm among patients 0..hi-1."""
        width = int(hi.max(initial=0))
        arm = self.obs.arm[rows, :width]
        inside = (arm >= 0) & (np.arange(width) < hi[:, None])
        cell = np.arange(len(rows))[:, None] * self.n_arms + np.maximum(arm, 0)
        size = len(rows) * self.n_arms
        n = np.bincount(cell[inside], minlength=size).reshape(len(rows), self.n_arms)
        e = np.bincount(cell[inside & self.obs.harm[rows, :width]], minlength=size).reshape(len(rows), self.n_arms)
        return n.astype(float), e.astype(float)


def run_design(plan: DesignPlan, cohort: Cohort, truth: TruthPlan, infer: Inference,
               observer: Observer | None = None) -> DesignResult:
    """Run one design on every trial of the cohort under one truth.

    `observer`, if given, sees every look (for tracing one trial look by look).
    """
    n_trials = len(cohort.trials)
    n_arms = len(plan.allocation.start)
    n_pheno = len(cohort.prevalence)
    alloc, rule = plan.allocation, plan.decisions
    schedule = look_schedule(plan.looks, cohort.arrival_week, cohort.plan.endpoint_weeks)
    longitudinal = plan.analysis.longitudinal if plan.analysis.early_visits else "none"
    visit_level = plan.analysis.engine == "pymc" and longitudinal in VISIT_MODELS  # PyMC's visit-level likelihood
    batch = _Trials(cohort, truth, plan.n_max, n_arms, plan.analysis.missing, plan.analysis.screen_failures,
                    rule.harm[0] if rule.harm is not None else None,
                    plan.analysis.early_visits if longitudinal != "none" else ())
    calibration = np.zeros((4, n_trials, plan.looks.n_looks))  # imputed, sum of errors, of squared errors, covered
    probs = np.broadcast_to(alloc.start, (n_trials, n_pheno, n_arms)).copy()
    state = TrialState.start(n_trials, n_arms, n_pheno, rule.control)
    excluded = rule.comparators(n_arms) == EXCLUDED
    state.fate[:, excluded] = ArmFate.EXCLUDED
    last_pr_best = np.zeros((n_trials, n_arms))
    history = np.full((n_trials, plan.looks.n_looks, n_arms), np.nan)
    data = LookData(*(np.zeros((n_trials, n_arms, n_pheno)) for _ in range(6)), truth.endpoint.binary, cohort.prevalence)
    skipped = np.zeros(n_trials, np.int16)
    prev_r = np.zeros(n_trials, np.int64)
    prev_n = np.zeros(n_trials, np.int64)
    for look in range(plan.looks.n_looks):
        idx = running = np.flatnonzero(state.running)
        if idx.size == 0:
            break
        n_look = schedule.analysed[idx, look]
        _randomise_between_looks(batch, idx, prev_r[idx], schedule.randomised[idx, look], probs, alloc, state)
        if rule.harm is not None:  # adverse events are known for everyone randomised by now
            drop_harmful(rule, state, idx, *batch.harm_counts(idx, schedule.randomised[idx, look]), look)
        data = scatter_add(data, idx, batch.statistics(idx, prev_n[idx], n_look))
        final_look = schedule.final[idx] == look
        look_data = data.take(idx)
        if longitudinal != "none":  # interims (not the final analysis) add the pending patients' visits
            look_data, imputed = batch.with_pending(look_data, longitudinal, idx, n_look, schedule.randomised[idx, look],
                                                    schedule.time[idx, look], visit_level)
            calibration[:, idx, look] = np.stack([imputed.n, imputed.error, imputed.error2, imputed.covered])
        post = infer(look_data, cohort.trials[idx], state.active[idx])
        ok = post.proper(state.active[idx])
        if not ok.all():  # an active arm lacks the data its prior needs: no decision at this look
            skipped[idx[~ok]] += 1
            stuck = idx[~ok & final_look]
            state.stop[stuck], state.stop_look[stuck] = Stop.MAX, look
            idx, look_data, post = idx[ok], look_data.take(ok), post.take(ok)
            n_look, final_look = n_look[ok], final_look[ok]
        pr_best = decide(rule, post, state, idx, look, final_look)
        last_pr_best[idx] = pr_best
        still = state.running[idx]
        if still.any():
            _adapt(plan, state, probs, idx, still, look_data, post, pr_best[still], n_look[still], cohort, infer)
            history[idx[still], look] = (probs[idx[still]] * cohort.prevalence[:, None]).sum(axis=1)
        if observer is not None:
            observer(LookRecord(look, idx, schedule.analysed[idx, look], schedule.randomised[idx, look],
                                look_data.n.sum(-1), post, pr_best, state, history[idx, look]))
        prev_r[running] = schedule.randomised[running, look]
        prev_n[running] = schedule.analysed[running, look]
    size = schedule.randomised[np.arange(n_trials), state.stop_look]
    final = batch.statistics(np.arange(n_trials), 0, size)
    contention = state.active | (state.fate == ArmFate.EFFECTIVE)
    final_post = infer(final, cohort.trials, contention)
    final_pr_best = final_post.prob_best(contention)
    median = getattr(final_post, "median", None)  # engines without medians record NaN
    estimate = np.where(excluded, np.nan, final_post.mean())
    trial_outcomes = outcomes(rule, state, final_pr_best, last_pr_best)
    return DesignResult(
        observed=batch.obs, size=size, state=state, estimate=estimate,
        estimate_median=np.where(excluded, np.nan, median()) if median is not None else np.full((n_trials, n_arms), np.nan),
        final_pr_best=final_pr_best, outcomes=trial_outcomes,
        selected=select(trial_outcomes, plan.selection.strategy()), alloc_history=history, looks_skipped=skipped,
        calibration=calibration if longitudinal != "none" else None, **durability(plan, batch, size, infer, state),
    )


def durability(plan: DesignPlan, batch: _Trials, size: np.ndarray, infer: Inference,
               state: TrialState) -> dict[str, np.ndarray]:
    """After the trial: every randomised patient followed to the durability visit (complete cases),
    Pr(arm better than the control by delta) there, the posterior means, and which arms are
    effective at the endpoint and durable (Pr > threshold)."""
    d = plan.durability
    if d is None:
        return {}
    c = batch.cohort
    arm = randomised_arms(batch.obs, size)
    y, seen = c.later_visit(batch.truth.endpoint, batch.truth.model, np.arange(len(c.trials)), arm, d.visit,
                            plan.analysis.screen_failures)
    better, mean = compare_with_control(c, arm, batch.truth.endpoint.to_internal(y), seen, size, batch.n_arms,
                                        batch.truth.endpoint.binary, infer, plan.decisions.control, d.delta)
    durable = (state.fate == ArmFate.EFFECTIVE) & (np.nan_to_num(better) > d.threshold)
    return {"pr_durable": better, "estimate_durable": mean, "durable": durable}


def randomised_arms(obs: Observed, size: np.ndarray) -> np.ndarray:
    """(trials, largest size) the arm of every randomised patient, -1 beyond each trial's size."""
    width = int(size.max(initial=0))
    return np.where(np.arange(width) < size[:, None], obs.arm[:, :width], -1)


def compare_with_control(c: Cohort, arm: np.ndarray, y: np.ndarray, seen: np.ndarray, size: np.ndarray, n_arms: int,
                         binary: bool, infer: Inference, control: int, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """One analysis of every randomised patient followed to a later visit (complete cases; y internal,
    (trials, patients)): Pr(arm - control > delta) and each arm's posterior mean, NaN where an arm has
    too little data for its posterior."""
    rows = np.arange(len(c.trials))
    later = Observed(arm, y, np.zeros(arm.shape, bool), ~seen)
    data = cell_statistics(later, c.dropout, c.observed_phenotype, c.baseline_nrs, rows, 0, size, n_arms,
                           c.prevalence, binary)
    enough = data.n.sum(-1) >= 2  # arms whose posterior is proper under the flat prior
    post = infer(data, c.trials, enough)
    ref = np.full(len(rows), control, np.int64)
    better = np.where(enough & enough[:, [control]], post.prob_better(ref, delta), np.nan)
    return better, np.where(enough, post.mean(), np.nan)


def _adapt(plan: DesignPlan, state: TrialState, probs: np.ndarray, idx: np.ndarray, still: np.ndarray,
           look_data: LookData, post: Posterior, pr_best: np.ndarray, n_look: np.ndarray, cohort: Cohort,
           infer: Inference) -> None:
    """After the decisions: close arms to phenotypes (enrichment) and set the next allocation of the
    trials idx[still] (look_data and post are the look's, of every trial in idx), in place."""
    alloc, rule = plan.allocation, plan.decisions
    n_pheno, n_arms = len(cohort.prevalence), state.fate.shape[1]
    rows = idx[still]
    by_phenotype = rule.phenotype_futility is not None or (alloc.stratified and alloc.adaptive)
    if (by_phenotype or (alloc.adaptive and rule.matched)) and not still.all():
        look_data, post = look_data.take(still), post.take(still)  # copies of the grids only for rules that read them
    split = None
    if by_phenotype:
        split = infer.by_phenotype(post, look_data, cohort.trials[rows], state.active[rows])
    if rule.phenotype_futility is not None:
        control = np.full(rows.size * n_pheno, rule.control)
        better = split.prob_better(control, rule.phenotype_futility[1]).reshape(rows.size, n_pheno, n_arms)
        close_by_phenotype(rule, better, state, rows)
    open_arms = state.active[rows][:, None, :] & ~state.closed[rows]
    if alloc.stratified and alloc.adaptive:
        pb = split.prob_best(open_arms.reshape(-1, n_arms)).reshape(rows.size, n_pheno, n_arms)
    elif alloc.adaptive and rule.matched:  # across control families: Pr(beating its own control), not Pr(best)
        pb = against_own(post.prob_better, rule.comparator, rows.size, 0.0)[:, None, :]
    elif alloc.adaptive:
        pb = pr_best[:, None, :]
    else:
        pb = alloc.start[None, None, :]
    pb = np.broadcast_to(pb, (rows.size, n_pheno, n_arms))
    probs[rows] = restrict_to_active(alloc.update(pb, open_arms, n_look, plan.n_max, state.control[rows]), open_arms)


def _randomise_between_looks(batch: _Trials, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray, probs: np.ndarray,
                             alloc: AllocationRule, state: TrialState) -> None:
    """Assign arms to patients lo..hi-1 of each running trial and draw their outcomes (in place)."""
    cohort = batch.cohort
    cohort.reach(idx, hi)
    start, stop = int(lo.min()), int(hi.max())
    if stop <= start:
        return
    if alloc.stratified:
        phenotype = cohort.observed_phenotype[idx, start:stop, None].astype(np.intp)  # what the trial knows
        p = np.take_along_axis(probs[idx], phenotype, axis=1)  # (trials, patients, arms)
    else:
        p = probs[idx, :1]  # every phenotype row is the same
    new = randomise(p, cohort.u_randomise[idx, start:stop])
    if alloc.block_size:  # blocks hold while every arm is still randomised
        # a block's shuffle depends only on its own patients' uniforms: whole blocks are computed
        size = alloc.block_size
        first, last = start - start % size, min(-(-stop // size) * size, cohort.n_patients)
        cohort.reach(idx, np.full(idx.size, last))
        blocks = block_assign(alloc.start, size, cohort.u_randomise[idx, first:last])[:, start - first:stop - first]
        kept = state.active[idx] | (state.fate[idx] == ArmFate.EXCLUDED)  # excluded arms have no place in a block
        intact = (kept.all(axis=1) & ~state.closed[idx].any(axis=(1, 2)))[:, None]
        new = np.where(intact, blocks, new)
    batch.assign(idx, lo, hi, new, start)
