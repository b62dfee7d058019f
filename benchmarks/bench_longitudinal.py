"""Trials per second of the exact engine with and without a longitudinal interim model.

    PYTHONPATH=. python benchmarks/bench_longitudinal.py [-n 2000] [--repeats 3]

The bundled scenario `scenarios/clbp_longitudinal.yaml`: its adaptive design under the
industry truth with `analysis.longitudinal` none, locf, regression, itp and mvn, one worker, in one
process one after the other (alternating, so that a busy machine slows each alike); medians of
repeated runs, in wall-clock trials/s and trials per CPU-second of this process (the machine
is shared: CPU time is the fairer figure).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path

from trialsim.compile import compile_scenario
from trialsim.run.runner import simulate
from trialsim.scenario import load_scenario, parse_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "clbp_longitudinal.yaml"
DESIGNS = {"none": "adaptive", "locf": "adaptive_locf", "regression": "adaptive_regression", "itp": "adaptive_itp",
           "mvn": "adaptive_mvn"}


def cell(design: str, truth: str = "industry", engine: str | None = None):
    """The compiled plan of one design of the scenario under one truth (optionally another engine)."""
    data = load_scenario(SCENARIO).model_dump(mode="json", exclude_none=True)
    data["truths"] = {truth: data["truths"][truth]}
    data["designs"] = {design: data["designs"][design]}
    if engine is not None:
        data["designs"][design]["analysis"]["engine"] = engine
    data.pop("targets", None)  # they may name the truths left out
    return compile_scenario(parse_scenario(data))


def timed(plan, n_trials: int):
    """(wall seconds, CPU seconds of this process, the trials Dataset) of one simulation."""
    wall, cpu = time.perf_counter(), time.process_time()
    ds = simulate(replace(plan, n_trials=n_trials))
    return time.perf_counter() - wall, time.process_time() - cpu, ds


def run_once(plan, n_trials: int) -> tuple[float, float]:
    wall, cpu, _ = timed(plan, n_trials)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    plans = {label: cell(name) for label, name in DESIGNS.items()}
    for plan in plans.values():
        run_once(plan, 100)  # warm-up: compiled kernels
    times = {label: [] for label in plans}
    for _ in range(args.repeats):
        for label, plan in plans.items():
            times[label].append(run_once(plan, args.n_trials))
    print(f"{args.n_trials} trials, adaptive design x industry truth, one worker, median of {args.repeats}")
    for label in plans:
        wall = statistics.median(t[0] for t in times[label])
        cpu = statistics.median(t[1] for t in times[label])
        print(f"longitudinal {label:11s} {args.n_trials / wall:8.0f} trials/s (wall) {args.n_trials / cpu:8.0f} trials/CPU-s")
    # the whole comparison: every design but the durability one x every truth on one cohort per chunk
    data = load_scenario(SCENARIO).model_dump(mode="json", exclude_none=True)
    data["designs"] = {k: v for k, v in data["designs"].items() if "durability" not in v}
    plan = compile_scenario(parse_scenario(data))
    wall, cpu = run_once(plan, args.n_trials)
    cells = args.n_trials * len(plan.designs) * len(plan.truths)
    print(f"whole comparison ({len(plan.designs)} designs x {len(plan.truths)} truths): {cells / wall:8.0f} trial-cells/s "
          f"(wall) {cells / cpu:8.0f} trial-cells/CPU-s")


if __name__ == "__main__":
    main()
