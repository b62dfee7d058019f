"""N-of-1 series: repeated blinded blocks of every treatment per patient, aggregated across patients.

Each patient receives `blocks` blocks; a block gives every treatment once, for `period_weeks`
each (then `washout_weeks` without), in an order drawn per patient and block from its own
named stream (rng: the randomisation stream keyed "n_of_1"), on the same virtual patients as
every other design (Cohort.sequence_outcomes). A period's outcome is the NRS change at the visit
ending its treatment. Within a block, d_ikb = y(arm k) - y(control) on the internal scale.

Analysis (per trial, patients who completed every period):

* `analysis.engine: pymc` - the hierarchical model (inference/pymc_n_of_1.py): patient effects
  delta_ik = mu_k + omega_k z_ik, d_ikb ~ N(delta_ik, s_k^2), fitted with NUTS (nutpie). The
  population effect mu_k drives the decisions; a patient's own effect is detected when
  Pr(delta_ik > 0 | data) > `detect`.
* `analysis.engine: exact` - the same model's normal approximation: the patients' mean
  differences are iid N(mu_k, omega_k^2 + s_k^2 / B), so mu_k has the exact t posterior (flat
  prior, n - 1 df); patient effects are shrunk with moment estimates of omega_k and s_k.

Looks count patients who completed every period; decisions are the design's (against the
control). Records add, per arm, the share of analysed patients whose own effect was detected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .. import rng
from ..rng import Stream
from ..summarise.selection import select
from .decisions import outcomes
from .observe import Observed
from .state import ArmFate
from .within import WithinPosterior
from .within_looks import PeriodTiming, run_looks
from ..ufuncs import special

if TYPE_CHECKING:
    from ..cohort import Cohort
    from ..inference.base import Inference, Posterior
    from .parallel import DesignPlan, DesignResult, Observer, TruthPlan


@dataclass(frozen=True)
class BlockData:
    """Per trial, patient and non-control treatment: the mean block difference and its sum of squares."""

    mean: np.ndarray  # (trials, patients, K - 1)
    ss: np.ndarray  # (trials, patients, K - 1)
    include: np.ndarray  # (trials, patients) analysed
    blocks: int


@dataclass(frozen=True)
class NOf1Plan(PeriodTiming):
    """A compiled N-of-1 series (a design/families.FamilyPlan)."""

    treatments: tuple[int, ...]  # scenario arms, the control first
    blocks: int
    period_weeks: float
    washout_weeks: float
    visits: tuple[int, ...]  # visit index ending each period's treatment
    detect: float  # a patient's effect is detected when Pr(own effect > 0) exceeds this
    engine: str = "exact"  # "exact" (normal approximation) or "pymc" (hierarchical model, NUTS)
    name: str = "n_of_1"

    @property
    def n_periods(self) -> int:
        return self.blocks * len(self.treatments)

    def orders(self, cohort: "Cohort", n: int) -> np.ndarray:
        """Position of each treatment in each block, (trials, n, blocks, K): ranks of the patient's
        uniforms of the "n_of_1" randomisation key (column block * K + treatment)."""
        k = len(self.treatments)
        key = rng.stream_key(cohort.seed, Stream.RANDOMISATION, "n_of_1")[None]
        t, p = cohort.trials[:, None], np.arange(n)[None, :]
        u = np.stack([np.stack([rng.draws_at(key, 0, t, p, column=b * k + j) for j in range(k)], axis=-1)
                      for b in range(self.blocks)], axis=-2)
        return np.argsort(np.argsort(u, axis=-1), axis=-1)

    def run(self, design: "DesignPlan", cohort: "Cohort", truth: "TruthPlan", infer,
            observer: "Observer | None" = None) -> "DesignResult":
        return run_series(self, design, cohort, truth, infer, observer)


def block_differences(y: np.ndarray, position: np.ndarray, include: np.ndarray) -> BlockData:
    """y (trials, n, periods) by period; position (trials, n, blocks, K): each treatment's place in its block."""
    b, n, blocks, k = position.shape
    period = position + (np.arange(blocks) * k)[:, None]  # (trials, n, blocks, K) period of each treatment
    by_arm = np.take_along_axis(y, period.reshape(b, n, -1), axis=-1).reshape(b, n, blocks, k)
    d = by_arm[..., 1:] - by_arm[..., :1]  # (trials, n, blocks, K - 1)
    mean = d.mean(axis=2)
    return BlockData(mean, ((d - mean[:, :, None, :]) ** 2).sum(axis=2), include, blocks)


