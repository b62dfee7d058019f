"""Interim analyses with the pending patients' earlier visits (design/longitudinal.py, issue 13)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import yaml
from scipy import stats

from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.design.longitudinal import Pending, combine, pending_patients
from trialsim.design.schedule import LookPlan, look_schedule
from trialsim.inference.base import LookData
from trialsim.inference.exact import ArmPosteriors
from trialsim.report.patients import patients_table
from trialsim.run.runner import simulate
from trialsim.scenario import ScenarioError, parse_scenario
from trialsim.summarise.oc import oc_table

from .conftest import SCENARIOS, scenario_dict, subset

MODES = ("locf", "regression", "itp", "mvn")
RECORDS = ("size", "stop_reason", "stop_look", "arm_fate", "estimate", "final_pr_best", "pr_best_last",
           "n_randomised", "duration_weeks", "selected_arm")


def mvn_trials(rng: np.random.Generator, n_rep: int, n_c: int, n_p: int, mean: np.ndarray, cov: np.ndarray):
    """Replicates (as trials) of one arm: n_c completers with visits (4, 8, 12) and n_p pending patients,
    half of whom have reached 8 weeks (the others 4 weeks only)."""
    return visit_trials(rng.multivariate_normal(mean, cov, size=(n_rep, n_c + n_p)), n_c, n_p)


def visit_trials(z: np.ndarray, n_c: int, n_p: int):
    """z (replicates, patients, visits + endpoint) as trials of one arm: the first n_c patients completed,
    the second half of the others reached the second visit, the first half the first visit only."""
    n_rep = z.shape[0]
    arm = np.zeros((n_rep, n_c + n_p), np.int16)
    completer = np.zeros(arm.shape, bool)
    completer[:, :n_c] = True
    early, y = z[..., :2], z[..., 2]
    last = np.zeros(arm.shape, np.int64)
    last[:, n_c + n_p // 2:] = 1
    mask = ~completer
    x = np.take_along_axis(early, last[..., None], axis=-1)[..., 0]
    reached = (np.arange(early.shape[-1]) <= last[..., None]) & mask[..., None]
    pending = Pending(mask, np.where(mask, x, 0.0), last, reached)
    yc = np.where(completer, y, 0.0)
    one = lambda v: v[:, None, None]  # noqa: E731
    data = LookData(one(completer.sum(1).astype(float)), one(yc.sum(1)), one((yc * yc).sum(1)),
                    *(np.zeros((n_rep, 1, 1)) for _ in range(3)), False, np.ones(1))
    return data, arm, completer, y, early, pending


def test_no_pending_patient_returns_the_data_untouched():
    data, arm, completer, y, early, pending = mvn_trials(np.random.default_rng(1), 5, 10, 4, np.zeros(3), np.eye(3))
    nobody = Pending(np.zeros_like(pending.mask), pending.x, pending.visit)
    for mode in ("locf", "regression", "itp", "mvn"):
        out, imputed = combine(data, mode, arm, completer, y, early, nobody, np.zeros(arm.shape, np.int16),
                               np.ones(arm.shape, bool), weeks=np.array([4.0, 8.0, 12.0]))
        assert out is data and imputed.n.sum() == 0


def test_pending_patients_reach_visits_by_calendar_time():
    arm = np.array([[0, 1, 0, 1]])
    early = np.arange(8, dtype=float).reshape(1, 4, 2)
    seen = np.ones((1, 4, 2), bool)
    seen[0, 3, 1] = False  # left follow-up before 8 weeks
    arrival = np.array([[0.0, 1.0, 5.0, 6.0]])
    p = pending_patients(arm, np.ones((1, 4), bool), early, seen, arrival, np.array([4.0, 8.0]), np.array([13.0]),
                         np.array([1]), np.array([4]))
    # patient 0 completed; 1 reached 8 weeks (1 + 8 <= 13); 2 reached 8 weeks at 13; 3 only 4 (not seen at 8)
    np.testing.assert_array_equal(p.mask[0], [False, True, True, True])
    np.testing.assert_array_equal(p.visit[0, 1:], [1, 1, 0])
    np.testing.assert_array_equal(p.x[0, 1:], [3.0, 5.0, 6.0])


def test_look_time_is_when_the_look_patient_reaches_the_endpoint():
    arrival = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    s = look_schedule(LookPlan(at_patients=(2, 5)), arrival, 12.0)
    np.testing.assert_array_equal(s.time, [[13.0, 16.0]])


def longitudinal_scenario(designs: dict[str, dict], visits=(4, 8, 12, 26, 52), truths=("industry",)):
    data = scenario_dict()
    data["patients"]["visits"] = list(visits)
    base = data["designs"]["adaptive"]
    data["designs"] = {}
    for name, analysis in designs.items():
        d = copy.deepcopy(base)
        d["analysis"] = analysis
        data["designs"][name] = d
    return subset(data, truths=list(truths))


def run(scenario, n: int = 20):
    plan = compile_scenario(scenario)
    return simulate(replace(plan, n_trials=n))


def same_records(ds, a: str, b: str) -> None:
    for name in RECORDS:
        np.testing.assert_array_equal(ds[name].sel(design=a).values, ds[name].sel(design=b).values, err_msg=name)


def test_without_earlier_visits_the_model_reduces_exactly_to_todays_analysis():
    """Bit-identical records: the endpoint as the only visit up to it, and no earlier visit chosen."""
    ds = run(longitudinal_scenario({"endpoint_only": {}, **{m: {"longitudinal": m} for m in MODES}}, visits=(12, 52)))
    for mode in MODES:
        same_records(ds, "endpoint_only", mode)
    assert ds["imputed_n"].values.sum() == 0


def test_without_pending_patients_the_code_path_changes_nothing():
    """No follow-up lag (randomised_at_looks = at_patients): the longitudinal code runs and finds nobody."""
    s = longitudinal_scenario({"endpoint_only": {}, **{m: {"longitudinal": m} for m in MODES}})
    data = s.model_dump(mode="json", exclude_none=True)
    for d in data["designs"].values():
        d["looks"]["randomised_at_looks"] = d["looks"]["at_patients"]
    ds = run(parse_scenario(data))
    for mode in MODES:
        same_records(ds, "endpoint_only", mode)


def test_longitudinal_designs_use_early_visits_and_report_calibration():
    ds = run(longitudinal_scenario({"endpoint_only": {}, "regression": {"longitudinal": "regression"},
                                    "locf": {"longitudinal": "locf"}}, truths=("no_effect", "industry")), n=20)
    assert ds["imputed_n"].sel(design="regression").values.sum() > 0
    # per-look sums add up to the totals (the last look, the final analysis, imputes nobody)
    by_look = ds["imputed_by_look"].sel(design="regression")
    np.testing.assert_allclose(by_look.sel(imputation_stat="n").sum("interim"), ds["imputed_n"].sel(design="regression"))
    np.testing.assert_allclose(by_look.sel(imputation_stat="error_sum").sum("interim"),
                               ds["imputed_error_sum"].sel(design="regression"))
    assert (by_look.sel(interim=4, imputation_stat="n") == 0).all()
    oc = oc_table(ds).set_index(["design", "truth", "metric"])["estimate"].sort_index()
    assert ("endpoint_only", "no_effect", "imputation_bias") not in oc.index
    cover = oc["regression", "no_effect", "imputation_coverage"]
    assert 0.85 < cover < 0.99
    assert 0.8 < oc["regression", "no_effect", "imputation_coverage_look_1"] < 1
    # LOCF carries a smaller 4/8-week change forward: it under-states the 12-week improvement
    assert np.isfinite(oc["locf", "no_effect", "imputation_bias"]) and "imputation_coverage" not in oc["locf", "no_effect"].index
    # the final analysis uses observed endpoints only: the same patients give the same estimates
    same = ds["size"].sel(design="endpoint_only").values == ds["size"].sel(design="regression").values
    assert same.any()


def test_early_visits_are_the_patients_tables_visits():
    """Common random numbers: the earlier visits a design sees are the `trialsim patients` table's."""
    plan = compile_scenario(longitudinal_scenario({"regression": {"longitudinal": "regression"}}))
    n, trials = 50, 2
    table = patients_table(plan, "industry", n, trials)
    cohort = Cohort(plan.cohort, plan.seed, np.arange(trials))
    cohort.reach(np.arange(trials), np.full(trials, n))
    model = plan.truths["industry"].model
    visits = plan.designs["regression"].analysis.early_visits
    assert visits == (0, 1)
    for a, name in enumerate(plan.arms):
        arm = np.full((trials, n), a)
        y0, *_ = cohort.outcomes_block(plan.endpoint, model, np.arange(trials), 0, arm)
        y, _, _, change, seen = cohort.outcomes_block_early(plan.endpoint, model, np.arange(trials), 0, arm,
                                                            "complete_case", visits)
        np.testing.assert_array_equal(y, y0)
        for t in range(trials):
            for j, week in enumerate((4.0, 8.0)):
                rows = table[(table.trial == t) & (table.arm == name) & (table.visit_week == week)].sort_values("patient")
                np.testing.assert_array_equal(change[t, :, j], rows.change.to_numpy())
                np.testing.assert_array_equal(seen[t, :, j], rows.in_follow_up.to_numpy())


