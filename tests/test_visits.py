"""The visit model inside the simulator: same patients as the `patients` table, rules, command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trialsim.cli import main
from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.report.patients import COLUMNS, patients_table
from trialsim.scenario import ScenarioError, parse_scenario

from .conftest import SCENARIOS, scenario_dict, subset

CLBP = str(SCENARIOS / "clbp_sham_multiarm.yaml")


@pytest.fixture(scope="module")
def plan():
    return compile_scenario(subset(scenario_dict(), truths=["industry"], designs=["fixed_equal"]))


def test_cohort_and_patients_table_hold_the_same_patients(plan):
    """Common random numbers: trial i's patients in the simulator are the table's trial i."""
    n, trials = 60, 2
    table = patients_table(plan, "industry", n, trials)
    week = plan.cohort.visit.visits[plan.cohort.visit.primary]
    cohort = Cohort(plan.cohort, plan.seed, np.arange(trials))
    cohort.reach(np.arange(trials), np.full(trials, n))
    model = plan.truths["industry"].model
    for t in range(trials):
        rows = table[(table.trial == t) & (table.visit_week == week)]
        first = rows.drop_duplicates("patient").sort_values("patient")
        np.testing.assert_array_equal(cohort.baseline_nrs[t, :n], first.baseline_nrs.to_numpy())
        for a, arm in enumerate(plan.arms):
            expected = rows[rows.arm == arm].sort_values("patient").change.to_numpy()
            change, _, _ = cohort.outcomes(plan.endpoint, model, np.full(n, t), np.arange(n), np.full(n, a))
            np.testing.assert_array_equal(change, expected)


def test_outcomes_do_not_depend_on_the_chunk(plan):
    a = Cohort(plan.cohort, plan.seed, np.array([3, 4]))
    b = Cohort(plan.cohort, plan.seed, np.array([4]))
    a.reach(np.array([0, 1]), np.array([50, 50]))
    b.reach(np.array([0]), np.array([50]))
    np.testing.assert_array_equal(a.baseline_nrs[1, :50], b.baseline_nrs[0, :50])


def test_visit_fields_need_the_visit_model():
    data = scenario_dict()
    data.pop("patients")
    data["truths"]["industry"]["arms"]["dbs"].pop("responder_change")
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    paths = [p for p, _ in err.value.problems] if isinstance(err.value.problems[0], tuple) else err.value.problems
    text = " ".join(map(str, paths))
    assert "add a 'patients' block" in text and "together" in text


def test_primary_week_must_be_a_visit():
    data = scenario_dict()
    data["patients"]["visits"] = [4, 26]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert "must be a visit" in " ".join(map(str, err.value.problems))


def test_patients_command_writes_a_tidy_table(tmp_path):
    out = tmp_path / "p.csv"
    result = CliRunner().invoke(main, ["patients", CLBP, "--truth", "industry", "-n", "40", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 40 * 5 * 4  # patients x arms x visits
    assert table.nrs.between(0, 10).all() and (table.baseline_nrs >= 6).all()


def test_patients_command_rejects_an_unknown_truth(tmp_path):
    result = CliRunner().invoke(main, ["patients", CLBP, "--truth", "indstry", "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 2 and "did you mean 'industry'" in result.output
    assert not (tmp_path / "p.csv").exists()


def test_analysis_populations_bias_in_the_expected_directions():
    """Sicker patients leave (MAR): complete cases overstate the responder rate, counting dropouts
    as non-responders understates it; the same patients without dropout give the truth."""
    data = scenario_dict()
    data["patients"]["dropout"] = {"loss_by_52_weeks": 0.8, "odds_ratio_per_point": 2.0}
    plan = compile_scenario(subset(data, truths=["no_effect"], designs=["fixed_equal"]))
    data["patients"]["dropout"] = {"loss_by_52_weeks": 0.0}
    full_plan = compile_scenario(subset(data, truths=["no_effect"], designs=["fixed_equal"]))
    n, trials = 500, 40  # the design enrols 500
    rows, patients = np.repeat(np.arange(trials), n), np.tile(np.arange(n), trials)
    rates = {}
    for name, p, missing in (("full", full_plan, "complete_case"), ("cc", plan, "complete_case"),
                             ("nri", plan, "nonresponder"), ("locf", plan, "locf")):
        cohort = Cohort(p.cohort, p.seed, np.arange(trials))
        cohort.reach(np.arange(trials), np.full(trials, n))
        _, responder, gone = cohort.outcomes(plan.endpoint, p.truths["no_effect"].model, rows, patients, 0, missing)
        rates[name] = responder[~gone].mean()
        if name == "cc":
            n_cc, lost = (~gone).sum(), gone.mean()
    full = rates["full"]
    se = np.sqrt(full * (1 - full) * (1 / n_cc - 1 / (n * trials)))  # complete cases are a subsample
    assert lost > 0.05
    assert rates["cc"] - full > 4 * se and rates["nri"] < full, rates


def test_designs_see_the_observed_phenotype(plan):
    """painDETECT misclassification: the cohort's observed phenotype is the table's, and differs from the truth."""
    n = 300
    table = patients_table(plan, "industry", n, 1).drop_duplicates("patient").sort_values("patient")
    cohort = Cohort(plan.cohort, plan.seed, np.arange(1))
    cohort.reach(np.arange(1), np.full(1, n))
    names = np.array(plan.phenotypes)
    np.testing.assert_array_equal(names[cohort.observed_phenotype[0, :n]], table.observed_phenotype.to_numpy())
    np.testing.assert_array_equal(names[cohort.phenotype[0, :n]], table.phenotype.to_numpy())
    assert 0.05 < np.mean(cohort.observed_phenotype[0, :n] != cohort.phenotype[0, :n]) < 0.4
