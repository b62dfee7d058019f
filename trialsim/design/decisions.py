"""Stopping, arm dropping and arm selection at a look.

Two families of rules, chosen by whether the design has a control:

- Without a control (adaptr's semantics): an arm is superior when
  Pr(best among active arms) > superiority; arms with Pr(best) < inferiority
  are dropped, and when one arm remains it is superior; the trial stops for
  equivalence when Pr(all active arms within the margin) > threshold.
- With a control (sham): each active arm is judged against the control. It is
  declared effective ("graduates", stops enrolling) when Pr(arm - control >
  superiority_delta) > superiority; dropped as inferior when Pr(arm > control)
  < inferiority, as futile when Pr(arm - control > futility.delta) <
  futility.threshold, as equivalent when Pr(|arm - control| < margin) >
  equivalence.threshold. The trial stops when no arm but the control remains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..inference.base import Posterior
from .state import ArmFate, Stop, TrialState


@dataclass(frozen=True)
class DecisionRule:
    control: int | None
    superiority: np.ndarray  # (looks,)
    superiority_delta: float
    inferiority: np.ndarray | None
    futility: tuple[float, float] | None  # (threshold, delta)
    phenotype_futility: tuple[float, float] | None  # (threshold, delta), per phenotype: enrichment
    equivalence: tuple[float, float] | None  # (threshold, margin)
    selection: str


def decide(rule: DecisionRule, post: Posterior, state: TrialState, trials: np.ndarray, look: int,
           final: np.ndarray) -> np.ndarray:
    """Apply the look's decisions to `trials` (indices of running trials) in place.

    `final` (per trial) marks the trials for which this is the final analysis.
    Returns Pr(best) among the arms still active after the decisions, (trials, arms):
    what response-adaptive allocation and the "best" selection use.
    """
    if rule.control is None:
        pr_best = _decide_without_control(rule, post, state, trials, look)
    else:
        pr_best = _decide_against_control(rule, post, state, trials, look)
    ending = trials[final & (state.stop[trials] == Stop.RUNNING)]
    graduated = (state.fate[ending] == ArmFate.EFFECTIVE).any(axis=1)
    state.stop[ending] = np.where(graduated, Stop.SUPERIORITY, Stop.MAX)
    state.stop_look[ending] = look
    return pr_best


def _finish(state: TrialState, trials: np.ndarray, mask: np.ndarray, reason: Stop, look: int) -> None:
    idx = trials[mask & (state.stop[trials] == Stop.RUNNING)]
    state.stop[idx] = reason
    state.stop_look[idx] = look


def _decide_without_control(rule: DecisionRule, post: Posterior, state: TrialState, trials: np.ndarray,
                            look: int) -> np.ndarray:
    # adaptr's order: drop inferior arms (recomputing Pr(best) among the rest
    # until none is inferior), then superiority, then equivalence
    active = state.active[trials]
    pb = post.prob_best(active)
    if rule.inferiority is not None:
        fate = state.fate[trials]
        for _ in range(active.shape[1]):
            inferior = active & (pb < rule.inferiority[look])
            if not inferior.any():
                break
            fate[inferior] = ArmFate.INFERIOR
            active &= ~inferior
            pb = post.prob_best(active)
        state.fate[trials] = fate
    superior = pb.max(axis=1) > rule.superiority[look]
    state.superior[trials[superior]] = pb.argmax(axis=1)[superior]
    _finish(state, trials, superior, Stop.SUPERIORITY, look)
    if rule.equivalence is not None:
        threshold, margin = rule.equivalence
        equivalent = post.prob_all_equivalent(active, margin) > threshold
        _finish(state, trials, equivalent, Stop.EQUIVALENCE, look)
    return pb


def _decide_against_control(rule: DecisionRule, post: Posterior, state: TrialState, trials: np.ndarray,
                            look: int) -> np.ndarray:
    control = np.full(len(trials), rule.control)
    is_control = np.arange(state.fate.shape[1]) == rule.control
    fate = state.fate[trials]
    judged = (fate == ArmFate.ACTIVE) & ~is_control
    effective = judged & (post.prob_better(control, rule.superiority_delta) > rule.superiority[look])
    fate[effective] = ArmFate.EFFECTIVE
    judged &= ~effective
    if rule.inferiority is not None:
        inferior = judged & (post.prob_better(control, 0.0) < rule.inferiority[look])
        fate[inferior] = ArmFate.INFERIOR
        judged &= ~inferior
    if rule.futility is not None:
        threshold, delta = rule.futility
        futile = judged & (post.prob_better(control, delta) < threshold)
        fate[futile] = ArmFate.FUTILE
        judged &= ~futile
    if rule.equivalence is not None:
        threshold, margin = rule.equivalence
        equivalent = judged & (post.prob_equivalent_to(control, margin) > threshold)
        fate[equivalent] = ArmFate.EQUIVALENT
    state.fate[trials] = fate
    done = ~((fate == ArmFate.ACTIVE) & ~is_control).any(axis=1)
    any_effective = (fate == ArmFate.EFFECTIVE).any(axis=1)
    all_equivalent = ((fate == ArmFate.EQUIVALENT) | is_control).all(axis=1)
    _finish(state, trials, done & any_effective, Stop.SUPERIORITY, look)
    _finish(state, trials, done & all_equivalent, Stop.EQUIVALENCE, look)
    _finish(state, trials, done, Stop.FUTILITY, look)
    return post.prob_best(fate == ArmFate.ACTIVE)


def close_by_phenotype(rule: DecisionRule, better: np.ndarray, state: TrialState, trials: np.ndarray) -> None:
    """Enrichment: close active arms to phenotypes where Pr(arm - control > delta) < threshold.

    better: (trials, phenotypes, arms) Pr(theta_kp - theta_control,p > delta) per phenotype.
    """
    threshold, _ = rule.phenotype_futility
    is_control = np.arange(state.fate.shape[1]) == rule.control
    judged = state.active[trials][:, None, :] & ~is_control
    state.closed[trials] |= judged & (better < threshold)


def select_arm(rule: DecisionRule, state: TrialState, final_pr_best: np.ndarray, last_pr_best: np.ndarray) -> np.ndarray:
    """The arm each trial recommends (-1 for none), as adaptr's extract_results.

    A superior arm is selected; with a control, the effective arm with the
    highest Pr(best) in the final analysis (`final_pr_best`). Otherwise the
    selection strategy: "control" (if the design has one), "none", or "best":
    the arm with the highest Pr(best) among the arms still active at the last
    look (`last_pr_best`, as returned by `decide`).
    """
    chosen = np.full(len(state.stop), -1, np.int16)
    if rule.control is None:
        chosen = np.where(state.stop == Stop.SUPERIORITY, state.superior, chosen)
    else:
        effective = state.fate == ArmFate.EFFECTIVE
        best_effective = np.where(effective, final_pr_best, -1.0).argmax(axis=1)
        chosen = np.where(effective.any(axis=1), best_effective, chosen)
        if rule.selection == "control":
            chosen = np.where(chosen < 0, rule.control, chosen)
    if rule.selection == "best":
        chosen = np.where(chosen < 0, last_pr_best.argmax(axis=1), chosen)
    return chosen.astype(np.int16)