@pytest.mark.parametrize("analysis, words", [
    ({"longitudinal": "itp", "engine": "frequentist"}, "frequentist"),
    ({"longitudinal": "regression", "missing": "locf"}, "complete_case"),
    ({"longitudinal": "regression", "longitudinal_visits": [12]}, "before the endpoint"),
    ({"longitudinal_visits": [4]}, "applies with"),
])
def test_rules(analysis, words):
    with pytest.raises(ScenarioError, match=words):
        longitudinal_scenario({"d": analysis})


def test_longitudinal_needs_the_visit_model():
    data = scenario_dict()
    data.pop("patients")
    data["logistics"]["dropout"] = 0.07
    for t in data["truths"].values():
        for arm in t["arms"].values():
            for field in ("responder_share", "responder_change"):
                arm.pop(field, None)
    data["designs"]["adaptive"]["analysis"] = {"longitudinal": "locf"}
    with pytest.raises(ScenarioError, match="patients"):
        parse_scenario(data)


def with_durability(scenario, weeks: float = 52):
    data = scenario.model_dump(mode="json", exclude_none=True)
    data["designs"]["durable"] = {**copy.deepcopy(data["designs"]["endpoint_only"]), "durability": {"weeks": weeks}}
    return parse_scenario(data)


def test_durability_is_a_separate_decision_on_the_same_patients():
    """A design with a durability visit makes the cohort keep later visits: the primary endpoint's draws,
    and so every other design's records, do not change; durable arms are effective arms."""
    base = longitudinal_scenario({"endpoint_only": {}})
    plain, durable = run(base), run(with_durability(base))
    for name in RECORDS:
        np.testing.assert_array_equal(plain[name].sel(design="endpoint_only").values, durable[name].sel(design="endpoint_only").values)
    same_records(durable, "endpoint_only", "durable")
    d = durable.sel(design="durable")
    assert (d["durable"].values <= (d["arm_fate"].values == 1)).all()
    assert d["durable"].values.any()  # industry SCS is effective at 12 weeks and still at 52 (no waning)
    oc = oc_table(durable).set_index(["design", "metric"])["estimate"]
    assert oc["durable", "durability_duration_weeks_mean"] == pytest.approx(oc["durable", "duration_weeks_mean"] + 40)
    assert ("endpoint_only", "prob_any_durable") not in oc.index


