"""Stopping, arm dropping and arm selection at a look.

Two families of rules, chosen by whether the design has a control:

- Without a control (adaptr's semantics): an arm is superior when
  Pr(best among active arms) > superiority; arms with Pr(best) < inferiority
  are dropped, and when one arm remains it is superior; the trial stops for
  equivalence when Pr(all active arms within the margin) > threshold.
- With a control and `on_superior: graduate` (sham-controlled): each active
  arm is judged against the control. It is declared effective ("graduates",
  stops enrolling) when Pr(arm - control > superiority_delta) > superiority;
  dropped as inferior when Pr(arm > control) < inferiority, as futile when
  Pr(arm - control > futility.delta) < futility.threshold, as equivalent when
  Pr(|arm - control| < margin) > equivalence.threshold. The trial stops when
  no arm but the control remains.
- With a control and `on_superior: new_control` (adaptr's run_trial): drop
  inferior arms; an arm superior to the control becomes the new control and
  the old control is dropped as inferior (the checks then run again against
  the new control); only when no arm was superior, equivalence then futility.
  The trial stops when one arm is left: "equivalence" or "futility" if that
  step left it, else "superiority" with the last arm superior. See
  docs/adaptr_semantics.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..inference.base import Posterior
from ..summarise.selection import TrialOutcomes
from .state import ArmFate, Stop, TrialState
from ..ufuncs import special


EXCLUDED = -2  # comparator code of an arm a matched-control design does not randomise


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
    on_superior: str = "graduate"  # with a control: "graduate" or "new_control"
    equivalence_only_first: bool = True  # new_control: equivalence judged against the first control only
    futility_only_first: bool = True
    # matched controls: each arm's comparator (arms,), -1 for the comparators themselves, EXCLUDED for arms
    # the design leaves out; None: `control` for all
    comparator: np.ndarray | None = None
    harm: tuple[tuple[int, ...], float, float] | None = None  # (adverse-event type indices, limit, threshold)

    @property
    def new_control(self) -> bool:
        return self.control is not None and self.on_superior == "new_control"

    @property
    def matched(self) -> bool:
        return self.comparator is not None

    def comparators(self, n_arms: int) -> np.ndarray:
        """Each arm's comparator, -1 for a control (one control: every other arm against it)."""
        if self.comparator is not None:
            return self.comparator
        out = np.full(n_arms, -1 if self.control is None else self.control, np.int64)
        if self.control is not None:
            out[self.control] = -1
        return out


def against_own(prob: Callable[[np.ndarray, float], np.ndarray], comparator: np.ndarray, n_trials: int,
                value: float) -> np.ndarray:
    """(trials, arms) prob(control, value) with each arm's column taken against its own comparator.

    `prob` is a Posterior method (prob_better, prob_equivalent_to); a control's own column is
    that of the first control. One call per distinct comparator, so an arm is never judged
    against another family's control."""
    controls = np.unique(comparator[comparator >= 0])
    out = prob(np.full(n_trials, controls[0]), value)
    for c in controls[1:]:
        cols = comparator == c
        out[:, cols] = prob(np.full(n_trials, c), value)[:, cols]
    return out


def decide(rule: DecisionRule, post: Posterior, state: TrialState, trials: np.ndarray, look: int,
           final: np.ndarray) -> np.ndarray:
    """Apply the look's decisions to `trials` (indices of running trials) in place.

    `final` (per trial) marks the trials for which this is the final analysis.
    Returns Pr(best) among the arms still active after the decisions, (trials, arms):
    what response-adaptive allocation and the "best" selection use.
    """
    before = state.fate[trials]
    if rule.control is None:
        pr_best = _decide_without_control(rule, post, state, trials, look)
    elif rule.new_control:
        pr_best = _decide_new_control(rule, post, state, trials, look)
    else:
        pr_best = _decide_against_control(rule, post, state, trials, look)
    state.fate_look[trials] = np.where(state.fate[trials] != before, look, state.fate_look[trials])
    ending = trials[final & (state.stop[trials] == Stop.RUNNING)]
    graduated = (state.fate[ending] == ArmFate.EFFECTIVE).any(axis=1)
    state.stop[ending] = np.where(graduated, Stop.SUPERIORITY, Stop.MAX)
    state.stop_look[ending] = look
    return pr_best


