"""Shared fixtures: small scenarios built in code from the bundled files."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import settings

# Property tests explore the same examples on every run: CI results do not depend on luck
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci")

from trialsim import kernels
from trialsim.scenario import Scenario, load_scenario, parse_scenario

# The suite runs the kernels as users do: ahead of time (built once per source, ~25 s; trialsim/kernels.py).
# A machine that cannot build them (no C compiler) runs the suite under numba's JIT, says so in the
# warnings summary, and skips the tests of the ahead-of-time module.
try:
    kernels.ensure_built()
except subprocess.CalledProcessError as err:
    warnings.warn(f"compiled kernels could not be built ahead of time ({err}); the suite runs under numba's JIT",
                  stacklevel=1)

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="session")
def clbp() -> Scenario:
    return load_scenario(SCENARIOS / "clbp_sham_multiarm.yaml")


def scenario_dict(name: str = "clbp_sham_multiarm.yaml") -> dict:
    return yaml.safe_load((SCENARIOS / name).read_text())


def subset(data: dict, truths: list[str] | None = None, designs: list[str] | None = None) -> Scenario:
    """A bundled scenario restricted to some truths and designs."""
    data = dict(data)
    if truths:
        data["truths"] = {k: v for k, v in data["truths"].items() if k in truths}
    if designs:
        data["designs"] = {k: v for k, v in data["designs"].items() if k in designs}
    data["targets"] = {k: t for k, t in (data.get("targets") or {}).items() if _applies(t, data)}
    return parse_scenario(data)


def _applies(target: dict, data: dict) -> bool:
    """A target whose truths and designs are all still in the scenario."""
    truths = [target["truth"]] if isinstance(target["truth"], str) else target["truth"]
    return set(truths) <= set(data["truths"]) and set(target.get("designs") or []) <= set(data["designs"])


def _numpy_has_own_simd_math() -> bool:
    """Whether numpy computes float64 exp/log with its own AVX-512 code rather than the C maths library
    (the compiled kernels call the latter, so bit-for-bit comparisons with array code hold only without it)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        return False
    return bool(__cpu_features__.get("AVX512F"))


NUMPY_OWN_SIMD_MATH = _numpy_has_own_simd_math()


def assert_same_as_array_code(got: np.ndarray, ref: np.ndarray, name: str = "") -> None:
    """A compiled kernel's output equals the array code's: bit for bit where both call the C maths library;
    on AVX-512 machines (numpy's own exp/log), floats to 1e-12 and at most 0.1% of discrete values."""
    if not NUMPY_OWN_SIMD_MATH:
        np.testing.assert_array_equal(got, ref, err_msg=name)
    elif np.issubdtype(np.asarray(ref).dtype, np.floating) and not np.array_equal(np.rint(ref), ref):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12, err_msg=name)
    else:  # integer scores, booleans: a value next to a rounding or dropout threshold may flip
        assert np.mean(np.asarray(got) != np.asarray(ref)) <= 1e-3, name
