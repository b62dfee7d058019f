"""Compiled kernels (trialsim/kernels.py): ahead of time when built, numba's JIT otherwise, the same results;
the run path of the exact engine imports neither numba nor the scipy.special package before its first trial."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from trialsim import kernels, rng
from trialsim.ufuncs import special

from .conftest import ROOT, SCENARIOS

ENV = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
aot = pytest.mark.skipif(kernels.library().module is None, reason=f"kernels: {kernels.status()}")


def _python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], env=ENV | env, capture_output=True, cwd=ROOT,
                          check=True)


# Simulates one chunk per scenario in turn; pickles the records and, after each, the heavy modules imported
FIRST_CHUNK = r"""
import pickle, sys
from trialsim import kernels
from trialsim.api import plan_for
from trialsim.run.runner import RunSettings, simulate_chunk
records, heavy = [], []
for path, n in zip(sys.argv[1::2], map(int, sys.argv[2::2])):
    records.append(simulate_chunk(plan_for(path, n_trials=n, seed=7), RunSettings(), 0, n).arrays)
    heavy.append(sorted(m for m in ("numba", "scipy.special", "scipy.stats", "xarray", "pandas") if m in sys.modules))
sys.stdout.buffer.write(pickle.dumps((kernels.status(), heavy, records)))
"""
CASES = [str(SCENARIOS / "validation/adaptr_overview_alt.yaml"), "200", str(SCENARIOS / "clbp_sham_multiarm.yaml"), "30"]


@aot
def test_the_exact_engine_runs_without_numba_and_equals_the_jit_bit_for_bit():
    status, heavy, records = pickle.loads(_python(FIRST_CHUNK, *CASES).stdout)
    assert status.startswith("ahead of time")
    # adaptr's Overview design needs neither numba, the scipy.special package, xarray nor pandas (the CLBP
    # scenario's visit model then runs under the JIT)
    assert heavy[0] == []
    status, heavy, jit = pickle.loads(_python(FIRST_CHUNK, *CASES, TRIALSIM_JIT="1").stdout)
    assert status.startswith("numba JIT") and "numba" in heavy[0]
    for ahead, by_jit in zip(records, jit):
        assert ahead.keys() == by_jit.keys()
        for name in ahead:
            np.testing.assert_array_equal(ahead[name], by_jit[name], err_msg=name)


@aot
def test_the_cli_runs_ahead_of_time_without_notes(tmp_path):
    out = subprocess.run([sys.executable, "-m", "trialsim.cli", "run", str(SCENARIOS / "clbp_sham_multiarm.yaml"),
                          "-n", "20", "--out", str(tmp_path)], env=ENV, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "note:" not in out.stderr and "ahead-of-time" not in out.stderr  # no JIT, no argument mismatch
    version = _python("from trialsim.cli import main; main(['--version'])").stdout.decode()
    assert "compiled kernels: ahead of time" in version


def test_without_the_module_the_jit_is_used_and_says_so(tmp_path):
    code = "from trialsim.cli import main; main(['--version'])"
    version = _python(code, TRIALSIM_KERNEL_DIR=str(tmp_path)).stdout.decode()
    assert "compiled kernels: numba JIT: not built for this source" in version
    out = subprocess.run([sys.executable, "-m", "trialsim.cli", "run", str(SCENARIOS / "validation/adaptr_readme.yaml"),
                          "-n", "2", "--out", str(tmp_path / "out")], env=ENV | {"TRIALSIM_JIT": "1"},
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "note: compiled kernels run under numba JIT: TRIALSIM_JIT=1" in out.stderr


@aot
def test_arguments_no_signature_takes_run_under_the_jit_with_a_note(capsys):
    key, trials = rng.stream_key(3, rng.Stream.COHORT), np.arange(5)
    expected = rng._block(key, trials, 0, 4, 0, False)  # the exported signature: int64 trials
    assert not capsys.readouterr().err
    got = rng._block(key, trials.astype(np.int32), 0, 4, 0, False)
    assert "no ahead-of-time kernel trialsim.rng._block for arguments (uint32[1d], int32[1d]" in capsys.readouterr().err
    np.testing.assert_array_equal(got, expected)


def test_argument_matching_follows_numba_types():
    array = ["array", "<f8", 2, "C", True]
    assert kernels._fits(array, np.zeros((2, 3)))
    assert not kernels._fits(array, np.zeros((2, 3), np.float32))
    assert not kernels._fits(array, np.zeros(3))
    assert not kernels._fits(array, np.zeros((3, 2)).T)  # not C-contiguous
    assert not kernels._fits(array, np.broadcast_to(np.zeros(3), (2, 3)))  # read-only
    assert kernels._fits(["array", "<f8", 2, "A", False], np.broadcast_to(np.zeros(3), (2, 3)))
    assert kernels._fits(["scalar", "<i8"], 3) and not kernels._fits(["scalar", "<i8"], 3.0)
    assert kernels._fits(["scalar", "|b1"], True) and not kernels._fits(["scalar", "<i8"], True)
    assert kernels._fits(["scalar", "<f8"], np.float64(1)) and not kernels._fits(["scalar", "<f8"], np.float32(1))


def test_the_ufuncs_are_scipy_specials_own_and_leave_the_package_importable():
    code = r"""
import sys
from trialsim.ufuncs import special
assert "scipy.special" not in sys.modules
import scipy.special, scipy.stats
assert all(getattr(special, f) is getattr(scipy.special, f) for f in ("betaln", "betaincinv", "ndtr", "stdtrit"))
print(scipy.stats.norm.cdf(1.0) == scipy.special.ndtr(1.0))
"""
    assert _python(code).stdout.decode().strip() == "True"
    assert special.ndtr(0.0) == 0.5
