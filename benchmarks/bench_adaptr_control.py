"""Speed on adaptr-style controlled designs, against adaptr's published and (optionally) measured speed.

    python benchmarks/bench_adaptr_control.py [-n 10000] [--workers 1 2] [--repeats 3]
                                              [--adaptr [--adaptr-trials 1000]]

Designs: the common-control design of adaptr's JOSS paper (four arms, sqrt-based control share,
an arm beating the control becomes the new control, 17 looks) and adaptr's own common-control test
design with equivalence and futility.

Published adaptr speed: 31-63 trials/s on one core for adaptr 1.4 (measured on a 2-vCPU machine
like this one, 5,000 posterior draws per look; adaptr's README: its 3-arm, 18-look example runs
1,000 trials in about 20 s); the JOSS paper reports 1,000 trials of its design in 19.9 s on 4 cores
with adaptr 1.0 (50 trials/s, about 13 per core).

Measured adaptr speed (--adaptr): after trialsim's runs, in the same invocation and never at the
same time, benchmarks/adaptr_speed.R times adaptr's run_trials(cores = 1) on the same two designs
(set up exactly as the scenario YAML headers say) and the ratios trialsim/adaptr are printed per
CPU-second and per wall-clock second, one core each. adaptr is not on Debian and CRAN is not
reachable here, so on the development machine (R 4.2.2 from Debian) it was rebuilt from its public
source (INCEPTdk/adaptr, the R files of commit 0b6fc8d, the development snapshot between releases
1.1.1 and 1.2.0 that added randomised_at_looks, with prob_funs.R and get_ys_and_draws.R from the
commit before; reported version 1.1.1.9000), installed with `R CMD INSTALL --no-docs` into a
library outside the repository and found through R_LIBS. That build reproduces the JOSS paper's
published 1,000-trial summary digit for digit (same seeds). It is not a 1.4 release build: the
measured figure stands in for adaptr 1.4's (adaptr's NEWS lists no speed change to run_trial up to
1.3). CI has neither adaptr nor this option's run; without adaptr the script says so and prints
only the published comparison.

Timings are medians after a warm-up run; the machine's load average is printed because the cores
may be shared, and with one worker the CPU time of this process is reported too (trials per
CPU-second: the speed of one core, whatever the load), which is the fair comparison with adaptr.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from trialsim.api import run
from trialsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "scenarios" / "validation"
ADAPTR_SCRIPT = Path(__file__).resolve().parent / "adaptr_speed.R"
DESIGNS = {"adaptr_joss_control": "JOSS paper design", "adaptr_tests_futility": "adaptr test design (futility)"}
ADAPTR_TRIALS_PER_SECOND = (31.0, 63.0)  # adaptr 1.4, one core (peers.md)
RESULT_LINE = re.compile(r"^RESULT (\S+) trials_per_second=([\d.]+) trials_per_cpu_second=([\d.]+)")


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


def adaptr_missing() -> str | None:
    """Why adaptr cannot be measured here, or None when `library(adaptr)` loads."""
    if shutil.which("Rscript") is None:
        return "Rscript is not installed"
    probe = subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(adaptr))"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return "R cannot load adaptr (set R_LIBS to the library it is installed in)"
    return None


def measure_adaptr(n_trials: int, repeats: int) -> dict[str, tuple[float, float]]:
    """adaptr's (trials per wall second, trials per CPU-second) per design, from adaptr_speed.R."""
    out = subprocess.run(["Rscript", str(ADAPTR_SCRIPT), str(n_trials), str(repeats)],
                         capture_output=True, text=True, check=True)
    print(out.stdout.splitlines()[0])
    found = {}
    for line in out.stdout.splitlines():
        if match := RESULT_LINE.match(line):
            found[match[1]] = (float(match[2]), float(match[3]))
    return found


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--adaptr", action="store_true",
                        help="also time adaptr itself (R package adaptr, found through R_LIBS), after trialsim")
    parser.add_argument("--adaptr-trials", type=int, default=1_000,
                        help="trials per adaptr repeat (adaptr runs about 15-30 trials/s)")
    args = parser.parse_args()
    lo, hi = ADAPTR_TRIALS_PER_SECOND
    print(f"load average before: {load()}; {os.cpu_count()} cores")
    one_core: dict[str, tuple[float, float]] = {}
    for name, label in DESIGNS.items():
        for workers in args.workers:
            rate, per_cpu = trials_per_second(name, args.n_trials, workers, args.repeats)
            print(f"{label:30s} workers={workers}: {rate:6.0f} trials/s = {rate / hi:4.1f}x to {rate / lo:4.1f}x "
                  f"adaptr 1.4 ({lo:.0f}-{hi:.0f} trials/s, one core)")
            if workers == 1:
                one_core[name] = (rate, per_cpu)
                print(f"{'':30s} one core, CPU time: {per_cpu:6.0f} trials per CPU-second = {per_cpu / hi:4.1f}x to "
                      f"{per_cpu / lo:4.1f}x")
    print(f"load average after trialsim: {load()}")
    if not args.adaptr:
        print("adaptr not measured (add --adaptr to time adaptr itself on this machine)")
        return
    if (why := adaptr_missing()) is not None:
        print(f"adaptr not available: {why}; only the published comparison above applies")
        return
    measured = measure_adaptr(args.adaptr_trials, args.repeats)
    print(f"load average after adaptr: {load()}")
    for name, label in DESIGNS.items():
        a_wall, a_cpu = measured[name]
        line = f"{label:30s} adaptr measured, one core: {a_wall:6.1f} trials/s, {a_cpu:6.1f} trials per CPU-second"
        if name in one_core:
            t_wall, t_cpu = one_core[name]
            line += f"; trialsim = {t_cpu / a_cpu:5.1f}x per CPU-second, {t_wall / a_wall:5.1f}x wall"
        else:
            line += " (run with --workers 1 for the one-core ratio)"
        print(line)


if __name__ == "__main__":
    main()
