"""Trials per second of the exact engine, and time to the first trial, against an earlier commit.

    python benchmarks/bench_exact.py [--repeats 3] [-n 10000] [--against d70702d] [--workers 1 2]

Cases: adaptr's Overview design (alternative truth; 3 arms, 18 looks, binary), adaptr's README
design, and the bundled five-arm sham-controlled CLBP scenario (its adaptive design under one
truth, and the whole scenario: 2 designs x 3 truths). Each case runs in a fresh process for this
checkout and for the commit given by --against (extracted with `git archive`), one after the
other on the same machine; medians of repeated runs after a warm-up run.

Time to first trial: after each tree's caches are in place (`python -m trialsim.kernels build`:
the ahead-of-time kernels and the package's bytecode, where the tree has them),
`trialsim run scenarios/validation/adaptr_overview_alt.yaml -n 10` as a new process, timed until
it prints that simulation starts ("Simulating ..."), and until it exits (results written); and,
for this checkout, a new process that loads, compiles and simulates the same 10 trials through the
Python API, timed until they are simulated (before any Dataset or file is made): the time to a
first result.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE_RESTRUCTURE = "d70702d"  # the last commit before the compile step and named streams

CASES = [  # label, scenario file, truth, design (None: all)
    ("adaptr Overview design, alternative truth", "validation/adaptr_overview_alt.yaml", None, None),
    ("adaptr README design (3 arms, 18 looks)", "validation/adaptr_readme.yaml", None, None),
    ("CLBP 5-arm adaptive design, sham_anchored truth", "clbp_sham_multiarm.yaml", "sham_anchored", "adaptive"),
    ("CLBP scenario, every design x truth", "clbp_sham_multiarm.yaml", None, None),
]

# Runs in a child process with PYTHONPATH set to the checkout under test; works with the API
# before the restructure (runner.simulate(scenario, ...)) and after (run.runner.simulate(plan, ...)).
CHILD = r"""
import json, statistics, sys, time
from pathlib import Path
from trialsim.scenario import load_scenario, parse_scenario
path, truth, design, n, workers, repeats = json.loads(sys.argv[1])
s = load_scenario(path)
if truth:
    data = s.model_dump(mode="json")
    data["truths"] = {truth: data["truths"][truth]}
    data["designs"] = {design: data["designs"][design]}
    data.pop("targets", None)  # they may name the truths left out
    s = parse_scenario(data)
try:
    from trialsim.api import plan_for
    from trialsim.run.runner import simulate
    go = lambda k: simulate(plan_for(s, n_trials=k), workers=workers)
except ImportError:
    from trialsim.runner import simulate
    go = lambda k: simulate(s, n_trials=k, workers=workers)
go(min(n, 200))  # warm-up: compiled kernels, forked pool, caches
times, cpu = [], []
for _ in range(repeats):
    began, began_cpu = time.perf_counter(), time.process_time()
    go(n)
    times.append(time.perf_counter() - began)
    cpu.append(time.process_time() - began_cpu)  # this process only: meaningful for one worker