def drop_harmful(rule: DecisionRule, state: TrialState, trials: np.ndarray, n: np.ndarray, events: np.ndarray,
                 look: int) -> None:
    """The harm rule, before the look's efficacy decisions: drop active non-control arms with
    Pr(rate > limit) > threshold under a Beta(1 + events, 1 + n - events) posterior (trials, arms)."""
    _, limit, threshold = rule.harm
    pr_above = special.betaincc(1.0 + events, 1.0 + n - events, limit)
    harmful = state.active[trials] & (rule.comparators(state.fate.shape[1]) >= 0 if rule.control is not None
                                      else True) & (pr_above > threshold)
    rows, arms = np.nonzero(harmful)
    state.fate[trials[rows], arms] = ArmFate.HARMFUL
    state.fate_look[trials[rows], arms] = look


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
            changed = np.flatnonzero(inferior.any(axis=1))  # only their Pr(best) changes
            pb[changed] = post.take(changed).prob_best(active[changed])
        state.fate[trials] = fate
    superior = pb.max(axis=1) > rule.superiority[look]
    state.superior[trials[superior]] = pb.argmax(axis=1)[superior]
    _finish(state, trials, superior, Stop.SUPERIORITY, look)
    if rule.equivalence is not None:
        threshold, margin = rule.equivalence
        equivalent = post.all_equivalent(active, margin, threshold)
        _finish(state, trials, equivalent, Stop.EQUIVALENCE, look)
    return pb


def _decide_against_control(rule: DecisionRule, post: Posterior, state: TrialState, trials: np.ndarray,
                            look: int) -> np.ndarray:
    n_arms = state.fate.shape[1]
    comparator = rule.comparators(n_arms)
    is_control = comparator < 0
    n = len(trials)

    def vs_own(prob: Callable[[np.ndarray, float], np.ndarray], value: float) -> np.ndarray:
        return against_own(prob, comparator, n, value)

    fate = state.fate[trials]
    judged = (fate == ArmFate.ACTIVE) & ~is_control
    effective = judged & (vs_own(post.prob_better, rule.superiority_delta) > rule.superiority[look])
    fate[effective] = ArmFate.EFFECTIVE
    judged &= ~effective
    if rule.inferiority is not None:
        inferior = judged & (vs_own(post.prob_better, 0.0) < rule.inferiority[look])
        fate[inferior] = ArmFate.INFERIOR
        judged &= ~inferior
    if rule.futility is not None:
        threshold, delta = rule.futility
        futile = judged & (vs_own(post.prob_better, delta) < threshold)
        fate[futile] = ArmFate.FUTILE
        judged &= ~futile
    if rule.equivalence is not None:
        threshold, margin = rule.equivalence
        equivalent = judged & (vs_own(post.prob_equivalent_to, margin) > threshold)
        fate[equivalent] = ArmFate.EQUIVALENT
    state.fate[trials] = fate
    if rule.matched:  # a control whose arms have all left stops enrolling (closed to every phenotype)
        left = (fate == ArmFate.ACTIVE) & ~is_control
        for c in np.unique(comparator[~is_control]):
            idle = ~left[:, comparator == c].any(axis=1)
            state.closed[trials[idle], :, c] = True
    done = ~((fate == ArmFate.ACTIVE) & ~is_control).any(axis=1)
    any_effective = (fate == ArmFate.EFFECTIVE).any(axis=1)
    all_equivalent = ((fate == ArmFate.EQUIVALENT) | is_control).all(axis=1)
    _finish(state, trials, done & any_effective, Stop.SUPERIORITY, look)
    _finish(state, trials, done & all_equivalent, Stop.EQUIVALENCE, look)
    _finish(state, trials, done, Stop.FUTILITY, look)
    return post.prob_best(fate == ArmFate.ACTIVE)


