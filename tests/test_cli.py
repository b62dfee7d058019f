"""The command line: success paths and every kind of bad input (exit 2, no traceback, nothing written)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
import yaml
from click.testing import CliRunner

from trialsim.cli import main

from .conftest import SCENARIOS, scenario_dict

CLBP = str(SCENARIOS / "clbp_sham_multiarm.yaml")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_bad_input(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_validate_bundled_files():
    files = [CLBP, *map(str, sorted((SCENARIOS / "validation").glob("*.yaml")))]
    result = invoke("validate", *files)
    assert result.exit_code == 0, result.output
    assert result.output.count(": valid") == len(files)


def test_describe_in_plain_words():
    result = invoke("describe", CLBP)
    assert result.exit_code == 0, result.output
    # words follow the endpoint's direction: lower NRS change is better
    assert "each arm vs control 'sham': effective if Pr(arm - control < 0 NRS points) > 0.975" in result.output
    assert "sham_anchored: sham -2.2, scs -2.85" in result.output  # visit model (scenario .patients)


@pytest.mark.parametrize("command", ["validate", "describe", "run"])
def test_missing_file(tmp_path, command):
    out = tmp_path / "out"
    args = [command, str(tmp_path / "nope.yaml")] + (["--out", str(out)] if command == "run" else [])
    assert_bad_input(invoke(*args), "nope.yaml: no such file")
    assert not out.exists()


def test_not_yaml(tmp_path):
    path = write(tmp_path, "name: [unclosed\narms: {")
    assert_bad_input(invoke("validate", path), "not valid YAML: line")


def test_not_a_mapping(tmp_path):
    assert_bad_input(invoke("validate", write(tmp_path, "- just\n- a list\n")), "must hold a YAML mapping")


def test_binary_file(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81")
    assert_bad_input(invoke("validate", str(path)), "not a text file")


def test_wrong_types_unknown_keys_impossible_values(tmp_path):
    data = scenario_dict()
    data["simulation"]["n_trials"] = "many"
    data["logistics"]["accrual"]["per_wek"] = 3
    data["arms"][1]["screening_pass"] = -0.1
    path = write(tmp_path, yaml.safe_dump(data))
    result = invoke("run", path, "--out", str(tmp_path / "out"))
    assert_bad_input(result, "simulation.n_trials:", "logistics.accrual.per_wek: unknown key 'per_wek' (did you mean 'per_week'?)",
                     "arms[1].screening_pass:")
    assert len([line for line in result.output.splitlines() if line.strip()]) == 3
    assert not (tmp_path / "out").exists()


def test_bad_option_values(tmp_path):
    assert invoke("run", CLBP, "-n", "0", "--out", str(tmp_path / "o")).exit_code == 2
    assert invoke("run", CLBP, "--workers", "zero").exit_code == 2
    assert invoke("run", CLBP, "--engine", "stan").exit_code == 2
    assert not (tmp_path / "o").exists()


def test_out_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert_bad_input(invoke("run", CLBP, "-n", "5", "--out", str(target)), "is a file")
    assert target.read_text() == "keep me"


def _read(out: Path) -> tuple[pd.DataFrame, xr.Dataset]:
    ds = xr.load_dataset(out / "trials.nc", engine="h5netcdf")
    for volatile in ("created", "elapsed_seconds"):
        ds.attrs.pop(volatile)
    return pd.read_csv(out / "oc.csv"), ds


def test_same_seed_same_results_for_1_and_2_workers(tmp_path):
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        result = invoke("run", CLBP, "-n", "60", "--seed", "7", "-w", workers, "--out", str(out), "-q")
        assert result.exit_code == 0, result.output
        outs.append(out)
    (oc1, ds1), (oc2, ds2) = _read(outs[0]), _read(outs[1])
    assert (outs[0] / "oc.csv").read_bytes() == (outs[1] / "oc.csv").read_bytes()
    xr.testing.assert_identical(ds1, ds2)
    assert set(oc1.columns) == {"design", "truth", "metric", "estimate", "mcse"}
    assert ds1.attrs["seed"] == "7" and "scenario_json" in ds1.attrs
    assert (outs[0] / "oc.md").read_text().startswith("# Operating characteristics")


def test_other_seed_other_results(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    invoke("run", CLBP, "-n", "30", "--seed", "1", "--out", str(a), "-q")
    invoke("run", CLBP, "-n", "30", "--seed", "2", "--out", str(b), "-q")
    assert (a / "oc.csv").read_bytes() != (b / "oc.csv").read_bytes()


def test_trace_matches_the_full_run(tmp_path):
    result = invoke("trace", CLBP, "--design", "adaptive", "--truth", "sham_anchored", "--trial", "3", "--seed", "11",
                    "--out", str(tmp_path / "trace"))
    assert result.exit_code == 0, result.output
    assert "Look 1: 200 patients with the endpoint" in result.output
    # arms that left the trial are named as such, not given Pr(best) 0
    dropped = [line for line in result.output.splitlines() if line.endswith("futile (dropped)")]
    assert dropped and all(line.split()[3] == "dropped" for line in dropped)
    looks = sorted((tmp_path / "trace").glob("look_*.nc"))
    assert looks and len(looks) == result.output.count("\nLook ")
    import arviz as az

    posterior = az.from_netcdf(looks[0]).posterior
    assert list(posterior["arm"].values) == ["sham", "scs", "dbs", "rtms", "exercise"]
    # the traced trial is trial 3 of a full run with the same seed
    out = tmp_path / "run"
    invoke("run", CLBP, "-n", "5", "--seed", "11", "--out", str(out), "-q")
    ds = xr.load_dataset(out / "trials.nc", engine="h5netcdf")
    size = int(ds["size"].sel(design="adaptive", truth="sham_anchored", trial=3))
    assert f"Final analysis with {size} randomised" in result.output


def test_trace_of_a_crossover_shows_each_look_and_matches_the_full_run(tmp_path):
    data = scenario_dict("clbp_crossover.yaml")
    data["designs"] = {"ab_ba": data["designs"]["ab_ba"]}  # not the slow PyMC N-of-1 design
    crossover = str(tmp_path / "crossover.yaml")
    Path(crossover).write_text(yaml.safe_dump(data))
    result = invoke("trace", crossover, "--design", "ab_ba", "--truth", "sham_anchored", "--trial", "2",
                    "--seed", "5", "--out", str(tmp_path / "trace"))
    assert result.exit_code == 0, result.output
    looks = result.output.count("\nLook ")
    assert looks >= 1 and len(list((tmp_path / "trace").glob("look_*.nc"))) == looks
    rows = [line.split() for line in result.output.splitlines() if line.startswith(("  sham ", "  scs "))]
    assert len(rows) == 2 * looks and all(r[1] == rows[0][1] for r in rows[:2])  # both arms: the same patients
    # arms outside the crossover are shown as excluded, not as dropped
    assert all(line.endswith("excluded") for line in result.output.splitlines() if line.startswith("  dbs_open "))
    out = tmp_path / "run"
    invoke("run", crossover, "-n", "3", "--seed", "5", "--out", str(out), "-q")
    ds = xr.load_dataset(out / "trials.nc", engine="h5netcdf")
    size = int(ds["size"].sel(design="ab_ba", truth="sham_anchored", trial=2))
    assert f"Final analysis with {size} randomised" in result.output


def test_trace_unknown_design_is_bad_input():
    assert_bad_input(invoke("trace", CLBP, "--design", "adaptiv", "--truth", "no_effect"), "did you mean 'adaptive'?")


def test_an_override_a_design_cannot_take_is_bad_input(tmp_path):
    out = tmp_path / "out"
    result = invoke("run", str(SCENARIOS / "clbp_enrichment.yaml"), "--engine", "exact", "--out", str(out))
    assert_bad_input(result, "--engine exact: designs.hierarchical.analysis.prior: preset 'vague' belongs to engine 'pymc'")
    assert not out.exists()