print(json.dumps([statistics.median(times), len(s.truths) * len(s.designs), statistics.median(cpu)]))
"""


def checkout(ref: str, into: Path) -> Path:
    """The tree of commit `ref` extracted into a folder (nothing in this checkout changes)."""
    archive = into / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "src", filter="data")
    return into / "src"


def seconds(tree: Path, case: tuple, n: int, workers: int, repeats: int) -> tuple[float, int, float]:
    """(median seconds, design x truth cells, median CPU seconds of the parent process) of one case run by
    the code in `tree`."""
    _, path, truth, design = case
    args = json.dumps([str(tree / "scenarios" / path), truth, design, n, workers, repeats])
    env = os.environ | {"PYTHONPATH": str(tree)}
    for attempt in range(2):  # a child that dies is retried once, and its error shown
        # cwd: `python -c` puts the working folder first on sys.path, before PYTHONPATH
        out = subprocess.run([sys.executable, "-c", CHILD, args], env=env, capture_output=True, text=True, cwd=tree)
        if out.returncode == 0:
            took, cells, cpu = json.loads(out.stdout.strip().splitlines()[-1])
            return float(took), int(cells), float(cpu)
        print(f"  (run failed, attempt {attempt + 1}: {out.stderr.strip().splitlines()[-1:]})", file=sys.stderr)
    raise RuntimeError(f"benchmark case failed twice: {case[0]}")


def warm_caches(tree: Path) -> str:
    """The caches of a second run: the tree's bytecode, and its ahead-of-time kernels if it has them
    (trialsim/kernels.py; numba's own cache fills in the warm-up runs)."""
    if not (tree / "trialsim" / "kernels.py").exists():
        subprocess.run([sys.executable, "-m", "compileall", "-q", "trialsim"], cwd=tree, check=True)
        return "numba JIT (no trialsim/kernels.py); bytecode written"
    out = subprocess.run([sys.executable, "-m", "trialsim.kernels", "build"], cwd=tree, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def first_trial(tree: Path, repeats: int) -> tuple[float, float]:
    """Median seconds from process start to 'Simulating ...' on stderr, and to exit."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    starts, ends = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "trialsim.cli", "run",
                                     str(tree / "scenarios/validation/adaptr_overview_alt.yaml"), "-n", "10",
                                     "--out", out], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    text=True, cwd=tree)
            start = None
            for line in proc.stderr:
                if start is None and line.startswith("Simulating"):
                    start = time.perf_counter() - began
            proc.wait()
            starts.append(start)
            ends.append(time.perf_counter() - began)
    return statistics.median(starts), statistics.median(ends)


# A new process until its first 10 trials are simulated (records in memory; no Dataset, no files)
FIRST_CHUNK = r"""
import sys
from trialsim.api import plan_for
from trialsim.run.runner import RunSettings, simulate_chunk
simulate_chunk(plan_for(sys.argv[1], n_trials=10), RunSettings(), 0, 10)
print("simulated", flush=True)
"""


def first_chunk(repeats: int) -> float:
    """Median seconds from process start until 10 trials are simulated (this checkout)."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    took = []
    for _ in range(repeats):
        began = time.perf_counter()
        scenario = ROOT / "scenarios/validation/adaptr_overview_alt.yaml"
        proc = subprocess.Popen([sys.executable, "-c", FIRST_CHUNK, str(scenario)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        for line in proc.stdout:
            if line.startswith("simulated"):
                took.append(time.perf_counter() - began)
        if proc.wait() != 0:
            raise RuntimeError("the first-chunk child failed")
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    parser.add_argument("--against", default=BEFORE_RESTRUCTURE, help="git commit to compare with")
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this checkout": ROOT, f"commit {args.against}": checkout(args.against, Path(tmp))}
        for tree in trees.values():
            warm_caches(tree)
        print(f"{args.n_trials} trials per design and truth; median of {args.repeats} runs; one process per case\n")
        print("trials/CPU-s: per CPU-second of the simulating process (robust to other load; one worker only)\n")
        print(f"{'case':50s} {'workers':>7s} {'code':>16s} {'seconds':>8s} {'trials/s':>9s} {'trials/CPU-s':>12s}")
        for case in CASES:
            for workers in args.workers:
                rates, cpu_rates = {}, {}
                for code, tree in trees.items():
                    took, cells, cpu = seconds(tree, case, args.n_trials, workers, args.repeats)
                    rates[code] = args.n_trials * cells / took  # trial simulations (design x truth cells) per s
                    cpu_rates[code] = args.n_trials * cells / cpu
                    per_cpu = f"{cpu_rates[code]:12.0f}" if workers == 1 else f"{'-':>12s}"
                    print(f"{case[0]:50s} {workers:7d} {code:>16s} {took:8.2f} {rates[code]:9.0f} {per_cpu}"
                          f"  ({cells} cells)")
                this, other = rates.values()
                ratio_cpu = f"{cpu_rates['this checkout'] / cpu_rates[f'commit {args.against}']:11.2f}x" if workers == 1 else ""
                print(f"{'':50s} {'':7s} {'speed-up':>16s} {this / other:8.2f}x {'':9s} {ratio_cpu}")
        print("\ntime to first trial: trialsim run scenarios/validation/adaptr_overview_alt.yaml -n 10 "
              f"(median of {2 * args.repeats + 1} new processes)")
        for code, tree in trees.items():
            print(f"  {code:>16s}: {warm_caches(tree)}")
            start, end = first_trial(tree, 2 * args.repeats + 1)
            print(f"  {code:>16s}: simulation starts after {start:.2f} s; the run ends after {end:.2f} s")
        print(f"  {'this checkout':>16s}: 10 trials simulated (API, no files) after "
              f"{first_chunk(2 * args.repeats + 1):.2f} s")


if __name__ == "__main__":
    main()
