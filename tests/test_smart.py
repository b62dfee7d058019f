"""SMART (design/smart.py) and one-way crossover (design/one_way.py) on the simulator's patients.

Known truths: without dropout, and without responder mixtures, so that a regime whose option is the
stage-1 arm (or an identical arm) has the parallel arm's true value, computed by the pure patient
model (visits.true_values) independently of the sequence layer. Tolerances are 4 Monte Carlo SEs.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from trialsim.cli import main
from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.inference.engines import make_inference
from trialsim.run.runner import simulate
from trialsim.scenario import parse_scenario

from .conftest import SCENARIOS, scenario_dict

NO_DROPOUT = {"loss_by_52_weeks": 0.0, "explant_by_12_weeks": 0.0}


def smart_scenario(truths: dict | None = None, stage2: dict | None = None, n: int = 180) -> dict:
    data = copy.deepcopy(scenario_dict("clbp_smart.yaml"))
    data["patients"]["dropout"] = dict(NO_DROPOUT)
    if truths is not None:
        data["truths"] = truths
    smart = data["designs"]["smart"]
    smart["looks"] = {"at_patients": [n]}
    if stage2 is not None:
        smart["smart"]["stage2"] = stage2
        smart["smart"]["reference"] = next(f"{a}_then_{o[0]}" for a, o in stage2.items())
    return data


def run_design(plan, design: str, truth: str, trials: int):
    cohort = Cohort(plan.cohort, plan.seed, np.arange(trials))
    d = plan.designs[design]
    return d.family.run(d, cohort, plan.truths[truth], make_inference(d.analysis, plan.seed, design))


IDENTICAL = {  # walking is exercise under another name; no mixture, durable: sequences are exact
    "usual_care": {"nonspecific": -0.5},
    "exercise": {"nonspecific": -0.5, "specific": {"nociceptive": -1.5, "neuropathic": -1.0, "nociplastic": -1.0,
                                                   "inflammatory": -1.5}},
    "walking": {"nonspecific": -0.5, "specific": {"nociceptive": -1.5, "neuropathic": -1.0, "nociplastic": -1.0,
                                                  "inflammatory": -1.5}},
    "scs": {"nonspecific": -2.2, "specific": -0.8},
    "rtms": {"nonspecific": -1.0, "specific": -0.6},
}


@pytest.fixture(scope="module")
def known():
    data = smart_scenario({"known": {"arms": IDENTICAL}},
                          stage2={"usual_care": ["usual_care"], "exercise": ["exercise", "walking", "scs"],
                                  "walking": ["rtms"]})
    return compile_scenario(parse_scenario(data))


def test_regime_true_values_match_their_analytic_values(known):
    """Staying on an arm, or switching to an identical one after the 12-week response visit (the 2-week
    onset is over by week 24), is the parallel arm: the regime's value is the arm's true value from the
    pure model (independent patients: MC error of two 100,000-patient means)."""
    smart = known.designs["smart"].family
    values = dict(zip(smart.regimes.names, smart.true_values["known"]))
    arms = dict(zip(known.arms, known.true_values()[0]))
    assert values["exercise_then_exercise"] == values["exercise_then_walking"]  # the same patients, exactly
    tol = 4 * 1.5 * np.sqrt(2 / 100_000)  # SD of change ~1.5 NRS
    for regime, arm in (("exercise_then_exercise", "exercise"), ("usual_care_then_usual_care", "usual_care")):
        assert abs(values[regime] - arms[arm]) < tol, (regime, values[regime], arms[arm])
    # non-responders to exercise do better on SCS (larger effect): the regime beats staying on exercise
    assert values["exercise_then_scs"] < values["exercise_then_exercise"] - 0.1


def test_smart_regime_estimates_are_unbiased_and_cover(known):
    trials = 600
    result = run_design(known, "smart", "known", trials)
    smart = known.designs["smart"].family
    true = known.endpoint.to_internal(smart.true_values["known"])
    r = result.regimes
    err = r.estimate - true
    mcse = err.std(axis=0, ddof=1) / np.sqrt(trials)
    assert np.all(np.abs(err.mean(axis=0)) < 4 * mcse), (err.mean(axis=0), mcse)
    covered = (np.abs(err) <= stats.t.ppf(0.975, r.df) * r.se).mean(axis=0)
    assert np.all(np.abs(covered - 0.95) < 4 * np.sqrt(0.95 * 0.05 / trials)), covered
    # randomisation: stage-1 arms equal, stage-2 options equal among non-responders
    first = result.observed.arm  # the final treatment; responders stay, so usual care is stage 1 exactly
    assert abs((first == known.arms.index("usual_care")).mean() - 1 / 3) < 4 * np.sqrt(2 / 9 / first.size)


def test_pr_best_regime_is_uniform_under_a_symmetric_null():
    """Every arm is usual care and each stage-1 arm has two options: the 4 regimes are exchangeable."""
    null = {a: {"nonspecific": -0.5} for a in IDENTICAL}
    data = smart_scenario({"no_effect": {"arms": null}}, stage2={"exercise": ["scs", "rtms"], "walking": ["scs", "rtms"]},
                          n=80)
    data["designs"]["smart"]["smart"]["stage1"] = ["exercise", "walking"]
    data["designs"] = {"smart": data["designs"]["smart"]}
    plan = compile_scenario(parse_scenario(data))
    trials = 3000
    selected = run_design(plan, "smart", "no_effect", trials).regimes.selected
    share = np.bincount(selected, minlength=4) / trials
    assert np.all(np.abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / trials)), share


def one_way_plan(dropout: bool = False):
    data = copy.deepcopy(scenario_dict("clbp_one_way_crossover.yaml"))
    if not dropout:
        data["patients"]["dropout"] = dict(NO_DROPOUT)
    return compile_scenario(parse_scenario(data))


def test_one_way_crossover_leaves_the_primary_comparison_identical():
    plan = one_way_plan(dropout=True)
    ds = simulate(replace(plan.restricted(truths=["modest"]), n_trials=80), chunk_size=40)
    long_term = {v for v in ds.data_vars if "long_term" in v}
    for name in ds.data_vars:
        if "design" in ds[name].dims and name not in long_term:
            a, b = ds[name].sel(design="parallel").values, ds[name].sel(design="one_way").values
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert np.isnan(ds["estimate_long_term"].sel(design="parallel")).all()
    assert np.isfinite(ds["estimate_long_term"].sel(design="one_way").isel(arm=1)).all()


def test_one_way_crossover_moves_the_long_term_comparison_to_zero_by_the_effect():
    """Sham patients cross to active at week 17 and get its full (durable, non-mixture) effect by week 52
    (2-week onset): the crossed comparison estimates 0 and the crossover shifts it by minus the true
    effect; without crossover the comparison is unbiased."""
    plan = one_way_plan()
    trials = 400
    result = run_design(plan, "one_way", "modest", trials)
    lt = result.long_term
    endpoint = plan.endpoint
    crossed = endpoint.from_internal(lt.estimate[:, 1] - lt.estimate[:, 0])
    direct = endpoint.from_internal(lt.estimate_direct[:, 1] - lt.estimate_direct[:, 0])
    true = plan.designs["one_way"].family.true_values["modest"]
    effect = true[1] - true[0]
    assert effect < -0.5
    se = lambda x: x.std(ddof=1) / np.sqrt(trials)  # noqa: E731
    assert abs(crossed.mean()) < 4 * se(crossed)
    assert abs(direct.mean() - effect) < 4 * se(direct)
    shift = crossed - direct
    assert abs(shift.mean() + effect) < 4 * se(shift) + 4 * se(direct)
    assert (np.nan_to_num(lt.pr_better[:, 1]) > 0.975).mean() < 0.1 < (np.nan_to_num(lt.pr_better_direct[:, 1]) > 0.975).mean()


def test_describe_and_validate_the_bundled_family_scenarios():
    for name in ("clbp_smart.yaml", "clbp_one_way_crossover.yaml"):
        path = str(SCENARIOS / name)
        assert CliRunner().invoke(main, ["validate", path]).exit_code == 0
    out = CliRunner().invoke(main, ["describe", str(SCENARIOS / "clbp_smart.yaml")])
    assert out.exit_code == 0, out.output
    assert "SMART" in out.output and "exercise_then_scs" in out.output
    out = CliRunner().invoke(main, ["describe", str(SCENARIOS / "clbp_one_way_crossover.yaml")])
    assert out.exit_code == 0 and "cross" in out.output


def test_results_do_not_depend_on_chunks():
    """Stage-2 draws come from the randomisation stream keyed by trial and patient: any chunking (or
    worker count) gives the same trials bit for bit."""
    data = smart_scenario()
    data["designs"] = {"smart": data["designs"]["smart"]}
    data["truths"] = {"sham_anchored": data["truths"]["sham_anchored"]}
    plan = replace(compile_scenario(parse_scenario(data)), n_trials=60)
    a, b = simulate(plan, chunk_size=60), simulate(plan, chunk_size=25)
    for name in ("regime_estimate", "regime_se", "regime_effective", "selected_regime", "n_randomised"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
