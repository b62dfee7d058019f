"""Sweeps: each grid point equals a separate run bit for bit, grid points share their patients, bad --set
values are reported before anything runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr
from click.testing import CliRunner

from trialsim.api import run
from trialsim.plot import sweep_curve
from trialsim.cli import main
from trialsim.scenario import parse_scenario
from trialsim.sweep import parse_setting, smallest_meeting_targets, split_top_level, sweep

from .conftest import SCENARIOS, scenario_dict, subset

PATH = "designs.adaptive.looks.at_patients"
LOOKS = [[250, 500], [200, 300, 400, 500]]


def test_values_split_outside_brackets():
    assert split_top_level("[250,500],[200,300,400,500]") == ["[250,500]", "[200,300,400,500]"]
    assert parse_setting("a.b={threshold: 0.1, delta: 0.5},0.2").values == ({"threshold": 0.1, "delta": 0.5}, 0.2)


def test_a_sweep_over_looks_reproduces_separate_runs_bit_for_bit(tmp_path):
    base = subset(scenario_dict(), truths=["sham_anchored"])
    table = sweep(base, [parse_setting(f"{PATH}=" + ",".join(json.dumps(v) for v in LOOKS))], tmp_path,
                  n_trials=30, seed=8)
    stored = []
    for at in LOOKS:
        data = base.model_dump(mode="json")
        data["designs"]["adaptive"]["looks"]["at_patients"] = at
        separate = run(parse_scenario(data), n_trials=30, seed=8)
        point = table[table[PATH] == json.dumps(at)]
        assert list(point["metric"]) == list(separate.oc["metric"])
        np.testing.assert_array_equal(point["estimate"].to_numpy(float), separate.oc["estimate"].to_numpy(float))
        trials = xr.load_dataset(tmp_path / "points" / point["point"].iloc[0] / "trials.nc", engine="h5netcdf")
        xr.testing.assert_equal(trials.drop_vars("control_arm").to_array(),
                                separate.trials.drop_vars("control_arm").to_array())
        stored.append(trials)
    # the same maximum sample size: the same patients, so the design that was not swept is identical
    xr.testing.assert_equal(stored[0].sel(design="fixed_equal").to_array(), stored[1].sel(design="fixed_equal").to_array())
    assert not stored[0].sel(design="adaptive")["size"].equals(stored[1].sel(design="adaptive")["size"])
    curve = sweep_curve(table, PATH, "size_mean")  # one line per design, one point per look schedule
    ax = curve.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fixed_equal", "adaptive"]
    assert [len(c.lines[0].get_xdata()) for c in ax.containers] == [2, 2]


def test_bad_settings_are_reported_before_running(tmp_path):
    out = tmp_path / "sweep"
    file = str(SCENARIOS / "clbp_sham_multiarm.yaml")
    bad_path = CliRunner().invoke(main, ["sweep", file, "--set", "designs.adaptiv.looks.at_patients=[500]", "--out", str(out)])
    assert bad_path.exit_code == 2 and "no 'adaptiv' in designs (did you mean 'adaptive'?)" in bad_path.output
    bad_value = CliRunner().invoke(main, ["sweep", file, "--set", f"{PATH}=[300,200]", "--out", str(out)])
    assert bad_value.exit_code == 2 and "at_patients must increase strictly" in bad_value.output
    assert not out.exists()


def test_smallest_value_meeting_every_target():
    rows = []  # superiority threshold x target: fwer is met from 0.99 on, power up to 0.995
    for value, fwer, power in [(0.98, "missed", "met"), (0.99, "met", "met"), (0.995, "met", "uncertain"),
                               (0.999, "met", "missed")]:
        rows += [(json.dumps(value), "fwer", "a", fwer), (json.dumps(value), "power", "a", power),
                 (json.dumps(value), "fwer", "b", "missed"), (json.dumps(value), "power", "b", "met")]
    checks = pd.DataFrame(rows, columns=["x", "target", "design", "verdict"])
    found = smallest_meeting_targets(checks.iloc[::-1], "x")  # order of the rows does not matter
    assert found.to_dict("records") == [{"design": "a", "x": "0.99"}]  # b meets its targets nowhere
