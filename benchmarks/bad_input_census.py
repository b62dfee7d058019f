"""A census of bad input (issue 9): every case through the CLI, counted per group.

    python benchmarks/bad_input_census.py

For each group of bad inputs: how many were tried, how many ended with exit
code 2, how many printed a traceback (or raised anything but the clean exit)
and how many wrote, changed or removed a file. The promise is exit 2 for all,
no tracebacks, nothing written. tests/test_bad_input.py runs the same corpus.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from trialsim.cli import main

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
CLBP = "clbp_sham_multiarm.yaml"
SMART, ONE_WAY = "clbp_smart.yaml", "clbp_one_way_crossover.yaml"  # design families (issue 14)
README = "validation/adaptr_readme.yaml"


@dataclass(frozen=True)
class Case:
    """One bad input: `setup(tmp)` writes what it needs into an empty folder and returns the CLI arguments."""

    group: str
    label: str
    setup: Callable[[Path], list[str]]
    expect: str  # a fragment the message must hold
    lines: int = 1  # problems expected (one line each)


@dataclass
class Outcome:
    exit_code: int
    traceback: bool
    written: list[str]
    output: str
    problem_lines: list[str] = field(default_factory=list)


# -- building inputs ---------------------------------------------------------------------------

def bundled(name: str = CLBP) -> dict:
    return yaml.safe_load((SCENARIOS / name).read_text())


def mutated(mutate: Callable[[dict], Any], base: str = CLBP) -> Callable[[Path], str]:
    """A scenario file: the bundled one changed by `mutate`, written to tmp/s.yaml."""
    def make(tmp: Path) -> str:
        data = copy.deepcopy(bundled(base))
        mutate(data)
        path = tmp / "s.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return str(path)
    return make


def text(content: Callable[[], str]) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        path = tmp / "s.yaml"
        path.write_text(content())
        return str(path)
    return make


def bundled_text(base: str = CLBP) -> str:
    return (SCENARIOS / base).read_text()


def setting(*path_and_value: Any) -> Callable[[dict], None]:
    """A mutation setting data[p0][p1]... = value."""
    *path, value = path_and_value

    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def renaming(*path_and_names: Any) -> Callable[[dict], None]:
    """A mutation renaming key `old` to `new` in the mapping at path (order kept)."""
    *path, old, new = path_and_names

    def mutate(data: dict) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = {new if k == old else k: v for k, v in node[path[-1]].items()}
    return mutate


def run_args(make: Callable[[Path], str], *extra: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["run", make(tmp), "-n", "2", "-q", "--out", str(tmp / "out"), *extra]


def validate_args(make: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    return lambda tmp: ["validate", make(tmp)]


def earlier_run(tmp: Path, damage: Callable[[Path], None], *extra: str) -> list[str]:
    """A finished run in tmp/out, then damaged; the same run again."""
    args = ["run", str(SCENARIOS / CLBP), "-n", "2", "-q", "--out", str(tmp / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    damage(tmp / "out")
    return [*args, *extra]


def out_at_file(tmp: Path, *parts: str) -> list[str]:
    """A run whose --out is tmp/file (a file the user has) or lies below it."""
    (tmp / "file").write_text("keep")
    return ["run", str(SCENARIOS / CLBP), "-n", "2", "--out", str(tmp.joinpath(*parts))]


def numbers(label: str, expect: str, *path_and_value: Any, base: str = CLBP) -> Case:
    return Case("1 numbers", label, run_args(mutated(setting(*path_and_value), base)), expect)


NAN, INF = float("nan"), float("inf")
BIG_DIGITS = "9" * 5000

CASES: list[Case] = [
    # 1. non-finite numbers, booleans as numbers, values outside their scale
    numbers("sd .nan", "finite number", "truths", "sham_anchored", "sd", NAN),
    numbers("effect .inf", "finite number", "truths", "optimistic", "arms", "scs", "nonspecific", INF),
    numbers("superiority 'nan' text", "must be a probability", "designs", "adaptive", "decisions", "superiority", "nan"),
    numbers("accrual .nan", "finite number", "logistics", "accrual", "per_week", NAN),
    numbers("endpoint weeks .inf", "finite number", "logistics", "endpoint_weeks", INF),
    numbers("delta -.inf", "finite number", "designs", "adaptive", "decisions", "superiority_delta", -INF),
    numbers("futility delta .nan", "finite number", "designs", "adaptive", "decisions", "futility", "delta", NAN),
    numbers("allocation power .inf", "finite number", "designs", "adaptive", "allocation", "power", INF),
    numbers("allocation power true", "must be a valid number", "designs", "adaptive", "allocation", "power", True),
    numbers("phenotype prevalence .nan", "finite number", "population", "phenotypes", "nociceptive", "prevalence", NAN),
    numbers("NRS mean 100 in 0-10", "must lie between", "population", "baseline_nrs",
            {"mean": 100, "sd": 1.2, "min": 0, "max": 10}),
    numbers("NRS -50..50", "NRS scale runs from 0 to 10", "population", "baseline_nrs",
            {"mean": 5, "sd": 1.2, "min": -50, "max": 50}),
    numbers("ODI max 150", "ODI scale runs from 0 to 100", "population", "baseline_odi",
            {"mean": 50, "sd": 12, "min": 0, "max": 150}),
    numbers("dropout 1.0", "less than 1", "logistics", "dropout", 1.0),
    numbers("dropout true", "must be a valid number", "logistics", "dropout", True),
    numbers("n_trials true", "must be a valid integer", "simulation", "n_trials", True),
    numbers("n_trials 5.5", "must be a valid integer", "simulation", "n_trials", 5.5),
    numbers("NRS change 20", "less than or equal to 10", "truths", "optimistic", "arms", "scs", "specific", 20.0),
    numbers("seed 2^70", "less than 9223372036854775808", "simulation", "seed", 2**70),
    numbers("binary rate .nan", "finite number", "truths", "readme", "arms", "A", "rate", NAN, base=README),
    numbers("equivalence margin .inf", "finite number", "designs", "readme", "decisions", "equivalence", "margin", INF,
            base=README),

    # 2. cross-field rules
    Case("2 rules", "inferiority above superiority",
         run_args(mutated(setting("designs", "adaptive", "decisions", "inferiority", 0.995))), "must be below superiority"),
    Case("2 rules", "inferiority per look clashes",
         run_args(mutated(setting("designs", "adaptive", "decisions", "inferiority", [0.01, 0.01, 0.999, 0.01]))),
         "at look 3"),
    Case("2 rules", "futility threshold above superiority",
         run_args(mutated(setting("designs", "adaptive", "decisions", "futility", {"threshold": 0.995}))),
         "futility threshold (0.995) must be below superiority"),
    Case("2 rules", "selection control without a control",
         run_args(mutated(setting("designs", "readme", "decisions", "selection", "control"), README)),
         "strategy 'control' needs a control"),
    Case("2 rules", "longitudinal itp with the frequentist engine",
         run_args(mutated(setting("designs", "adaptive_itp", "analysis", {"longitudinal": "itp", "engine": "frequentist"}),
                          "clbp_longitudinal.yaml")), "not the frequentist one", lines=2),  # and its boundaries
    Case("2 rules", "longitudinal model unknown",
         run_args(mutated(setting("designs", "adaptive_mvn", "analysis", "longitudinal", "mmrm"),
                          "clbp_longitudinal.yaml")), "'itp'"),

    # 3. sizes that cannot fit
    Case("3 sizes", "at_patients 10^12",
         run_args(mutated(setting("designs", "fixed_equal", "looks", "at_patients", [10**12]))), "may need about"),
    Case("3 sizes", "n_trials 10^12 in the file",
         lambda tmp: ["run", mutated(setting("simulation", "n_trials", 10**12))(tmp), "-q", "--out", str(tmp / "out")],
         "may need about"),
    Case("3 sizes", "-n 1000000000",
         lambda tmp: ["run", str(SCENARIOS / CLBP), "-n", "1000000000", "--out", str(tmp / "out")], "may need about"),
    Case("3 sizes", "trace with 10^12 patients",
         lambda tmp: ["trace", mutated(setting("designs", "fixed_equal", "looks", "at_patients", [10**12]))(tmp),
                      "--design", "fixed_equal", "--truth", "no_effect", "--out", str(tmp / "trace")], "may need about"),

    # 4. names
    Case("4 names", "scenario name '..'", run_args(mutated(setting("name", ".."))), "may hold only letters"),
    Case("4 names", "scenario name '.'", run_args(mutated(setting("name", "."))), "may hold only letters"),
    Case("4 names", "scenario name with a slash", run_args(mutated(setting("name", "a/../../b"))), "may hold only"),
    Case("4 names", "300-character name", run_args(mutated(setting("name", "x" * 300))), "use at most 64"),
    Case("4 names", "truth named null", run_args(mutated(renaming("truths", "no_effect", "null"))), "missing value"),
    Case("4 names", "truth named NaN", run_args(mutated(renaming("truths", "no_effect", "NaN"))), "missing value"),
    Case("4 names", "arm named NA",
         run_args(mutated(lambda d: d["arms"][4].__setitem__("name", "NA"))), "missing value"),
    Case("4 names", "design named None", run_args(mutated(renaming("designs", "adaptive", "None"))), "missing value"),
    Case("4 names", "design named ''", run_args(mutated(renaming("designs", "adaptive", ""))), "cannot be empty"),
    Case("4 names", "phenotype named nan",
         run_args(mutated(renaming("population", "phenotypes", "inflammatory", "nan"))), "missing value"),
    Case("4 names", "design name with a path", run_args(mutated(renaming("designs", "adaptive", "../../x"))),
         "may hold only"),
    Case("4 names", "trace --design ../../../tmp/x",
         lambda tmp: ["trace", str(SCENARIOS / CLBP), "--design", "../../../tmp/x", "--truth", "no_effect"],
         "--design: no design"),
    Case("4 names", "trace --truth ..",
         lambda tmp: ["trace", str(SCENARIOS / CLBP), "--design", "adaptive", "--truth", ".."], "--truth: no truth"),

    # 5. what used to end in a traceback
    Case("5 tracebacks", "arms: []", run_args(mutated(setting("arms", []))), "at least 2 arms"),
    Case("5 tracebacks", "500 nested brackets", run_args(text(lambda: "name: " + "[" * 500 + "]" * 500 + "\n")),
         "nested too deeply"),
    Case("5 tracebacks", "5000-digit seed",
         run_args(text(lambda: re.sub(r"seed: \d+", f"seed: {BIG_DIGITS}", bundled_text()))), "5000 digits"),
    Case("5 tracebacks", "--seed with 5000 digits",
         lambda tmp: ["run", str(SCENARIOS / CLBP), "--seed", BIG_DIGITS, "--out", str(tmp / "out")], "--seed:"),
    Case("5 tracebacks", "--out below a file", lambda tmp: out_at_file(tmp, "file", "out"), "is a file"),
    Case("5 tracebacks", "--out is a file", lambda tmp: out_at_file(tmp, "file"), "is a file"),
    Case("5 tracebacks", "--out under /proc",
         lambda tmp: ["run", str(SCENARIOS / CLBP), "-n", "2", "--out", "/proc/trialsim_census/out"], "--out: "),
    Case("5 tracebacks", "manifest not JSON",
         lambda tmp: earlier_run(tmp, lambda out: (out / ".chunks" / "manifest.json").write_text("{not json")),
         "damaged or incomplete"),
    Case("5 tracebacks", "manifest incomplete",
         lambda tmp: earlier_run(tmp, lambda out: (out / ".chunks" / "manifest.json").write_text('{"seed": 1}')),
         "damaged or incomplete"),
    Case("5 tracebacks", "trials.nc not netCDF",
         lambda tmp: earlier_run(tmp, lambda out: [(out / ".chunks" / "manifest.json").unlink(),
                                                   (out / "trials.nc").write_text("not netcdf")]),
         "not a trialsim result"),
    Case("5 tracebacks", "corrupt chunk with --resume",
         lambda tmp: earlier_run(tmp, lambda out: next((out / ".chunks").glob("chunk_*.npz")).write_bytes(b"PK\x03\x04bad"),
                                 "--resume"), "damaged"),
    Case("5 tracebacks", "--scheduler bogus",
         lambda tmp: ["run", str(SCENARIOS / CLBP), "-n", "2", "--scheduler", "bogus", "--out", str(tmp / "out")],
         "--scheduler: 'bogus' is not a Dask scheduler address"),
    Case("5 tracebacks", "--scheduler http://host:80",
         lambda tmp: ["run", str(SCENARIOS / CLBP), "-n", "2", "--scheduler", "http://host:80", "--out", str(tmp / "out")],
         "--scheduler:"),
    Case("5 tracebacks", "calibrate --range 0.9 1.5",
         lambda tmp: ["calibrate", str(SCENARIOS / CLBP), "--design", "adaptive", "--truth", "no_effect",
                      "--range", "0.9", "1.5"], "--range: "),
    Case("5 tracebacks", "calibrate --range 0.99 0.9",
         lambda tmp: ["calibrate", str(SCENARIOS / CLBP), "--design", "adaptive", "--truth", "no_effect",
                      "--range", "0.99", "0.9"], "--range: "),
    Case("5 tracebacks", "trace --trial 10^20",
         lambda tmp: ["trace", str(SCENARIOS / CLBP), "--design", "adaptive", "--truth", "no_effect",
                      "--trial", str(10**20), "--out", str(tmp / "trace")], "--trial: "),
    Case("5 tracebacks", "--seed 2^64",
         lambda tmp: ["run", str(SCENARIOS / CLBP), "-n", "2", "--seed", str(2**64), "--out", str(tmp / "out")],
         "--seed: "),
    Case("5 tracebacks", "summarise a file that is not netCDF",
         lambda tmp: (tmp / "trials.nc").write_text("not netcdf") and ["summarise", str(tmp / "trials.nc")],
         "not a trialsim result"),
    Case("5 tracebacks", "scenario file is a folder", lambda tmp: ["run", str(tmp), "--out", str(tmp / "out")],
         "is a folder"),

    # 6. duplicate keys
    Case("6 duplicates", "design given twice",
         run_args(text(lambda: bundled_text().replace("  adaptive:", "  fixed_equal:"))), "appears twice"),
    Case("6 duplicates", "top-level key twice", run_args(text(lambda: bundled_text() + "\nname: again\n")),
         "name: key 'name' appears twice"),
    Case("6 duplicates", "key twice in a flow mapping",
         run_args(text(lambda: bundled_text().replace("{prevalence: 0.25}", "{prevalence: 0.25, prevalence: 0.3}"))),
         "population.phenotypes.nociceptive.prevalence: key 'prevalence' appears twice"),

    # 7. messages: one line, no internal names, short echoes, right hints, FILE: format
    Case("7 messages", "superiority 1.5 (a union)",
         run_args(mutated(setting("designs", "adaptive", "decisions", "superiority", 1.5))),
         "designs.adaptive.decisions.superiority: must be less than or equal to 1, got 1.5"),
    Case("7 messages", "1 MB description", run_args(mutated(setting("description", ["x" * 1_000_000]))),
         "description: must be a valid string"),
    Case("7 messages", "1 MB name", run_args(mutated(setting("name", "y" * 1_000_000))), "..."),
    Case("7 messages", "integer key", run_args(mutated(renaming("designs", "adaptive", 12))),
         'put it in quotes ("12":)'),
    Case("7 messages", "-n 0", lambda tmp: ["run", str(SCENARIOS / CLBP), "-n", "0", "--out", str(tmp / "out")],
         "--n-trials: 0 is not in the range"),
    Case("7 messages", "unknown option", lambda tmp: ["run", str(SCENARIOS / CLBP), "--outt", str(tmp / "out")],
         "--outt: no such option (did you mean --out"),
    Case("7 messages", "folder to validate", lambda tmp: ["validate", str(tmp)], "is a folder"),
    Case("7 messages", "missing --truth", lambda tmp: ["trace", str(SCENARIOS / CLBP), "--design", "adaptive"],
         "--truth: required"),

    # 8. design families: SMART and one-way crossover (issue 14)
    Case("8 families", "SMART option names an unknown arm",
         run_args(mutated(setting("designs", "smart", "smart", "stage2", "exercise", ["scss", "rtms"]), SMART)),
         "designs.smart.smart.stage2.exercise[0]: unknown arm 'scss' (did you mean 'scs'?)"),
    Case("8 families", "SMART stage-1 arm without options",
         run_args(mutated(setting("designs", "smart", "smart", "stage2", {"exercise": ["scs"], "walking": ["scs"]}),
                          SMART)),
         "designs.smart.smart.stage2: stage-1 arm 'usual_care' has no stage-2 options"),
    Case("8 families", "SMART reference is not a regime",
         run_args(mutated(setting("designs", "smart", "smart", "reference", "usual_care_then_scs"), SMART)),
         "designs.smart.smart.reference: unknown regime 'usual_care_then_scs'"),
    Case("8 families", "SMART response after the endpoint",
         run_args(mutated(setting("designs", "smart", "smart", "response_weeks", 52), SMART)),
         "designs.smart.smart.response_weeks: week 52 is not a visit (patients.visits) before the final endpoint"),
    Case("8 families", "SMART with interim looks",
         run_args(mutated(setting("designs", "smart", "looks", {"at_patients": [90, 180]}), SMART)),
         "designs.smart.looks: a SMART has one analysis"),
    Case("8 families", "one-way crossover to the control",
         run_args(mutated(setting("designs", "one_way", "one_way_crossover", "to", "sham"), ONE_WAY)),
         "designs.one_way.one_way_crossover.to: 'sham' is the control"),
    Case("8 families", "one-way crossover before the endpoint",
         run_args(mutated(setting("designs", "one_way", "one_way_crossover", "weeks", 4), ONE_WAY)),
         "designs.one_way.one_way_crossover.weeks: week 4 is not a visit (patients.visits) after the endpoint"),
    Case("8 families", "one-way crossover with screen failures as non-responders",
         run_args(mutated(setting("designs", "one_way", "analysis", {"screen_failures": "nonresponder"}), ONE_WAY)),
         "designs.one_way.analysis.screen_failures: crossed-over patients are analysed as observed"),
]


# -- trying one case -----------------------------------------------------------------------------

def _files(folder: Path) -> dict[str, str]:
    """Every file under folder with a hash of its content (what 'nothing written' compares)."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def try_case(case: Case, tmp: Path) -> Outcome:
    """Run one case in the empty folder `tmp` (also the working folder, so default outputs land there)."""
    with contextlib.chdir(tmp):
        args = case.setup(tmp)
        before = _files(tmp)
        result = CliRunner().invoke(main, args)
        for thread in threading.enumerate():  # the CLI's kernel warm-up: never left running into the next case
            if thread.name == "warm-up":
                thread.join()
        after = _files(tmp)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    clean_exit = result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    return Outcome(result.exit_code, "Traceback" in result.output or not clean_exit, changed, result.output, lines)


