"""Running at scale: chunk independence, resume after a kill, growing a result, Dask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr

from trialsim.api import OutputConflict, run_to_folder
from trialsim.api import plan_for
from trialsim.run.runner import simulate
from trialsim.scenario import load_scenario

from .conftest import SCENARIOS

ALT = SCENARIOS / "validation" / "adaptr_overview_alt.yaml"


def comparable(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    for volatile in ("created", "elapsed_seconds", "command"):  # how and when, not what
        ds.attrs.pop(volatile, None)
    return ds


def load(out: Path) -> xr.Dataset:
    return comparable(xr.load_dataset(out / "trials.nc", engine="h5netcdf"))


@pytest.fixture(scope="module")
def alt():
    return load_scenario(ALT)


def test_results_do_not_depend_on_chunking(alt):
    # allocation histories too: each trial's probabilities are computed on their own, bit for bit
    a = simulate(plan_for(alt, n_trials=300), chunk_size=7, keep_history=True)
    b = simulate(plan_for(alt, n_trials=300), chunk_size=250, keep_history=True)
    xr.testing.assert_identical(comparable(a), comparable(b))


def test_longitudinal_interims_do_not_depend_on_chunking():
    plan = plan_for(SCENARIOS / "clbp_longitudinal.yaml", n_trials=60).restricted(truths=["industry"])
    a, b = simulate(plan, chunk_size=7, keep_history=True), simulate(plan, chunk_size=60, keep_history=True)
    xr.testing.assert_identical(comparable(a), comparable(b))


def test_grown_run_equals_a_run_of_the_final_size(alt, tmp_path):
    run_to_folder(alt, tmp_path / "grown", n_trials=300, seed=5)
    run_to_folder(alt, tmp_path / "grown", n_trials=600, seed=5, resume=True)
    run_to_folder(alt, tmp_path / "fresh", n_trials=600, seed=5)
    xr.testing.assert_identical(load(tmp_path / "grown"), load(tmp_path / "fresh"))
    assert (tmp_path / "grown" / "oc.csv").read_bytes() == (tmp_path / "fresh" / "oc.csv").read_bytes()


def test_other_seed_is_refused_unless_overwrite(alt, tmp_path):
    run_to_folder(alt, tmp_path, n_trials=50, seed=1)
    before = (tmp_path / "oc.csv").read_bytes()
    with pytest.raises(OutputConflict, match="another run"):
        run_to_folder(alt, tmp_path, n_trials=50, seed=2)
    assert (tmp_path / "oc.csv").read_bytes() == before
    run_to_folder(alt, tmp_path, n_trials=50, seed=2, overwrite=True)
    assert load(tmp_path).attrs["seed"] == "2"


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    cli = [sys.executable, "-m", "trialsim.cli", "run", str(ALT), "-n", "6000", "--seed", "9", "-q"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(cli + ["--out", str(killed)], start_new_session=True)
    chunks = killed / ".chunks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(chunks.glob("chunk_*.npz"))) < 2:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = len(list(chunks.glob("chunk_*.npz")))
    assert 2 <= saved < 24, "the run must be interrupted midway for this test to mean anything"
    assert not (killed / "trials.nc").exists()
    assert not list(chunks.glob("*.tmp")) or all(p.name.startswith(".") for p in chunks.glob("*.tmp"))
    subprocess.run(cli + ["--out", str(killed), "--resume"], check=True)
    subprocess.run(cli + ["--out", str(tmp_path / "whole")], check=True)
    xr.testing.assert_identical(load(killed), load(tmp_path / "whole"))
    assert (killed / "oc.csv").read_bytes() == (tmp_path / "whole" / "oc.csv").read_bytes()


def test_dask_cluster_equals_local_processes(alt, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = subprocess.run([sys.executable, "-m", "trialsim.cli", "run", str(ALT), "-n", "800", "--seed", "4", "-q",
                                 "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / "dask")],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    local = simulate(plan_for(alt, n_trials=800, seed=4), workers=2)
    dask_ds = load(tmp_path / "dask")
    xr.testing.assert_identical(dask_ds.drop_attrs(), comparable(local).drop_attrs())
    assert dask_ds.attrs["scenario_hash"] == local.attrs["scenario_hash"]


def test_unreachable_scheduler_is_bad_input(tmp_path):
    result = subprocess.run([sys.executable, "-m", "trialsim.cli", "run", str(ALT), "-n", "10", "-q",
                             "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "x")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "--scheduler: cannot reach" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()
