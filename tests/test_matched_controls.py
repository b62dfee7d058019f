"""Matched controls: each arm is judged against its own comparator, never another family's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from trialsim.api import run
from trialsim.compile import compile_scenario
from trialsim.design.allocation import AllocationRule, matched_start
from trialsim.design.decisions import EXCLUDED, DecisionRule, decide
from trialsim.design.state import ArmFate, Stop, TrialState
from trialsim.report.describe import describe
from trialsim.scenario import load_scenario, parse_scenario

from .conftest import SCENARIOS, scenario_dict
from .test_new_control import NormalPosterior

# arms: 0 sham_implant, 1 scs, 2 dbs, 3 sham_rtms, 4 rtms, 5 usual_care, 6 exercise
COMPARATOR = np.array([-1, 0, 0, -1, 3, -1, 5])
FAMILIES = {0: [0, 1, 2], 3: [3, 4], 5: [5, 6]}


def matched_rule(**kw) -> DecisionRule:
    base = dict(control=0, superiority=np.full(2, 0.975), superiority_delta=0.0, inferiority=np.full(2, 0.02),
                futility=(0.05, 0.1), phenotype_futility=None, equivalence=(0.9, 0.05), selection="control",
                comparator=COMPARATOR)
    return DecisionRule(**(base | kw))


def fates(rule: DecisionRule, mu: np.ndarray, sd: float) -> TrialState:
    state = TrialState.start(len(mu), mu.shape[1], 1, rule.control)
    decide(rule, NormalPosterior(mu, sd), state, np.arange(len(mu)), 0, np.zeros(len(mu), bool))
    return state


@given(st.lists(st.floats(-1, 1), min_size=7, max_size=7), st.sampled_from([0, 3, 5]), st.floats(-50, 50),
       st.floats(0.02, 0.3))
def test_shifting_another_family_never_changes_an_arms_fate(mu: list[float], family: int, shift: float, sd: float):
    # if any arm were compared with another family's control, moving that family would move its fate
    mu = np.array([mu])
    moved = mu.copy()
    moved[0, FAMILIES[family]] += shift
    rule = matched_rule()
    a, b = fates(rule, mu, sd), fates(rule, moved, sd)
    others = [k for k in range(7) if k not in FAMILIES[family]]
    assert (a.fate[0, others] == b.fate[0, others]).all()


@given(st.lists(st.floats(-1, 1), min_size=7, max_size=7), st.floats(0.02, 0.3))
def test_each_arm_fares_as_in_a_trial_of_its_own_family(mu: list[float], sd: float):
    mu = np.array([mu])
    got = fates(matched_rule(), mu, sd)
    for control, members in FAMILIES.items():
        sub = mu[:, members]
        alone = fates(matched_rule(control=0, comparator=None), sub, sd)
        assert (got.fate[0, members] == alone.fate[0]).all()


def test_a_control_closes_when_its_family_is_empty_and_the_trial_stops_when_all_are():
    # rtms clearly beats sham_rtms (graduates), the others undecided: sham_rtms stops enrolling
    mu = np.array([[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    s = fates(matched_rule(futility=None, equivalence=None, inferiority=None), mu, 0.3)
    assert s.fate[0, 4] == ArmFate.EFFECTIVE and s.stop[0] == Stop.RUNNING
    assert s.closed[0, :, 3].all() and not s.closed[0, :, [0, 5]].any()
    big = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]])
    assert fates(matched_rule(), big, 0.01).stop[0] == Stop.SUPERIORITY


def test_matched_allocation_controls_match_their_familys_best_arm():
    rule = AllocationRule(adaptive=True, start=matched_start(COMPARATOR, "match"), power=1.0, min_prob=0.0,
                          max_prob=1.0, control=0, control_prob="match", burn_in=0, stratified=False,
                          block_size=None, comparator=COMPARATOR)
    pr = np.array([[0.0, 0.9, 0.3, 0.0, 0.5, 0.0, 0.1]])
    active = np.ones((1, 7), bool)
    p = rule.update(pr, active, 100, 700)
    assert p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p[0, [0, 3, 5]] / p[0, [1, 4, 6]], 1.0)  # each control = its best arm
    active[0, 4] = active[0, 3] = False  # the rTMS family has left
    p = rule.update(pr, active, 100, 700)
    assert p[0, 3] == p[0, 4] == 0 and p.sum() == pytest.approx(1.0)
    sqrt_rule = AllocationRule(**(rule.__dict__ | dict(control_prob="sqrt-based")))
    q = sqrt_rule.update(pr, np.ones((1, 7), bool), 100, 700)[0]
    # within the implanted family (2 arms) the sham holds sqrt(2) / (sqrt(2) + 2) of the family
    assert q[0] / q[[0, 1, 2]].sum() == pytest.approx(np.sqrt(2) / (np.sqrt(2) + 2))


def test_matched_start_gives_left_out_arms_nothing():
    comparator = np.array([-1, 0, 0, EXCLUDED, 0])
    np.testing.assert_allclose(matched_start(comparator, None), [0.25, 0.25, 0.25, 0, 0.25])


def test_one_family_of_matched_controls_is_the_single_control_design():
    data = scenario_dict()
    data["truths"] = {"sham_anchored": data["truths"]["sham_anchored"]}
    data.pop("targets", None)  # they name other truths
    fixed = data["designs"]["fixed_equal"]
    data["designs"] = {"fixed_equal": fixed, "as_matched": {
        **{k: v for k, v in fixed.items() if k != "control"},
        "controls": {a["name"]: "sham" for a in data["arms"] if a["name"] != "sham"}}}
    ds = run(parse_scenario(data), n_trials=60, seed=3).trials
    for var in ("estimate", "arm_fate", "n_randomised", "size"):
        a, b = ds[var].sel(design="fixed_equal").values, ds[var].sel(design="as_matched").values
        np.testing.assert_array_equal(a, b, err_msg=var)


def test_describe_says_which_arm_is_judged_against_which_control():
    text = describe(load_scenario(SCENARIOS / "clbp_matched_controls.yaml"))
    assert "matched control 'sham_rtms': judges rtms" in text
    assert "matched control 'sham_implant': judges scs, dbs" in text
    assert "left out of this design (never randomised): sham_rtms, usual_care" in text


def test_rules_reject_a_comparator_that_is_itself_judged():
    data = scenario_dict("clbp_matched_controls.yaml")
    data["designs"]["matched_fixed"]["controls"]["sham_rtms"] = "sham_implant"
    from trialsim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="is itself judged"):
        parse_scenario(data)


def test_matched_designs_keep_each_comparisons_type_i_error_and_left_out_arms_get_no_patients():
    # null truth: every arm equals its own control, but the three controls differ by up to 1.7 NRS;
    # each comparison's error stays at one-sided 2.5% (Monte Carlo tolerance 4 SE), while against
    # one implanted sham rTMS and exercise could never be declared effective
    data = scenario_dict("clbp_matched_controls.yaml")
    data["truths"] = {"no_effect": data["truths"]["no_effect"]}
    data["designs"] = {k: v for k, v in data["designs"].items() if k != "matched_adaptive"}
    n = 400
    oc = run(parse_scenario(data), n_trials=n, seed=11).oc.set_index(["design", "metric"])["estimate"]
    se = np.sqrt(0.025 * 0.975 / n)
    for arm in ("scs", "dbs", "rtms", "exercise"):
        assert abs(oc["matched_fixed", f"prob_effective_{arm}"] - 0.025) < 4 * se + 0.005
    assert oc["single_sham", "n_sham_rtms_mean"] == 0 and oc["single_sham", "n_usual_care_mean"] == 0
    assert oc["single_sham", "prob_effective_rtms"] == 0 and oc["single_sham", "prob_effective_exercise"] == 0
    fwer = 1 - 0.975**4
    assert abs(oc["matched_fixed", "prob_any_effective"] - fwer) < 4 * np.sqrt(fwer * (1 - fwer) / n) + 0.01
