"""Arm selection strategies over stored per-trial results, as adaptr's extract_results.

Pure functions of per-trial arrays, so one run can be summarised under several
strategies without re-simulating (R/extract_results.R, `extract_results_batch`):

- A trial with a superior arm selects it.
- Otherwise the candidates are the arms not dropped as inferior or futile; for a
  trial stopped for equivalence, the arms still active plus those declared
  equivalent at the stopping look; otherwise arms dropped for equivalence are
  excluded. Then, by strategy:
  "none" -> no arm; "control" -> the first (original) control if a candidate;
  "control if available" -> "control" with a control, else "none";
  "final control" -> the final control if a candidate; "control or best" ->
  the first control if a candidate, else "best"; "best" -> the candidate with
  the highest Pr(best) at the last look (arms without one are skipped);
  "list" / "list or best" -> the first candidate in a preference list, else
  none / best. `select_last_arm` first selects the final control when it is the
  only candidate still active (designs with a control).

Arm indices; -1 means no arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..design.state import ArmFate, Stop

STRATEGIES = ("none", "control", "control if available", "final control", "control or best", "best",
              "list", "list or best")
NEEDS_CONTROL = ("control", "final control", "control or best")


@dataclass(frozen=True)
class Strategy:
    """A selection strategy; `preferences` (arm indices) for "list" and "list or best"."""

    name: str
    preferences: tuple[int, ...] = ()
    select_last_arm: bool = False

    def __post_init__(self) -> None:
        if self.name not in STRATEGIES:
            raise ValueError(f"unknown selection strategy {self.name!r}; one of {', '.join(STRATEGIES)}")
        if self.name.startswith("list") and not self.preferences:
            raise ValueError(f"strategy {self.name!r} needs a list of preferred arms")


@dataclass(frozen=True)
class SelectionPlan:
    """A design's selection options (decisions.selection and friends), compiled to arm indices.

    strategies: the first one is the design's own (records' selected_arm, plain metric names).
    te_comp: the treatment-effect comparator (default the first control), None for none.
    estimate: "mean" or "median" (adaptr's robust) for rmse, mae and their _te.
    """

    strategies: tuple[str, ...] = ("control if available",)
    preferences: tuple[int, ...] = ()
    select_last_arm: bool = False
    te_comp: int | None = None
    estimate: str = "mean"

    def strategy(self, name: str | None = None) -> Strategy:
        return Strategy(name or self.strategies[0], self.preferences, self.select_last_arm)


@dataclass(frozen=True)
class TrialOutcomes:
    """What selection needs from each trial (arrays over trials [x arms]).

    superior: the arm declared superior, -1 if none (with `graduate`, the best effective arm).
    stop: final status (decisions.Stop codes). fate: decisions.ArmFate codes per arm.
    fate_look: the look at which each arm's fate was decided (-1 while active).
    stop_look: the look at which the trial stopped. final_control: the control at the end
    (-1 without a control). pr_best_last: Pr(best) at the last look among the arms then
    active, NaN for the others. first_control: the design's original control, None if none.
    """

    superior: np.ndarray
    stop: np.ndarray
    fate: np.ndarray
    fate_look: np.ndarray
    stop_look: np.ndarray
    final_control: np.ndarray
    pr_best_last: np.ndarray
    first_control: int | None = None

    def equivalent_at_stop(self) -> np.ndarray:
        """(trials, arms): arms declared equivalent at the look that stopped the trial."""
        return (self.fate == ArmFate.EQUIVALENT) & (self.fate_look == self.stop_look[:, None])

    def candidates(self) -> np.ndarray:
        """(trials, arms): arms eligible for selection when no arm is superior."""
        equivalence = (self.stop == Stop.EQUIVALENCE)[:, None]
        return (self.fate == ArmFate.ACTIVE) | (equivalence & self.equivalent_at_stop())


def _pick(candidates: np.ndarray, arm: np.ndarray | int) -> np.ndarray:
    """`arm` per trial where it is a candidate, else -1."""
    arm = np.broadcast_to(np.asarray(arm), candidates.shape[:1])
    ok = (arm >= 0) & candidates[np.arange(len(arm)), np.maximum(arm, 0)]
    return np.where(ok, arm, -1)


def best_candidate(candidates: np.ndarray, pr_best_last: np.ndarray) -> np.ndarray:
    """The candidate with the highest Pr(best) at the last look (first on ties), -1 if none has one."""
    score = np.where(candidates & np.isfinite(pr_best_last), pr_best_last, -np.inf)
    best = score.argmax(axis=1)
    return np.where(np.isfinite(score.max(axis=1)), best, -1)


def select(outcomes: TrialOutcomes, strategy: Strategy | str) -> np.ndarray:
    """The selected arm of every trial under `strategy` (-1 for none)."""
    s = Strategy(strategy) if isinstance(strategy, str) else strategy
    control = outcomes.first_control
    if s.name in NEEDS_CONTROL and control is None:
        raise ValueError(f"selection strategy {s.name!r} needs a design with a control")
    if s.select_last_arm and control is None:
        raise ValueError("select_last_arm applies to designs with a control")
    name = ("control" if control is not None else "none") if s.name == "control if available" else s.name
    cand = outcomes.candidates()
    n = cand.shape[0]
    if name == "none":
        chosen = np.full(n, -1)
    elif name == "control":
        chosen = _pick(cand, control)
    elif name == "final control":
        chosen = _pick(cand, outcomes.final_control)
    elif name in ("best", "control or best"):
        chosen = best_candidate(cand, outcomes.pr_best_last)
        if name == "control or best":
            first = _pick(cand, control)
            chosen = np.where(first >= 0, first, chosen)
    else:  # "list", "list or best": first preferred arm still a candidate
        chosen = np.full(n, -1)
        for arm in reversed(s.preferences):
            chosen = np.where(cand[:, arm], arm, chosen)
        if name == "list or best":
            chosen = np.where(chosen >= 0, chosen, best_candidate(cand, outcomes.pr_best_last))
    if s.select_last_arm:
        last = (cand & (outcomes.fate == ArmFate.ACTIVE)).sum(axis=1) == 1
        chosen = np.where(last, _pick(cand, outcomes.final_control), chosen)
    return np.where(outcomes.superior >= 0, outcomes.superior, chosen).astype(np.int16)


def estimate_errors(selected: np.ndarray, estimate: np.ndarray, truth: np.ndarray,
                    te_comp: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Errors of the selected arm's estimate and of its treatment effect vs `te_comp`.

    Returns (err, err_te) over trials, NaN where not defined: no arm selected, or (for the
    treatment effect) no comparator or the comparator itself selected. `estimate` is
    (trials, arms), `truth` (arms,), both on the same scale.
    """
    chosen = selected >= 0
    idx = np.maximum(selected, 0).astype(np.intp)
    rows = np.arange(len(selected))
    err = np.where(chosen, estimate[rows, idx] - truth[idx], np.nan)
    if te_comp is None:
        return err, np.full(len(selected), np.nan)
    te = chosen & (selected != te_comp)
    err_te = (estimate[rows, idx] - estimate[:, te_comp]) - (truth[idx] - truth[te_comp])
    return err, np.where(te, err_te, np.nan)


def remaining_arms(outcomes: TrialOutcomes) -> np.ndarray:
    """adaptr's check_remaining_arms: per trial x arm, is the arm among those remaining at the end.

    Remaining: the superior arm, arms still active (the control included), and arms
    declared equivalent at the stopping look; arms dropped as inferior or futile, or
    for equivalence at an earlier look, are not.
    """
    rows = np.arange(len(outcomes.stop))
    remaining = (outcomes.fate == ArmFate.ACTIVE) | outcomes.equivalent_at_stop()
    superior = outcomes.superior >= 0
    remaining[rows[superior], outcomes.superior[superior]] = True
    return remaining