def census(cases: list[Case] = CASES) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            outcome = try_case(case, Path(tmp))
        row = table.setdefault(case.group, {"tried": 0, "exit 2": 0, "tracebacks": 0, "files written": 0})
        row["tried"] += 1
        row["exit 2"] += outcome.exit_code == 2
        row["tracebacks"] += outcome.traceback
        row["files written"] += bool(outcome.written)
        if outcome.exit_code != 2 or outcome.traceback or outcome.written:
            print(f"  not as promised: {case.group} / {case.label}: exit {outcome.exit_code}, "
                  f"written {outcome.written}\n{outcome.output[-500:]}", file=sys.stderr)
    return table


def main_census() -> int:
    table = census()
    columns = ["tried", "exit 2", "tracebacks", "files written"]
    print(f"{'group':14s}" + "".join(f"{c:>15s}" for c in columns))
    for group, row in table.items():
        print(f"{group:14s}" + "".join(f"{row[c]:>15d}" for c in columns))
    total = {c: sum(row[c] for row in table.values()) for c in columns}
    print(f"{'total':14s}" + "".join(f"{total[c]:>15d}" for c in columns))
    return 0 if total["exit 2"] == total["tried"] and not total["tracebacks"] and not total["files written"] else 1


if __name__ == "__main__":
    sys.exit(main_census())
