"""Every bad input a clear error (issue 9): one line per problem, exit code 2, no traceback, nothing written.

The corpus (benchmarks/bad_input_census.py) covers each group of the issue; a property test
mutates the bundled scenarios and checks `validate` and `run` keep the promise for whatever it makes.
"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bad_input_census import CASES, SCENARIOS, Case, try_case
from trialsim.cli import main
from trialsim.io import inside

PROBLEM_LINE = r"^(\S+|--[a-z-]+): \S"  # FILE: problem, or --option: problem


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group[0]}-{c.label}" for c in CASES])
def test_bad_input_is_one_clear_line_and_nothing_written(case: Case, tmp_path):
    outcome = try_case(case, tmp_path)
    assert outcome.exit_code == 2, outcome.output
    assert not outcome.traceback, outcome.output
    assert outcome.written == [], outcome.written
    assert case.expect in outcome.output, outcome.output
    assert len(outcome.problem_lines) == case.lines, outcome.output
    for line in outcome.problem_lines:
        assert ": " in line and not line.startswith(("Usage", "Error", "Try ")), line
        assert len(line) < 400, line[:100]  # long values are cut
        assert "constrained-" not in line and "<number>" not in line and "function-after" not in line, line


def test_read_only_output_folder(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = CliRunner().invoke(main, ["run", str(SCENARIOS / "clbp_sham_multiarm.yaml"), "-n", "2",
                                           "--out", str(locked / "out")])
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2 and "not writable" in result.output
    assert not (locked / "out").exists()


def test_overwrite_replaces_a_damaged_folder(tmp_path):
    """The refusal says what to do; doing it works."""
    out = tmp_path / "out"
    args = ["run", str(SCENARIOS / "clbp_sham_multiarm.yaml"), "-n", "2", "-q", "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    (out / ".chunks" / "manifest.json").write_text("{")
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert CliRunner().invoke(main, [*args, "--overwrite"]).exit_code == 0
    assert (out / "oc.csv").is_file()


def test_workers_are_capped_at_the_number_of_chunks(monkeypatch):
    """-w 1000 for one chunk starts no process; for three chunks at most three."""
    import concurrent.futures

    from trialsim.api import plan_for
    from trialsim.run import runner

    started = []

    class Pool(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, max_workers: int):
            started.append(max_workers)
            super().__init__(max_workers=1)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Pool)  # the runner imports it when needed
    scenario = SCENARIOS / "validation" / "adaptr_readme.yaml"
    runner.simulate(plan_for(scenario, n_trials=2, seed=1), workers=1000)
    assert started == []
    runner.simulate(plan_for(scenario, n_trials=6, seed=1), workers=1000, chunk_size=2)
    assert started == [3]


def test_output_paths_built_from_names_stay_inside():
    assert inside(Path("results"), "clbp", "trace_a_b_0") == Path("results/clbp/trace_a_b_0")
    for name in ("..", ".", "", "a/b", "../x", "/etc"):
        with pytest.raises(ValueError):
            inside(Path("results"), name)


def test_tiny_sds_find_the_effective_arm(tmp_path):
    """The issue's end-to-end case: sd 1e-6 and an arm 1 NRS better than sham is effective in every trial."""
    from trialsim.api import run
    from trialsim.scenario import parse_scenario

    data = yaml.safe_load((SCENARIOS / "clbp_sham_multiarm.yaml").read_text())
    arms = {a["name"]: {"nonspecific": -2.2} for a in data["arms"]}
    arms["scs"] = {"nonspecific": -3.2}
    data["truths"] = {"tiny_sd": {"sd": 1e-6, "arms": arms}}
    data["designs"] = {"fixed_equal": data["designs"]["fixed_equal"]}
    data.pop("targets", None)  # they name the bundled truths
    oc = run(parse_scenario(data), n_trials=20, seed=3).oc.set_index("metric")["estimate"]
    assert oc["prob_effective_scs"] == 1.0
    assert oc["prob_effective_dbs"] < 0.5


# -- mutating the bundled scenarios ------------------------------------------------------------

ODD_VALUES = [float("nan"), float("inf"), -float("inf"), "nan", True, False, None, -1, 0, 1.5, 1e300, 10**12, "",
              "x" * 300, [], {}, "..", "null", [1, 2], {"a": 1}, -0.5, "1e3"]
ODD_NAMES = ["..", ".", "NA", "null", "", "a b", "x" * 100, 12, None, "ok_name"]


def _nodes(data, path=()):
    """Every (path, value) in a parsed YAML document."""
    yield path, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        yield from _nodes(value, (*path, key))


def _parent(data, path):
    node = data
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_scenarios(draw) -> str:
    """YAML text of a bundled scenario with one to three mutations."""
    base = draw(st.sampled_from(["clbp_sham_multiarm.yaml", "validation/adaptr_readme.yaml"]))
    data = yaml.safe_load((SCENARIOS / base).read_text())
    duplicate = None
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in _nodes(data) if p]
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        action = draw(st.sampled_from(["value", "value", "delete", "unknown", "rename", "duplicate"]))
        if action == "value":
            parent[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        elif action == "delete":
            del parent[key]
        elif action == "unknown" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "sd_", "arm"]))] = 1
        elif action == "rename" and isinstance(parent, dict):
            new = draw(st.sampled_from(ODD_NAMES))
            parent.update({new: parent.pop(key)})
        elif action == "duplicate" and isinstance(parent, dict) and isinstance(key, str):
            duplicate = key
    text = yaml.safe_dump(data, sort_keys=False)
    if duplicate is not None:  # a key given twice: repeat its first line
        lines = text.splitlines()
        at = next((i for i, line in enumerate(lines) if line.lstrip().startswith(f"{duplicate}:")), None)
        if at is not None:  # "key: value" twice, or "key:" (null) then "key:" with its block
            lines.insert(at, lines[at])
        text = "\n".join(lines) + "\n"
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(mutated_scenarios())
def test_mutated_scenarios_succeed_or_fail_cleanly(tmp_path, text):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # a fresh folder per example (examples may repeat)
    path = folder / "s.yaml"
    path.write_text(text)
    out = folder / "out"
    for args in (["validate", str(path)], ["run", str(path), "-n", "2", "-q", "--out", str(out)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code in (0, 2), (args[0], result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert not out.exists()
            assert all(": " in line for line in result.output.splitlines() if line.strip())
    assert {p.name for p in folder.iterdir()} <= {"s.yaml", "out"}
