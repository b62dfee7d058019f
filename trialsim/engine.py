"""The look loop of one design over a batch of trials, vectorised across trials.

At each look: randomise the patients who arrived since the last look (with
the current allocation probabilities), add the outcomes of patients who
reached the endpoint to the sufficient statistics, ask the inference engine
for the posterior, apply the decisions, and update the allocation. After a
trial stops, a final analysis uses every patient randomised by then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .allocation import AllocationRule, block_assign, randomise
from .cohort import Cohort
from .decisions import ArmFate, DecisionRule, Stop, TrialState, decide, select_arm
from .inference.base import LookData
from .scenario.schema import Design

from .inference.engines import Inference


@dataclass(frozen=True)
class DesignPlan:
    """A design compiled to arrays and rule objects."""

    name: str
    at_patients: np.ndarray  # (looks,) patients reaching the endpoint at each look
    randomised_at: np.ndarray | None  # (looks,) explicit, else from accrual and follow-up
    allocation: AllocationRule
    decisions: DecisionRule

    @classmethod
    def from_design(cls, name: str, design: Design, arm_names: list[str]) -> "DesignPlan":
        r = design.looks.randomised_at_looks
        return cls(
            name=name,
            at_patients=np.asarray(design.looks.at_patients),
            randomised_at=None if r is None else np.asarray(r),
            allocation=AllocationRule.from_design(design, arm_names),
            decisions=DecisionRule.from_design(design, arm_names),
        )

    @property
    def n_max(self) -> int:
        return int(self.at_patients[-1])


def randomised_at_looks(plan: DesignPlan, cohort: Cohort, endpoint_weeks: float) -> np.ndarray:
    """Patients randomised by each look, (trials, looks).

    A look happens when its patient count has reached the endpoint; everyone
    who arrived by then has been randomised (follow-up lag).
    """
    n_trials = cohort.arrival_week.shape[0]
    if plan.randomised_at is not None:
        return np.broadcast_to(plan.randomised_at, (n_trials, len(plan.at_patients))).copy()
    arrivals = cohort.arrival_week[:, : plan.n_max]
    look_time = arrivals[:, plan.at_patients - 1] + endpoint_weeks
    r = np.stack([np.searchsorted(a, t, side="right") for a, t in zip(arrivals, look_time)])
    r = np.clip(r, plan.at_patients, plan.n_max)
    r[:, -1] = plan.n_max
    return r


def cell_statistics(cohort: Cohort, arm: np.ndarray, trials: np.ndarray, lo: int, hi: np.ndarray, n_arms: int) -> LookData:
    """Sufficient statistics per trial x arm x phenotype of patients lo..hi-1 with outcome data."""
    n_pheno = len(cohort.prevalence)
    hi = np.broadcast_to(hi, trials.shape)
    top = int(hi.max(initial=lo))
    b = len(trials)
    a = arm[trials, lo:top]
    observed = (a >= 0) & ~cohort.dropout[trials, lo:top] & (np.arange(lo, top) < hi[:, None])
    y = at_assigned_arm(cohort.y, trials, lo, top, a)
    x = cohort.baseline_nrs[trials, lo:top]
    cell = (np.arange(b)[:, None] * n_arms + a) * n_pheno + cohort.phenotype[trials, lo:top]
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


@dataclass
class DesignResult:
    """Per-trial outcome of one design on one batch (arrays over trials)."""

    arm: np.ndarray  # (trials, patients) assigned arm, -1 if never randomised
    size: np.ndarray
    state: TrialState
    estimate: np.ndarray  # (trials, arms) final posterior mean, internal scale
    final_pr_best: np.ndarray
    selected: np.ndarray
    final_data: LookData
    alloc_history: np.ndarray  # (trials, looks, arms) probabilities after each look (NaN after stop)
    looks_skipped: np.ndarray  # (trials,) looks without decisions: an active arm's posterior was improper


def run_design(plan: DesignPlan, cohort: Cohort, infer: Inference, endpoint_weeks: float,
               infer_by_phenotype: Inference | None = None) -> DesignResult:
    """Run one design on every trial of the cohort."""
    n_trials = cohort.arrival_week.shape[0]
    n_arms = cohort.y.shape[-1]
    n_pheno = len(cohort.prevalence)
    alloc, rule = plan.allocation, plan.decisions
    r = randomised_at_looks(plan, cohort, endpoint_weeks)
    arm = np.full((n_trials, plan.n_max), -1, np.int16)
    blocks = (block_assign(alloc.start, alloc.block_size, cohort.u_randomise[:, : plan.n_max])
              if alloc.block_size else None)
    probs = np.broadcast_to(alloc.start, (n_trials, n_pheno, n_arms)).copy()
    state = TrialState.start(n_trials, n_arms)
    history = np.full((n_trials, len(plan.at_patients), n_arms), np.nan)
    data = LookData(*(np.zeros((n_trials, n_arms, n_pheno)) for _ in range(6)), cohort.binary, cohort.prevalence)
    skipped = np.zeros(n_trials, np.int16)
    prev_r = np.zeros(n_trials, np.int64)
    prev_n = 0
    last = len(plan.at_patients) - 1
    for look, n_look in enumerate(plan.at_patients):
        idx = running = np.flatnonzero(state.running)
        if idx.size == 0:
            break
        _randomise_between_looks(arm, cohort, idx, prev_r[idx], r[idx, look], probs, alloc.stratified, blocks, state)
        new = cell_statistics(cohort, arm, idx, prev_n, np.full(idx.size, n_look), n_arms)
        data = _scatter_add(data, idx, new)
        look_data = data.take(idx)
        post = infer(look_data, cohort.trials[idx], state.active[idx])
        ok = post.proper(state.active[idx])
        if not ok.all():  # an active arm lacks the data its prior needs: no decision at this look
            skipped[idx[~ok]] += 1
            if look == last:
                state.stop[idx[~ok]], state.stop_look[idx[~ok]] = Stop.MAX, look
            idx, look_data = idx[ok], look_data.take(ok)
            post = infer(look_data, cohort.trials[idx], state.active[idx])
        decide(rule, post, state, idx, look, look == last)
        still = state.running[idx]
        if still.any():
            run_idx = idx[still]
            if alloc.stratified and alloc.adaptive:
                active = np.repeat(state.active[run_idx], n_pheno, axis=0)
                split_post = (infer_by_phenotype or infer)(by_phenotype(look_data.take(still)),
                                                           np.repeat(cohort.trials[run_idx], n_pheno), active)
                pb = split_post.prob_best(active).reshape(run_idx.size, n_pheno, n_arms)
            elif alloc.adaptive:
                pb = state.last_pr_best[run_idx][:, None, :]  # Pr(best) among active arms, from decide()
            else:
                pb = alloc.start[None, None, :]
            pb = np.broadcast_to(pb, (run_idx.size, n_pheno, n_arms))
            probs[run_idx] = alloc.update(pb, state.active[run_idx][:, None, :], int(n_look), plan.n_max)
            history[run_idx, look] = (probs[run_idx] * cohort.prevalence[:, None]).sum(axis=1)
        prev_r[running] = r[running, look]
        prev_n = int(n_look)
    size = r[np.arange(n_trials), state.stop_look]
    final = cell_statistics(cohort, arm, np.arange(n_trials), 0, size, n_arms)
    contention = state.active | (state.fate == ArmFate.EFFECTIVE)
    final_post = infer(final, cohort.trials, contention)
    final_pr_best = final_post.prob_best(contention)
    return DesignResult(
        arm=arm, size=size, state=state, estimate=final_post.mean(), final_pr_best=final_pr_best,
        selected=select_arm(rule, state, final_pr_best), final_data=final, alloc_history=history,
        looks_skipped=skipped,
    )


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
        intact = state.active[idx].all(axis=1)[:, None]
        new = np.where(intact, blocks[idx, start:stop], new)
    arm[idx, start:stop] = np.where(todo, new, arm[idx, start:stop])
