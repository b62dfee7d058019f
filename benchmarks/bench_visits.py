"""Trials per second of the exact engine: the single-visit outcome model against the visit model.

    PYTHONPATH=. python benchmarks/bench_visits.py [-n 2000] [--repeats 3]

The bundled five-arm CLBP scenario (its adaptive design under the sham_anchored truth, and
the whole scenario), run once without the `patients` block (single-visit model) and once with
it (visit model), one worker, in one process, alternating; medians of repeated runs, in CPU
seconds of the process (wall time on a shared machine also measures the other jobs).
The visit model's latent pain is truth- and design-free: a chunk draws it once for all cells.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from trialsim.compile import compile_scenario
from trialsim.run.runner import simulate
from trialsim.scenario import load_scenario, parse_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "clbp_sham_multiarm.yaml"


def cell(visits: bool, truth: str | None = "sham_anchored", design: str | None = "adaptive"):
    """The scenario (one truth x design, or all when None) under either outcome model."""
    data = load_scenario(SCENARIO).model_dump(mode="json", exclude_none=True)
    if truth:
        data["truths"] = {truth: data["truths"][truth]}
    if design:
        data["designs"] = {design: data["designs"][design]}
    if visits:
        data["patients"] = data.get("patients") or {}
    else:  # as the file was before the visit model: 7% lost before the endpoint
        data.pop("patients", None)
        data["logistics"]["dropout"] = 0.07
        for t in data["truths"].values():  # visit-only fields have no meaning without visits
            for arm in t["arms"].values():
                for field in ("responder_share", "responder_change", "loss_median_weeks", "nonspecific_sd"):
                    arm.pop(field, None)
    return compile_scenario(parse_scenario(data))


def run_once(plan, n_trials: int) -> float:
    """CPU seconds of this process: on a machine shared with other jobs, wall time measures them too."""
    from dataclasses import replace

    began = time.process_time()
    simulate(replace(plan, n_trials=n_trials))
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.n_trials} trials, one worker, median of {args.repeats} runs (the two models alternate)")
    for case, (truth, design) in (("adaptive design x sham_anchored truth", ("sham_anchored", "adaptive")),
                                  ("whole scenario (every design x truth)", (None, None))):
        plans = {"single-visit model": cell(False, truth, design), "visit model": cell(True, truth, design)}
        for plan in plans.values():
            run_once(plan, 200)  # warm-up: compiled kernels, caches
        times = {label: [] for label in plans}
        for _ in range(args.repeats):  # alternate, so that a busy machine slows both alike
            for label, plan in plans.items():
                times[label].append(run_once(plan, args.n_trials))
        rates = {}
        for label, plan in plans.items():
            seconds = statistics.median(times[label])
            rates[label] = args.n_trials * len(plan.truths) * len(plan.designs) / seconds
            print(f"{case:40s} {label:20s} {seconds:7.2f} CPU s {rates[label]:8.0f} trial-cells per CPU s")
        print(f"{case:40s} visit model keeps {rates['visit model'] / rates['single-visit model']:.0%} of the rate")


if __name__ == "__main__":
    main()
