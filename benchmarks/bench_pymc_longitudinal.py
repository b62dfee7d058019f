"""Seconds per fit and trials/s of the PyMC engine with and without a visit-level longitudinal model.

    python benchmarks/bench_pymc_longitudinal.py [-n 40] [--repeats 2]

The bundled scenario `scenarios/clbp_longitudinal.yaml`: its adaptive design under the industry truth,
analysed by the PyMC engine (fast path, the design's flat prior: the `exact` preset) with
`analysis.longitudinal` none (interims on completers), mvn and itp (interims fitted by the
visit-level models of inference/pymc_visits.py), one worker, in one process one after the other
(alternating, so that a busy machine slows each alike). Models are built and compiled in a warm-up run
first (once per process in a simulation too). Fits: every model fit of a trial (interims and the final
analysis, from the records' `fits`); seconds per fit = CPU seconds / fits. Medians of the repeats.
"""

from __future__ import annotations

import argparse
import statistics

from bench_longitudinal import cell, timed  # the scenario's design x truth cells (run as a script from benchmarks/)

DESIGNS = {"none": "adaptive", "mvn": "adaptive_mvn", "itp": "adaptive_itp"}


def run_once(plan, n_trials: int) -> tuple[float, float, int]:
    wall, cpu, ds = timed(plan, n_trials)
    return wall, cpu, int(ds["fits"].values.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    plans = {label: cell(name, engine="pymc") for label, name in DESIGNS.items()}
    for plan in plans.values():
        run_once(plan, 2)  # warm-up: build and compile the models
    runs = {label: [] for label in plans}
    for _ in range(args.repeats):
        for label, plan in plans.items():
            runs[label].append(run_once(plan, args.n_trials))
    print(f"{args.n_trials} trials, adaptive design x industry truth, PyMC engine (fast path), one worker, "
          f"median of {args.repeats}")
    for label in plans:
        wall = statistics.median(r[0] for r in runs[label])
        cpu = statistics.median(r[1] for r in runs[label])
        fits = statistics.median(r[2] for r in runs[label])
        print(f"longitudinal {label:5s} {cpu / fits:7.3f} s per fit (CPU; {fits / args.n_trials:.1f} fits a trial)"
              f" {args.n_trials / wall:7.2f} trials/s (wall) {args.n_trials / cpu:7.2f} trials/CPU-s")


if __name__ == "__main__":
    main()