def _decide_new_control(rule: DecisionRule, post: Posterior, state: TrialState, trials: np.ndarray,
                        look: int) -> np.ndarray:
    """adaptr's common-control look (R/run_trial.R), one pass per control, vectorised over trials.

    Each pass judges the arms active at its start against the current control.
    Probabilities vs a control do not depend on the other arms (exact
    posteriors), so a pass computes them once, as adaptr does within a pass.
    """
    n_arms = state.fate.shape[1]
    arms = np.arange(n_arms)
    rows = np.arange(len(trials))
    fate, control = state.fate[trials], state.control[trials].astype(np.int64)
    changed = state.control_changed[trials]
    equivalence_stop = np.zeros(len(trials), bool)
    futility_stop = np.zeros(len(trials), bool)
    done = np.zeros(len(trials), bool)
    todo = np.ones(len(trials), bool)
    for _ in range(n_arms):  # at most one new control per arm
        judged = (fate == ArmFate.ACTIVE) & (arms != control[:, None]) & todo[:, None]
        better = post.prob_better(control, 0.0)
        inferior = judged & (better < rule.inferiority[look]) if rule.inferiority is not None else judged & False
        fate[inferior] = ArmFate.INFERIOR
        superior = judged & (better > rule.superiority[look])
        new = superior.any(axis=1)
        if new.any():  # the most probably better arm takes over; the old control is inferior
            winner = np.where(superior, better, -1.0).argmax(axis=1)
            fate[rows[new], control[new]] = ArmFate.INFERIOR
            control = np.where(new, winner, control)
            changed |= new
        rest = judged & ~new[:, None]  # equivalence and futility only in passes without a new control
        # adaptr judges every arm of the pass here, those just found inferior included (a
        # status can be overwritten), and stops when this step leaves one arm
        check_eq = rest.any(axis=1) & (~changed | (not rule.equivalence_only_first))
        if rule.equivalence is not None and check_eq.any():
            threshold, margin = rule.equivalence
            equivalent = rest & check_eq[:, None] & (post.prob_equivalent_to(control, margin) > threshold)
            fate[equivalent] = ArmFate.EQUIVALENT
            equivalence_stop |= equivalent.any(axis=1) & ((fate == ArmFate.ACTIVE).sum(axis=1) == 1)
        check_fut = rest.any(axis=1) & (~changed | (not rule.futility_only_first)) & ~equivalence_stop
        if rule.futility is not None and check_fut.any():
            threshold, delta = rule.futility
            futile = (rest & check_fut[:, None] & (post.prob_better(control, delta) < threshold)
                      & (fate != ArmFate.EQUIVALENT))
            fate[futile] = ArmFate.FUTILE
            futility_stop |= futile.any(axis=1) & ((fate == ArmFate.ACTIVE).sum(axis=1) == 1)
        done |= todo & ((fate == ArmFate.ACTIVE).sum(axis=1) == 1)
        todo = new & ~done
        if not todo.any():
            break
    state.fate[trials], state.control[trials], state.control_changed[trials] = fate, control, changed
    last = (fate == ArmFate.ACTIVE).argmax(axis=1)
    superior = done & ~equivalence_stop & ~futility_stop
    state.superior[trials[superior]] = last[superior]
    _finish(state, trials, done & equivalence_stop, Stop.EQUIVALENCE, look)
    _finish(state, trials, done & futility_stop, Stop.FUTILITY, look)
    _finish(state, trials, superior, Stop.SUPERIORITY, look)
    return post.prob_best(fate == ArmFate.ACTIVE)


def close_by_phenotype(rule: DecisionRule, better: np.ndarray, state: TrialState, trials: np.ndarray) -> None:
    """Enrichment: close active arms to phenotypes where Pr(arm - control > delta) < threshold.

    better: (trials, phenotypes, arms) Pr(theta_kp - theta_control,p > delta) per phenotype.
    """
    threshold, _ = rule.phenotype_futility
    is_control = np.arange(state.fate.shape[1]) == rule.control
    judged = state.active[trials][:, None, :] & ~is_control
    state.closed[trials] |= judged & (better < threshold)


def outcomes(rule: DecisionRule, state: TrialState, final_pr_best: np.ndarray,
             last_pr_best: np.ndarray) -> TrialOutcomes:
    """What arm selection needs from each trial (summarise.selection.TrialOutcomes).

    The superior arm: declared by the look (no control, new_control) or, with
    `graduate`, the effective arm with the highest Pr(best) in the final analysis.
    `last_pr_best`: Pr(best) at each trial's last look among the arms then active.
    """
    superior = state.superior.astype(np.int64)
    if rule.control is not None and not rule.new_control:
        effective = state.fate == ArmFate.EFFECTIVE
        best_effective = np.where(effective, final_pr_best, -1.0).argmax(axis=1)
        superior = np.where(effective.any(axis=1), best_effective, -1)
    active = state.fate == ArmFate.ACTIVE
    return TrialOutcomes(superior, state.stop, state.fate, state.fate_look, state.stop_look,
                         state.control.astype(np.int64), np.where(active, last_pr_best, np.nan),
                         first_control=rule.control)
