"""adaptr's common-control rules: a superior arm becomes the control; control shares from the first patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from trialsim.design.allocation import AllocationRule, start_probabilities
from trialsim.design.decisions import DecisionRule, decide
from trialsim.design.state import ArmFate, Stop, TrialState

# -- decisions -------------------------------------------------------------


@dataclass
class NormalPosterior:
    """Independent normal posteriors per trial x arm: exact probabilities for hand-built looks."""

    mu: np.ndarray  # (trials, arms)
    sd: float = 0.01

    def _diff(self, control: np.ndarray, lower: float, upper: float) -> np.ndarray:
        d = self.mu - self.mu[np.arange(len(control)), control][:, None]
        s = np.sqrt(2) * self.sd
        out = stats.norm.cdf((upper - d) / s) - stats.norm.cdf((lower - d) / s)
        out[np.arange(len(control)), control] = float(lower < 0 < upper)
        return out

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        return self._diff(control, delta, np.inf)

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        return self._diff(control, -margin, margin)

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        m = np.where(active, self.mu, -np.inf)
        return (m == m.max(axis=1, keepdims=True)).astype(float)


def rule(**kw) -> DecisionRule:
    base = dict(control=0, superiority=np.full(3, 0.99), superiority_delta=0.0, inferiority=np.full(3, 0.01),
                futility=None, phenotype_futility=None, equivalence=None, selection="control",
                on_superior="new_control")
    return DecisionRule(**(base | kw))


def look(r: DecisionRule, mu: list[list[float]], state: TrialState | None = None, at: int = 0,
         sd: float = 0.01) -> TrialState:
    mu = np.array(mu, float)
    state = state or TrialState.start(len(mu), mu.shape[1], 1, r.control)
    trials = np.flatnonzero(state.running)
    decide(r, NormalPosterior(mu[trials], sd), state, trials, at, np.zeros(len(trials), bool))
    return state


def test_superior_arm_becomes_the_control_and_the_last_arm_standing_is_superior():
    # arm 2 beats control 0; against arm 2, arm 1 is inferior: arm 2 is the last arm standing
    s = look(rule(), [[0.20, 0.25, 0.35]])
    assert s.stop[0] == Stop.SUPERIORITY and s.superior[0] == 2 and s.control[0] == 2
    assert s.fate[0].tolist() == [ArmFate.INFERIOR, ArmFate.INFERIOR, ArmFate.ACTIVE]


def test_trial_goes_on_with_the_new_control():
    # arm 2 beats control 0 (Pr 0.996), arm 1 nearly (0.989); arm 1 is not inferior to arm 2:
    # the trial continues with arm 2 as the control
    s = look(rule(), [[0.20, 0.33, 0.35]], sd=0.04)
    assert s.stop[0] == Stop.RUNNING and s.control[0] == 2 and s.control_changed[0]
    assert s.fate[0].tolist() == [ArmFate.INFERIOR, ArmFate.ACTIVE, ArmFate.ACTIVE]


def test_control_left_alone_is_superior():
    # adaptr: every other arm inferior -> "superiority" with the control as the superior arm
    s = look(rule(), [[0.30, 0.20, 0.21]])
    assert s.stop[0] == Stop.SUPERIORITY and s.superior[0] == 0


def test_equivalence_stop_keeps_the_control():
    r = rule(equivalence=(0.9, 0.05))
    s = look(r, [[0.30, 0.301, 0.299]])
    assert s.stop[0] == Stop.EQUIVALENCE and s.superior[0] == -1
    assert s.fate[0].tolist() == [ArmFate.ACTIVE, ArmFate.EQUIVALENT, ArmFate.EQUIVALENT]


def test_futility_relabels_arms_just_found_inferior():
    # arm 1 is inferior and (adaptr checks every arm of the pass) also futile; arm 2 futile:
    # the last step leaving one arm is futility, so the trial stops for futility
    r = rule(futility=(0.05, 0.05))
    s = look(r, [[0.30, 0.20, 0.31]])
    assert s.stop[0] == Stop.FUTILITY
    assert s.fate[0].tolist() == [ArmFate.ACTIVE, ArmFate.FUTILE, ArmFate.FUTILE]


def test_equivalence_only_first():
    # look 0: arm 2 replaces control 0; later, arm 1 equivalent to arm 2 is not dropped (only first)
    for only_first, expected in ((True, Stop.RUNNING), (False, Stop.EQUIVALENCE)):
        r = rule(equivalence=(0.9, 0.05), equivalence_only_first=only_first)
        s = look(r, [[0.20, 0.33, 0.35]], sd=0.04)
        assert s.control[0] == 2 and s.stop[0] == Stop.RUNNING
        s = look(r, [[0.20, 0.349, 0.35]], s, at=1, sd=0.005)
        assert s.stop[0] == expected


def test_graduate_keeps_the_control():
    s = look(rule(on_superior="graduate"), [[0.20, 0.25, 0.35]])
    assert s.control[0] == 0 and s.fate[0, 2] == ArmFate.EFFECTIVE


# -- allocation ------------------------------------------------------------


def alloc(control_prob, n_arms: int = 4, **kw) -> AllocationRule:
    base = dict(adaptive=True, start=start_probabilities(n_arms, 0, control_prob), power=1.0, min_prob=0.0,
                max_prob=1.0, control=0, control_prob=tuple(control_prob) if isinstance(control_prob, list) else control_prob,
                burn_in=0, stratified=False, block_size=None)
    return AllocationRule(**(base | kw))


def test_sqrt_based_start_matches_adaptr_printouts():
    # JOSS paper (4 arms): 0.366 / 0.211; Advanced example vignette (3 arms): 0.414 / 0.293
    np.testing.assert_allclose(start_probabilities(4, 0, "sqrt-based"), [0.366, 0.211, 0.211, 0.211], atol=5e-4)
    np.testing.assert_allclose(start_probabilities(3, 1, "sqrt"), [0.293, 0.414, 0.293], atol=5e-4)
    np.testing.assert_allclose(start_probabilities(4, 0, [0.4, 0.45, 0.5]), [0.4, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(start_probabilities(4, 0, "match"), 0.25)


def shares(r: AllocationRule, active: list[bool], control: int = 0, pb=(0.1, 0.5, 0.3, 0.1), n: int = 100) -> np.ndarray:
    pb = np.array(pb)[None, None] * np.array(active)
    return r.update(pb / pb.sum(), np.array(active)[None, None], n, 1000, np.array([control]))[0, 0]


@pytest.mark.parametrize("variant, expected_control", [
    ("sqrt-based", np.sqrt(2) / (np.sqrt(2) + 2)),  # re-evaluated for 2 non-control arms
    ("sqrt-based start", np.sqrt(3) / (np.sqrt(3) + 3)),  # fixed at the start value
    ([0.4, 0.45, 0.5], 0.45),  # one share per number of non-control arms
    (0.3, 0.3),
])
def test_control_share_after_a_drop_and_a_new_control(variant, expected_control):
    # arm 3 dropped; the control moved from arm 0 (dropped) to arm 1; arms 1 (control), 2, ... active
    p = shares(alloc(variant), [False, True, True, True], control=1)
    assert abs(p[1] - expected_control) < 1e-12 and abs(p.sum() - 1) < 1e-12 and p[0] == 0


def test_sqrt_based_fixed_rescales_fixed_shares():
    # all fixed: control sqrt(2)/(sqrt(2)+2), the others their start 1/(sqrt(3)+3), rescaled to 1
    p = shares(alloc("sqrt-based fixed"), [True, True, True, False])
    c, o = np.sqrt(2) / (np.sqrt(2) + 2), 1 / (np.sqrt(3) + 3)
    np.testing.assert_allclose(p, np.array([c, o, o, 0]) / (c + 2 * o))


def test_control_share_holds_during_burn_in():
    p = shares(alloc("sqrt-based", burn_in=200), [True] * 4, n=100)
    np.testing.assert_allclose(p, start_probabilities(4, 0, "sqrt-based"))
    q = shares(alloc("match", burn_in=200), [True] * 4, n=100)
    np.testing.assert_allclose(q, 0.25)


def test_continuous_example_runs_with_sqrt_based_fixed_shares():
    # adaptr's setup_trial_norm example: start shares 0.366 / 0.211 (its printed specification)
    from pathlib import Path

    from trialsim.api import plan_for, run

    path = Path(__file__).resolve().parents[1] / "scenarios" / "validation" / "adaptr_norm_example.yaml"
    plan = plan_for(path)
    np.testing.assert_allclose(plan.designs["adaptr_example"].allocation.start, [0.366, 0.211, 0.211, 0.211], atol=5e-4)
    oc = run(path, n_trials=200).oc.set_index("metric")["estimate"]
    # New_A (20 vs 15, SD 2-2.5) beats the control early and every other arm: superiority, New_A selected
    assert oc["prob_superior"] > 0.95 and oc["prob_select_arm_New_A"] > 0.95


def test_new_control_records_do_not_depend_on_chunking():
    from pathlib import Path

    import xarray as xr

    from trialsim.api import plan_for
    from trialsim.run.runner import simulate

    path = Path(__file__).resolve().parents[1] / "scenarios" / "validation" / "adaptr_joss_control.yaml"
    a = simulate(plan_for(path, n_trials=40, seed=2), chunk_size=7)
    b = simulate(plan_for(path, n_trials=40, seed=2), chunk_size=40)
    for name in ("final_control", "superior_arm", "fate_look", "pr_best_last", "estimate_median", "selected_arm"):
        xr.testing.assert_identical(a[name], b[name])
