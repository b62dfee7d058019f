"""Paired design comparisons: per-trial metrics equal the OC table, paired MCSEs equal a bootstrap
over trials, runs of other scenarios are compared unpaired, and the CLI writes compare.csv/.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from trialsim.api import run, run_to_folder
from trialsim.cli import main
from trialsim.scenario import parse_scenario
from trialsim.summarise.compare import COLUMNS, compare
from trialsim.summarise.per_trial import cell_per_trial, per_trial_table

from .conftest import scenario_dict, subset

N = 200
SUBSET_METRICS = {"rmse", "rmse_te", "idp"}


@pytest.fixture(scope="module")
def result():
    scenario = subset(scenario_dict(), truths=["no_effect", "sham_anchored"])
    return run(scenario, n_trials=N, seed=11)


def test_per_trial_metrics_equal_the_oc_table(result):
    oc = result.oc.set_index(["design", "truth", "metric"])
    table = per_trial_table(result.trials)
    compared = 0
    for (design, truth), metrics in table.items():
        for metric, value in metrics.items():
            row = oc.loc[(design, truth, metric)]
            assert np.isclose(value.estimate, row["estimate"], rtol=1e-12, equal_nan=True), (design, truth, metric)
            # analytic MCSEs differ by the ddof of a binomial SE; over a random subset of trials (rmse, idp)
            # the ratio estimator also counts the subset's random size, which the OC table takes as fixed
            rtol = 0.1 if metric in SUBSET_METRICS else 0.01
            assert np.isclose(value.mcse, row["mcse"], rtol=rtol, atol=1e-12, equal_nan=True), (design, truth, metric)
            compared += 1
    assert compared > 150


def test_paired_mcse_matches_a_bootstrap_over_trials(result):
    ds = result.trials
    table = compare([("run", ds)], reference="fixed_equal")
    assert list(table.columns) == COLUMNS and table["paired"].all()
    checks = [("sham_anchored", m) for m in ("prob_any_effective", "prob_select_best", "prob_stop_all_dropped", "size_mean",
                                             "idp", "rmse_te", "rmse_scs", "duration_weeks_mean")]
    rng = np.random.default_rng(5)
    boots = {c: [] for c in checks}
    for _ in range(150):
        idx = rng.integers(0, N, N)  # the same trials for both designs: the pairing is kept
        sample = ds.isel(trial=idx)
        cells = {(d, t): cell_per_trial(sample, d, t) for d in ("adaptive", "fixed_equal") for t in ("sham_anchored",)}
        for truth, metric in checks:
            boots[(truth, metric)].append(cells[("adaptive", truth)][metric].estimate
                                          - cells[("fixed_equal", truth)][metric].estimate)
    rows = table.set_index(["truth", "metric"])
    for truth, metric in checks:
        row = rows.loc[(truth, metric)]
        assert row["difference"] == pytest.approx(row["estimate"] - row["reference_estimate"])
        boot_se = np.std(boots[(truth, metric)], ddof=1)
        # 150 resamples estimate an SE within ~6% (1/sqrt(2B)); allow 3.5 of those, plus the delta method's bias
        assert row["mcse"] == pytest.approx(boot_se, rel=0.2), (truth, metric)
        unpaired = np.hypot(*(cell_per_trial(ds, d, truth)[metric].mcse for d in ("adaptive", "fixed_equal")))
        if metric == "duration_weeks_mean":  # common random numbers: the same accrual, positively correlated
            assert row["mcse"] < unpaired


def test_folders_of_one_scenario_and_seed_pair_on_common_trials(tmp_path):
    scenario = subset(scenario_dict(), truths=["sham_anchored"], designs=["adaptive"])
    short = run_to_folder(scenario, tmp_path / "short", n_trials=60, seed=2)
    long = run_to_folder(scenario, tmp_path / "long", n_trials=90, seed=2)
    table = compare([("short", short.trials), ("long", long.trials)], reference="short/adaptive")
    assert table["paired"].all() and set(table["design"]) == {"long/adaptive"}
    # the first 60 trials are the same patients and decisions: a design minus itself is exactly 0
    assert np.allclose(table["difference"], 0) and np.allclose(table["mcse"], 0, equal_nan=True)


def test_runs_of_different_seeds_are_unpaired(result):
    other = run(subset(scenario_dict(), truths=["sham_anchored"], designs=["adaptive"]), n_trials=N, seed=12)
    table = compare([("a", result.trials), ("b", other.trials)], reference="a/adaptive")
    mine = table[table["design"] == "b/adaptive"].set_index("metric")
    assert not mine["paired"].any() and set(mine["truth"]) == {"sham_anchored"}
    a = cell_per_trial(result.trials, "adaptive", "sham_anchored")["size_mean"]
    b = cell_per_trial(other.trials, "adaptive", "sham_anchored")["size_mean"]
    assert mine.loc["size_mean", "mcse"] == pytest.approx(np.hypot(a.mcse, b.mcse))


def test_compare_command(tmp_path):
    scenario = subset(scenario_dict(), truths=["no_effect"])
    run_to_folder(scenario, tmp_path / "r", n_trials=40, seed=1)
    out = tmp_path / "cmp"
    result = CliRunner().invoke(main, ["compare", str(tmp_path / "r"), "--reference", "adaptive", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "compare.csv", keep_default_na=False, na_values=[""])
    assert set(table["reference"]) == {"adaptive"} and set(table["design"]) == {"fixed_equal"}
    text = (out / "compare.md").read_text()
    assert "Paired" in text and "## Truth: no_effect" in text and "`size_mean`" in text
    bad = CliRunner().invoke(main, ["compare", str(tmp_path / "r"), "--reference", "adaptiv"])
    assert bad.exit_code == 2 and "choose from fixed_equal, adaptive" in bad.output
    missing = CliRunner().invoke(main, ["compare", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no trials.nc" in missing.output


def test_a_subset_run_equals_the_full_run_and_pairs_with_it(tmp_path):
    scenario = subset(scenario_dict(), truths=["no_effect", "sham_anchored"])
    full = run_to_folder(scenario, tmp_path / "full", n_trials=30, seed=6).trials
    path = str(tmp_path / "s.yaml")
    import yaml

    with open(path, "w") as f:
        yaml.safe_dump(scenario.model_dump(mode="json"), f, sort_keys=False)
    args = ["run", path, "-n", "30", "--seed", "6", "--design", "adaptive", "--truth", "sham_anchored", "-q"]
    done = CliRunner().invoke(main, args + ["--out", str(tmp_path / "part")])
    assert done.exit_code == 0, done.output
    part = xr.load_dataset(tmp_path / "part" / "trials.nc", engine="h5netcdf")
    assert list(part["design"].values) == ["adaptive"] and list(part["truth"].values) == ["sham_anchored"]
    assert part.attrs["subset"] == "designs adaptive; truths sham_anchored"
    xr.testing.assert_equal(part.drop_vars("control_arm").to_array(),  # every variable, bit for bit
                                full.sel(design=["adaptive"], truth=["sham_anchored"]).drop_vars("control_arm").to_array())
    table = compare([("full", full), ("part", part)], reference="full/adaptive")
    mine = table[table["design"] == "part/adaptive"]
    assert len(mine) > 40 and table["paired"].all() and np.allclose(mine["difference"], 0)
    bad = CliRunner().invoke(main, args[:-1] + ["--truth", "optimistc", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "--truth: no truth 'optimistc'" in bad.output and not (tmp_path / "bad").exists()


def test_scenarios_that_share_their_patients_are_paired_per_truth():
    data = scenario_dict()
    base = subset(data, truths=["no_effect", "sham_anchored"], designs=["adaptive"])
    stricter = base.model_dump(mode="json")
    stricter["designs"]["adaptive"]["decisions"]["superiority"] = 0.995  # another design, the same patients
    stricter["truths"]["no_effect"]["arms"]["scs"]["nonspecific"] = -2.3  # another truth: other outcomes
    a = run(base, n_trials=N, seed=7).trials
    b = run(parse_scenario(stricter), n_trials=N, seed=7).trials
    table = compare([("base", a), ("stricter", b)], reference="base/adaptive").set_index(["truth", "metric"])
    assert table.loc["sham_anchored", "paired"].all() and not table.loc["no_effect", "paired"].any()
    # pairing pays: the same patients make the two designs' sample sizes move together
    row = table.loc[("sham_anchored", "size_mean")]
    unpaired = np.hypot(*(cell_per_trial(ds, "adaptive", "sham_anchored")["size_mean"].mcse for ds in (a, b)))
    assert row["mcse"] < 0.7 * unpaired
