"""The look loop of one design over a batch of trials, vectorised across trials.

At each look: randomise the patients who arrived since the last look (with
the current allocation probabilities), add the outcomes of patients who
reached the endpoint to the sufficient statistics, ask the inference engine
for the posterior, apply the decisions, and update the allocation. After a
trial stops, a final analysis uses every patient randomised by then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .allocation import AllocationRule, block_assign, randomise, restrict_to_active
from .cohort import Cohort
from .decisions import ArmFate, DecisionRule, Stop, TrialState, close_by_phenotype, decide, outcomes
from .summarise.selection import Strategy, TrialOutcomes, select
from .inference.base import DrawsPosterior, LookData, Posterior
from .scenario.schema import Design, Looks

from .inference.engines import Inference


@dataclass(frozen=True)
class DesignPlan:
    """A design compiled to arrays and rule objects."""

    name: str
    looks: Looks
    allocation: AllocationRule
    decisions: DecisionRule
    selection: Strategy  # the primary selection strategy (recorded as selected_arm)

    @classmethod
    def from_design(cls, name: str, design: Design, arm_names: list[str]) -> "DesignPlan":
        return cls(name=name, looks=design.looks, allocation=AllocationRule.from_design(design, arm_names),
                   decisions=DecisionRule.from_design(design, arm_names), selection=strategy(design, arm_names))

    @property
    def n_max(self) -> int:
        return self.looks.n_max


def strategy(design: Design, arm_names: list[str], name: str | None = None) -> Strategy:
    """A design's selection strategy `name` (default: its first) with its preferences."""
    d = design.decisions
    return Strategy(name or d.strategies[0], tuple(arm_names.index(a) for a in d.selection_preferences),
                    d.select_last_arm)


@dataclass(frozen=True)
class Schedule:
    """Per trial and look: patients with the endpoint reached, and patients randomised."""

    analysed: np.ndarray  # (trials, looks)
    randomised: np.ndarray  # (trials, looks)
    final: np.ndarray  # (trials,) index of the look that is the trial's final analysis