@pytest.mark.parametrize("weeks, words", [(12, "after the endpoint"), (30, "not a visit")])
def test_durability_rules(weeks, words):
    with pytest.raises(ScenarioError, match=words):
        with_durability(longitudinal_scenario({"endpoint_only": {}}), weeks)


def test_with_screening_populations_matched_controls_and_harm():
    """Issue 12 alongside: a longitudinal design with matched controls, screen failures as
    non-responders and a harm rule runs and imputes; an implanted-only design with a durability
    visit runs; durability is refused with matched controls."""
    data = yaml.safe_load((SCENARIOS / "clbp_screening.yaml").read_text())
    data["patients"]["visits"] = [4, 8, 12, 26, 52]
    base = {"allocation": {"rule": "fixed", "block_size": 4}, "looks": {"at_patients": [80, 140, 200]}}
    data["designs"] = {
        "matched": {**base, "controls": {"scs": "sham"},
                    "analysis": {"longitudinal": "regression", "screen_failures": "nonresponder"},
                    "decisions": {"harm": {"events": ["infection"], "limit": 0.08, "threshold": 0.9}}},
        "implanted": {**base, "control": "sham", "analysis": {"longitudinal": "locf", "screen_failures": "excluded"},
                      "durability": {"weeks": 52}},
    }
    ds = run(subset(data, truths=["sham_anchored"]), n=10)
    assert (ds["imputed_n"].sum("trial") > 0).all()
    assert ds["durable"].sel(design="matched").sum() == 0
    data["designs"]["matched"]["durability"] = {"weeks": 52}
    with pytest.raises(ScenarioError, match="matched"):
        parse_scenario(data)