def normal_posterior(data: BlockData, treatments: tuple[int, ...], n_arms: int, level: np.ndarray
                     ) -> tuple[WithinPosterior, np.ndarray]:
    """The population effects' exact t posterior and each patient's Pr(own effect > 0) (normal shrinkage)."""
    w = data.include[..., None].astype(float)
    n = w[..., 0].sum(axis=1)  # (trials,)
    m = (data.mean * w).sum(axis=1) / np.maximum(n, 1)[:, None]
    v = (((data.mean - m[:, None, :]) ** 2) * w).sum(axis=1) / np.maximum(n - 1, 1)[:, None]
    s2 = (data.ss * w).sum(axis=1) / np.maximum(n * (data.blocks - 1), 1)[:, None]  # within-patient variance
    noise = s2 / data.blocks
    omega2 = np.maximum(v - noise, 0.0)
    shrink = omega2 / np.maximum(omega2 + noise, 1e-300)
    centre = shrink[:, None, :] * data.mean + (1 - shrink[:, None, :]) * m[:, None, :]
    spread = shrink * noise + (1 - shrink) ** 2 * v / np.maximum(n, 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        own = special.ndtr(centre / np.sqrt(spread[:, None, :]))
    t = np.asarray(treatments)
    mean = np.full((len(n), n_arms), np.nan)
    mean[:, t[0]] = level
    mean[:, t[1:]] = level[:, None] + m
    cov = np.zeros((len(n), n_arms, n_arms))
    cov[:, t[1:], t[1:]] = v / np.maximum(n, 1)[:, None]
    ok = n >= 2
    post = WithinPosterior(np.where(ok[:, None], mean, np.nan), np.where(ok[:, None, None], cov, np.nan),
                           np.where(ok, n - 1, 0), t[0])
    return post, own


def run_series(plan: NOf1Plan, design: "DesignPlan", cohort: "Cohort", truth: "TruthPlan",
               infer: "Inference", observer: "Observer | None" = None) -> "DesignResult":
    """The look loop of an N-of-1 series on every trial of the cohort under one truth."""
    from .parallel import DesignResult

    n_trials, n_max = len(cohort.trials), design.n_max
    n_arms, rule = len(cohort.plan.arms), design.decisions
    cohort.reach(np.arange(n_trials), np.full(n_trials, n_max))
    position = plan.orders(cohort, n_max)  # (trials, n, blocks, K)
    k = len(plan.treatments)
    local = np.argsort(position, axis=-1)  # treatment given at each place of each block
    arms = np.asarray(plan.treatments)[local].reshape(n_trials, n_max, plan.n_periods)
    change, _, seen = cohort.sequence_outcomes(truth.endpoint, truth.model, np.arange(n_trials)[:, None],
                                               np.arange(n_max)[None, :], arms, plan.periods(truth.model), plan.visits)
    y = truth.endpoint.to_internal(change)
    complete = seen.all(axis=-1) & ~cohort.dropout[:, :n_max]
    control_y = np.take_along_axis(y, (position[..., 0] + np.arange(plan.blocks) * k), axis=-1).mean(axis=-1)
    cols = np.arange(n_max)
    fit = _fitter(plan, design, cohort, n_arms, infer)

    last: list = []  # the previous analysis: (rows, include, result)

    def analyse(rows: np.ndarray, upto: np.ndarray) -> tuple["Posterior", np.ndarray, np.ndarray]:
        include = complete[rows] & (cols < upto[:, None])
        if last and np.array_equal(last[0], rows) and np.array_equal(last[1], include):
            return last[2]  # the same patients as the last look (one-look designs): the same fit, not refitted
        data = block_differences(y[rows], position[rows], include)
        level = (control_y[rows] * include).sum(axis=1) / np.maximum(include.sum(axis=1), 1)
        post, own = fit(data, level, cohort.trials[rows])
        last[:] = [rows, include, (post, own, include)]
        return post, own, include

    def analysed(rows: np.ndarray, upto: np.ndarray) -> tuple["Posterior", np.ndarray]:
        post, _, include = analyse(rows, upto)
        return post, include.sum(axis=1)

    looked = run_looks(design, cohort, plan.follow_up_weeks, analysed, observer)
    state, size, excluded = looked.state, looked.size, looked.excluded
    final, own, include = analyse(np.arange(n_trials), size)
    contention = state.active | (state.fate == ArmFate.EFFECTIVE)
    final_pr_best = final.prob_best(contention)
    trial_outcomes = outcomes(rule, state, final_pr_best, looked.last_pr_best)
    detected = np.full((n_trials, n_arms), np.nan)
    with np.errstate(invalid="ignore"):
        share = ((own > plan.detect) & include[..., None]).sum(axis=1) / include.sum(axis=1)[:, None]
    detected[:, list(plan.treatments[1:])] = share
    randomised = cols < size[:, None]
    first = arms[..., 0]
    observed = Observed(np.where(randomised, first, -1).astype(np.int16), np.where(randomised, y[..., 0], 0.0),
                        np.zeros(first.shape, bool), ~complete)  # records count patients by their first arm
    estimate = np.where(excluded, np.nan, final.mean())
    median = getattr(final, "median", None)
    return DesignResult(
        observed=observed, size=size, state=state, estimate=estimate,
        estimate_median=np.where(excluded, np.nan, median()) if median is not None else estimate,
        final_pr_best=final_pr_best, outcomes=trial_outcomes, selected=select(trial_outcomes, design.selection.strategy()),
        alloc_history=np.full((n_trials, design.looks.n_looks, n_arms), np.nan), looks_skipped=looked.skipped,
        follow_up_weeks=plan.follow_up_weeks, detected_share=detected,
    )


def _fitter(plan: NOf1Plan, design: "DesignPlan", cohort: "Cohort", n_arms: int, infer: "Inference"):
    """(BlockData, control level, trials) -> (posterior over every arm, Pr(own effect > 0) per patient)."""
    if plan.engine == "exact":
        return lambda data, level, trials: normal_posterior(data, plan.treatments, n_arms, level)
    from ..inference.pymc_n_of_1 import hierarchical_fitter

    return hierarchical_fitter(plan.treatments, n_arms, cohort.seed, design.name, infer)