def _count_by(arrivals: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each trial, how many arrivals are at or before each time, (trials, times).

    One broadcast comparison for the chunk (exact, whatever the trial's neighbours).
    """
    return (arrivals[:, None, :] <= times[:, :, None]).sum(axis=2)


def look_schedule(plan: DesignPlan, cohort: Cohort, endpoint_weeks: float) -> Schedule:
    """When each trial's looks happen, in patients.

    Looks by patient count happen when that many have reached the endpoint;
    everyone who arrived by then has been randomised (follow-up lag), unless
    randomised_at_looks gives the counts. Calendar looks count who has reached
    the endpoint and who has arrived by that week; the final analysis comes once
    max_patients have reached the endpoint.
    """
    looks, n_max = plan.looks, plan.n_max
    arrivals = cohort.arrival_week[:, :n_max]
    n_trials = arrivals.shape[0]
    if looks.at_patients is not None:
        analysed = np.broadcast_to(np.asarray(looks.at_patients), (n_trials, looks.n_looks))
        if looks.randomised_at_looks is not None:
            randomised = np.broadcast_to(np.asarray(looks.randomised_at_looks), analysed.shape)
        else:
            randomised = _count_by(arrivals, arrivals[:, analysed[0] - 1] + endpoint_weeks)
    else:
        weeks = np.append(looks.at_weeks, np.inf)
        analysed = np.minimum(_count_by(arrivals + endpoint_weeks, np.broadcast_to(weeks, (n_trials, len(weeks)))), n_max)
        randomised = _count_by(arrivals, np.broadcast_to(weeks, analysed.shape))
    randomised = np.clip(randomised, analysed, n_max)
    final = (analysed >= n_max).argmax(axis=1)  # the first look with everyone followed up
    randomised = np.where(np.arange(looks.n_looks) >= final[:, None], n_max, randomised)
    return Schedule(np.ascontiguousarray(analysed), randomised, final)


def cell_statistics(cohort: Cohort, arm: np.ndarray, trials: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    n_arms: int) -> LookData:
    """Sufficient statistics per trial x arm x phenotype of patients lo..hi-1 (per trial) with outcome data."""
    n_pheno = len(cohort.prevalence)
    lo, hi = np.broadcast_to(lo, trials.shape), np.broadcast_to(hi, trials.shape)
    if trials.size == 0:
        bottom = top = 0
    else:
        bottom, top = int(lo.min()), int(hi.max())
        top = max(top, bottom)
    b = len(trials)
    a = arm[trials, bottom:top]
    cols = np.arange(bottom, top)
    observed = (a >= 0) & ~cohort.dropout[trials, bottom:top] & (cols >= lo[:, None]) & (cols < hi[:, None])
    y = at_assigned_arm(cohort.y, trials, bottom, top, a)
    x = cohort.baseline_nrs[trials, bottom:top]
    cell = (np.arange(b)[:, None] * n_arms + a) * n_pheno + cohort.phenotype[trials, bottom:top]
    cell = np.where(observed, cell, b * n_arms * n_pheno).ravel()
    size = b * n_arms * n_pheno + 1

    def total(weights: np.ndarray | None) -> np.ndarray:
        w = None if weights is None else weights.ravel()
        return np.bincount(cell, weights=w, minlength=size)[:-1].reshape(b, n_arms, n_pheno).astype(float)

    n, sum_y = total(None), total(y)
    if cohort.binary:  # y*y = y, and no baseline covariate for events
        zeros = np.zeros_like(n)
        return LookData(n, sum_y, sum_y, zeros, zeros, zeros, True, cohort.prevalence)
    return LookData(n, sum_y, total(y * y), total(x), total(x * x), total(x * y), False, cohort.prevalence)


def at_assigned_arm(values: np.ndarray, trials: np.ndarray, lo: int, top: int, arm: np.ndarray) -> np.ndarray:
    """values[t, i, arm[t, i]] for patients i in lo..top-1 of `trials` (arm 0 where unassigned).

    `values` is a potential-outcome array (trials, patients, arms); flat
    indexing avoids copying the slice for every arm.
    """
    _, n_patients, n_arms = values.shape
    flat = (trials[:, None] * n_patients + np.arange(lo, top)) * n_arms + np.maximum(arm, 0)
    return values.reshape(-1)[flat]


def by_phenotype(data: LookData) -> LookData:
    """Each trial x phenotype as its own 'trial' with one phenotype, for stratified allocation."""
    b, k, p = data.n.shape

    def split(v: np.ndarray) -> np.ndarray:
        return v.transpose(0, 2, 1).reshape(b * p, k, 1)

    return LookData(split(data.n), split(data.sum_y), split(data.sum_y2), split(data.sum_x), split(data.sum_x2),
                    split(data.sum_xy), data.binary, np.ones(1))


@dataclass(frozen=True)
class LookRecord:
    """What happened at one look, for the trials in `trials` (an observer's view)."""

    look: int
    trials: np.ndarray
    analysed: np.ndarray
    randomised: np.ndarray
    data: LookData
    posterior: Posterior
    state: TrialState  # after this look's decisions
    allocation: np.ndarray  # probabilities for the next patients (NaN where the trial stopped)


Observer = Callable[[LookRecord], None]


@dataclass
class DesignResult:
    """Per-trial outcome of one design on one batch (arrays over trials)."""

    arm: np.ndarray  # (trials, patients) assigned arm, -1 if never randomised
    size: np.ndarray
    state: TrialState
    estimate: np.ndarray  # (trials, arms) final posterior mean, internal scale
    estimate_median: np.ndarray  # (trials, arms) final posterior median, internal scale (NaN if unavailable)
    final_pr_best: np.ndarray
    outcomes: TrialOutcomes  # what arm selection needs, per trial
    selected: np.ndarray
    alloc_history: np.ndarray  # (trials, looks, arms) probabilities after each look (NaN after stop)
    looks_skipped: np.ndarray  # (trials,) looks without decisions: an active arm's posterior was improper


def run_design(plan: DesignPlan, cohort: Cohort, infer: Inference, endpoint_weeks: float,
               observer: Observer | None = None) -> DesignResult:
    """Run one design on every trial of the cohort.

    `observer`, if given, sees every look (for tracing one trial look by look).
    """
    n_trials, _, n_arms = cohort.y.shape
    n_pheno = len(cohort.prevalence)
    alloc, rule = plan.allocation, plan.decisions
    schedule = look_schedule(plan, cohort, endpoint_weeks)
    arm = np.full((n_trials, plan.n_max), -1, np.int16)
    blocks = (block_assign(alloc.start, alloc.block_size, cohort.u_randomise[:, : plan.n_max])
              if alloc.block_size else None)
    probs = np.broadcast_to(alloc.start, (n_trials, n_pheno, n_arms)).copy()
    state = TrialState.start(n_trials, n_arms, n_pheno, rule.control)
    history = np.full((n_trials, plan.looks.n_looks, n_arms), np.nan)
    data = LookData(*(np.zeros((n_trials, n_arms, n_pheno)) for _ in range(6)), cohort.binary, cohort.prevalence)
    skipped = np.zeros(n_trials, np.int16)
    prev_r = np.zeros(n_trials, np.int64)
    prev_n = np.zeros(n_trials, np.int64)
    for look in range(plan.looks.n_looks):
        idx = running = np.flatnonzero(state.running)
        if idx.size == 0:
            break
        n_look = schedule.analysed[idx, look]
        _randomise_between_looks(arm, cohort, idx, prev_r[idx], schedule.randomised[idx, look], probs,
                                 alloc.stratified, blocks, state)
        data = _scatter_add(data, idx, cell_statistics(cohort, arm, idx, prev_n[idx], n_look, n_arms))
        final_look = schedule.final[idx] == look
        look_data = data.take(idx)
        post = infer(look_data, cohort.trials[idx], state.active[idx])
        ok = post.proper(state.active[idx])
        if not ok.all():  # an active arm lacks the data its prior needs: no decision at this look
            skipped[idx[~ok]] += 1
            stuck = idx[~ok & final_look]
            state.stop[stuck], state.stop_look[stuck] = Stop.MAX, look
            idx, look_data, post = idx[ok], look_data.take(ok), post.take(ok)
            n_look, final_look = n_look[ok], final_look[ok]
        decide(rule, post, state, idx, look, final_look)
        still = state.running[idx]
        if still.any():
            _adapt(plan, state, probs, idx[still], still, look_data, post, n_look[still], cohort, infer)
            history[idx[still], look] = (probs[idx[still]] * cohort.prevalence[:, None]).sum(axis=1)
        if observer is not None:
            observer(LookRecord(look, idx, schedule.analysed[idx, look], schedule.randomised[idx, look], look_data,
                                post, state, history[idx, look]))
        prev_r[running] = schedule.randomised[running, look]
        prev_n[running] = schedule.analysed[running, look]
    size = schedule.randomised[np.arange(n_trials), state.stop_look]
    final = cell_statistics(cohort, arm, np.arange(n_trials), 0, size, n_arms)
    contention = state.active | (state.fate == ArmFate.EFFECTIVE)
    final_post = infer(final, cohort.trials, contention)
    final_pr_best = final_post.prob_best(contention)
    median = getattr(final_post, "median", None)
    trial_outcomes = outcomes(rule, state, final_pr_best)
    return DesignResult(
        arm=arm, size=size, state=state, estimate=final_post.mean(),
        estimate_median=median() if median is not None else np.full((n_trials, n_arms), np.nan),
        final_pr_best=final_pr_best, outcomes=trial_outcomes, selected=select(trial_outcomes, plan.selection),
        alloc_history=history, looks_skipped=skipped,
    )


def _adapt(plan: DesignPlan, state: TrialState, probs: np.ndarray, run_idx: np.ndarray, still: np.ndarray,
           look_data: LookData, post: Posterior, n_look: np.ndarray, cohort: Cohort, infer: Inference) -> None:
    """After the decisions: close arms to phenotypes (enrichment) and set the next allocation, in place."""
    alloc, rule = plan.allocation, plan.decisions
    n_pheno, n_arms = len(cohort.prevalence), state.fate.shape[1]
    split = _phenotype_posterior(post, look_data, still, cohort.trials[run_idx], state.active[run_idx], infer,
                                 needed=rule.phenotype_futility is not None or (alloc.stratified and alloc.adaptive))
    if rule.phenotype_futility is not None:
        control = np.full(run_idx.size * n_pheno, rule.control)
        better = split.prob_better(control, rule.phenotype_futility[1]).reshape(run_idx.size, n_pheno, n_arms)
        close_by_phenotype(rule, better, state, run_idx)
    pb = _pr_best_for_allocation(alloc, state, run_idx, split, n_pheno)
    open_arms = state.active[run_idx][:, None, :] & ~state.closed[run_idx]
    probs[run_idx] = restrict_to_active(alloc.update(pb, open_arms, n_look, plan.n_max, state.control[run_idx]), open_arms)


def _phenotype_posterior(post: Posterior, look_data: LookData, still: np.ndarray, trials: np.ndarray,
                         active: np.ndarray, infer: Inference, needed: bool) -> Posterior | None:
    """Each running trial x phenotype as one row (trials * phenotypes rows), or None if not needed.

    From the model's cell draws when it has them (PyMC: partial pooling across
    phenotypes), else each phenotype's data analysed alone (exact engine).
    """
    if not needed:
        return None
    cells = getattr(post, "cells", None)
    if cells is not None:
        c = cells[still]  # (trials, draws, arms, phenotypes)
        return DrawsPosterior(np.moveaxis(c, 3, 1).reshape(-1, c.shape[1], c.shape[2]))
    n_pheno = look_data.n.shape[2]
    return infer(by_phenotype(look_data.take(still)), np.repeat(trials, n_pheno), np.repeat(active, n_pheno, axis=0))


def _pr_best_for_allocation(alloc: AllocationRule, state: TrialState, run_idx: np.ndarray,
                            split: Posterior | None, n_pheno: int) -> np.ndarray:
    """Pr(best) among open arms driving allocation, (trials, phenotypes, arms)."""
    n_arms = state.fate.shape[1]
    if alloc.stratified and alloc.adaptive:
        open_arms = (state.active[run_idx][:, None, :] & ~state.closed[run_idx]).reshape(-1, n_arms)
        pb = split.prob_best(open_arms).reshape(run_idx.size, n_pheno, n_arms)
    elif alloc.adaptive:
        pb = state.last_pr_best[run_idx][:, None, :]  # computed by decide() among the active arms
    else:
        pb = alloc.start[None, None, :]
    return np.broadcast_to(pb, (run_idx.size, n_pheno, n_arms))


def _scatter_add(data: LookData, idx: np.ndarray, new: LookData) -> LookData:
    for name in ("n", "sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy"):
        getattr(data, name)[idx] += getattr(new, name)
    return data


def _randomise_between_looks(arm: np.ndarray, cohort: Cohort, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                             probs: np.ndarray, stratified: bool, blocks: np.ndarray | None, state: TrialState) -> None:
    """Assign arms to patients lo..hi-1 of each running trial (in place)."""
    start, stop = int(lo.min()), int(hi.max())
    if stop <= start:
        return
    cols = np.arange(start, stop)
    todo = (cols >= lo[:, None]) & (cols < hi[:, None])
    if stratified:
        phenotype = cohort.phenotype[idx, start:stop, None].astype(np.intp)
        p = np.take_along_axis(probs[idx], phenotype, axis=1)  # (trials, patients, arms)
    else:
        p = probs[idx, :1]  # every phenotype row is the same
    new = randomise(p, cohort.u_randomise[idx, start:stop])
    if blocks is not None:  # blocks hold while every arm is still randomised
        intact = (state.active[idx].all(axis=1) & ~state.closed[idx].any(axis=(1, 2)))[:, None]
        new = np.where(intact, blocks[idx, start:stop], new)
    arm[idx, start:stop] = np.where(todo, new, arm[idx, start:stop])
