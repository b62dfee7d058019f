"""Trials per second of the exact engine, on one core and on two.

    python benchmarks/bench_exact.py [--repeats 3]

Designs: adaptr's README example (3 arms, looks at 300..2000 by 100, Pr(best)^0.5,
minimum 0.15, equivalence 0.9 within 0.05) and the bundled five-arm sham-controlled
CLBP scenario (its adaptive design under one truth, and the whole scenario: 2 designs x
3 truths). Medians of repeated runs, measured in one process one after another.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from trialsim.runner import simulate
from trialsim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1] / "scenarios"


def one_cell(path: Path, truth: str, design: str):
    s = load_scenario(path)
    data = s.model_dump(mode="json")
    data["truths"] = {truth: data["truths"][truth]}
    data["designs"] = {design: data["designs"][design]}
    data.pop("targets", None)  # they may name the truths left out
    return parse_scenario(data)


def timed(scenario, n_trials: int, workers: int, repeats: int) -> float:
    simulate(scenario, n_trials=min(n_trials, 200), workers=workers)  # warm-up: compile, fork, caches
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        simulate(scenario, n_trials=n_trials, workers=workers)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    args = parser.parse_args()
    cases = [
        ("adaptr README design (3 arms, 18 looks)", load_scenario(ROOT / "validation" / "adaptr_readme.yaml"), 1),
        ("CLBP 5-arm adaptive design, sham_anchored truth", one_cell(ROOT / "clbp_sham_multiarm.yaml", "sham_anchored", "adaptive"), 1),
        ("CLBP scenario, all 2 designs x 3 truths", load_scenario(ROOT / "clbp_sham_multiarm.yaml"), 6),
    ]
    print(f"{args.n_trials} trials per design and truth; median of {args.repeats} runs\n")
    print(f"{'case':50s} {'workers':>7s} {'seconds':>8s} {'trials/s':>9s} {'speed-up':>8s}")
    for label, scenario, cells in cases:
        base = None
        for workers in (1, 2):
            seconds = timed(scenario, args.n_trials, workers, args.repeats)
            rate = args.n_trials * cells / seconds
            base = base or seconds
            print(f"{label:50s} {workers:7d} {seconds:8.2f} {rate:9.0f} {base / seconds:8.2f}")


if __name__ == "__main__":
    main()
