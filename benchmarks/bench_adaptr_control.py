"""Speed on adaptr-style controlled designs, against adaptr's published speed.

    python benchmarks/bench_adaptr_control.py [-n 10000] [--workers 1 2] [--repeats 3]

Designs: the common-control design of adaptr's JOSS paper (four arms, sqrt-based control share,
an arm beating the control becomes the new control, 17 looks) and adaptr's own common-control test
design with equivalence and futility. adaptr's speed: 31-63 trials/s on one core for adaptr 1.4
(measured on a 2-vCPU machine like this one, 5,000 posterior draws per look; adaptr's
README: its 3-arm, 18-look example runs 1,000 trials in about 20 s); the JOSS paper reports 1,000 trials of its design in 19.9 s on 4
cores with adaptr 1.0 (50 trials/s, about 13 per core). Timings are medians after a warm-up run; the
machine's load average is printed because the cores may be shared, and with one worker the CPU time
of this process is reported too (trials per CPU-second: the speed of one core, whatever the load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from trialsim.api import run
from trialsim.scenario import load_scenario

HERE = Path(__file__).resolve().parents[1] / "scenarios" / "validation"
DESIGNS = {"adaptr_joss_control": "JOSS paper design", "adaptr_tests_futility": "adaptr test design (futility)"}
ADAPTR_TRIALS_PER_SECOND = (31.0, 63.0)  # adaptr 1.4, one core (peers.md)


def trials_per_second(name: str, n_trials: int, workers: int, repeats: int) -> tuple[float, float]:
    """(trials per wall-clock second, trials per CPU-second of this process)."""
    scenario = load_scenario(HERE / f"{name}.yaml")
    run(scenario, n_trials=min(n_trials, 500), workers=workers)  # warm-up: compiled kernels, caches
    wall, cpu = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        run(scenario, n_trials=n_trials, workers=workers)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return n_trials / statistics.median(wall), n_trials / statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lo, hi = ADAPTR_TRIALS_PER_SECOND
    print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} cores")
    for name, label in DESIGNS.items():
        for workers in args.workers:
            rate, per_cpu = trials_per_second(name, args.n_trials, workers, args.repeats)
            print(f"{label:30s} workers={workers}: {rate:6.0f} trials/s = {rate / hi:4.1f}x to {rate / lo:4.1f}x "
                  f"adaptr 1.4 ({lo:.0f}-{hi:.0f} trials/s, one core)")
            if workers == 1:
                print(f"{'':30s} one core, CPU time: {per_cpu:6.0f} trials per CPU-second = {per_cpu / hi:4.1f}x to "
                      f"{per_cpu / lo:4.1f}x")
    print(f"load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
