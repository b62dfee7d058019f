"""Scaling of trialsim runs: 1 vs 2 workers, Dask vs local processes, peak memory.

    python benchmarks/bench_scale.py [-n 10000] [--memory-trials 100000] [--repeats 3]

All on the bundled five-arm CLBP scenario (2 designs x 3 truths), exact engine.
Timings are medians of repeated runs in one session; the memory figure is the
peak resident set of a separate `trialsim run` process (the parent, which gathers
every record, and the largest worker).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "clbp_sham_multiarm.yaml"


def median_seconds(run, repeats: int) -> float:
    run()  # warm-up: process start, compiled kernels, caches
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def peak_memory(n_trials: int, workers: int) -> tuple[float, float, float]:
    """(seconds, parent peak MB, largest child peak MB) of a separate run."""
    code = (
        "import resource, sys, time, tempfile\n"
        "from trialsim.api import run_to_folder\nfrom trialsim.scenario import load_scenario\n"
        f"s = load_scenario({str(SCENARIO)!r})\nt = time.perf_counter()\n"
        f"run_to_folder(s, tempfile.mkdtemp(), n_trials={n_trials}, workers={workers})\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    parser.add_argument("--memory-trials", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from trialsim.runner import simulate
    from trialsim.scenario import load_scenario

    scenario = load_scenario(SCENARIO)
    n = args.n_trials
    one = median_seconds(lambda: simulate(scenario, n_trials=n, workers=1), args.repeats)
    two = median_seconds(lambda: simulate(scenario, n_trials=n, workers=2), args.repeats)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        executor = client.get_executor()
        dask = median_seconds(lambda: simulate(scenario, n_trials=n, executor=executor), args.repeats)
    print(f"{n} trials x 6 (design, truth) cells, median of {args.repeats} runs")
    print(f"  local, 1 worker : {one:7.2f} s  ({n * 6 / one:8.0f} trial simulations/s)")
    print(f"  local, 2 workers: {two:7.2f} s  ({n * 6 / two:8.0f} trial simulations/s)  speed-up {one / two:.2f}x")
    print(f"  Dask LocalCluster, 2 workers: {dask:7.2f} s  overhead vs local processes {dask / two - 1:+.1%}")
    seconds, parent, child = peak_memory(args.memory_trials, 2)
    print(f"{args.memory_trials} trials with 2 workers: {seconds:.1f} s; peak memory parent {parent:.0f} MB, "
          f"largest worker {child:.0f} MB")


if __name__ == "__main__":
    main()
