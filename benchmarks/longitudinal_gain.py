"""What the early visits buy: the bundled longitudinal scenario at calibrated equal type I error.

    PYTHONPATH=. python benchmarks/longitudinal_gain.py [--calibrate-trials 5000] [-n 10000] [-w 2] [--designs A B]

Every design of `scenarios/clbp_longitudinal.yaml` gets its superiority threshold calibrated,
in lockstep bisection under the null truth (all designs in one run per step: common random
numbers), to a family-wise Pr(any arm declared effective) <= 5%. The calibrated designs then run
under the null and the industry truth, and the script prints size, duration, selection and
imputation metrics with Monte Carlo SEs. Thresholds: a deterministic function of the seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from trialsim.api import run
from trialsim.scenario import load_scenario, parse_scenario
from trialsim.calibrate import with_threshold

SCENARIO = str(Path(__file__).resolve().parents[1] / "scenarios" / "clbp_longitudinal.yaml")
METRICS = ["prob_any_effective", "size_mean", "duration_weeks_mean", "prob_select_best", "share_on_best_mean",
           "prob_effective_scs", "imputed_per_trial_mean", "imputation_bias", "imputation_rmse", "imputation_coverage"]


def with_thresholds(scenario, thresholds: dict[str, float]):
    for design, value in thresholds.items():
        scenario = with_threshold(scenario, design, value, symmetric=True)
    return scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate-trials", type=int, default=5000)
    parser.add_argument("-n", "--n-trials", type=int, default=10000)
    parser.add_argument("-w", "--workers", type=int, default=2)
    parser.add_argument("--target", type=float, default=0.05)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--designs", nargs="+", default=None, help="only these designs (default: every design)")
    args = parser.parse_args()
    data = load_scenario(SCENARIO).model_dump(mode="json")
    if args.designs:
        data["designs"] = {d: data["designs"][d] for d in args.designs}
    scenario = parse_scenario(data)
    null = parse_scenario({**data, "truths": {"no_effect": data["truths"]["no_effect"]}})
    designs = list(data["designs"])
    lo, hi = {d: 0.98 for d in designs}, {d: 0.9999 for d in designs}
    for step in range(args.steps):  # lockstep bisection: every design at its midpoint, one run
        mid = {d: (lo[d] + hi[d]) / 2 for d in designs}
        oc = run(with_thresholds(null, mid), n_trials=args.calibrate_trials, workers=args.workers).oc
        fwer = oc[oc.metric == "prob_any_effective"].set_index("design")["estimate"]
        for d in designs:
            if fwer[d] <= args.target:
                hi[d] = mid[d]
            else:
                lo[d] = mid[d]
        print(f"step {step + 1}: " + ", ".join(f"{d} {mid[d]:.5f} -> {fwer[d]:.4f}" for d in designs), flush=True)
    thresholds = hi  # the smallest threshold seen with FWER <= target
    print("calibrated superiority thresholds:", json.dumps(thresholds))
    result = run(with_thresholds(scenario, thresholds), n_trials=args.n_trials, workers=args.workers)
    oc = result.oc[result.oc.metric.isin(METRICS)]
    table = oc.assign(value=[f"{e:.4g} ({s:.2g})" for e, s in zip(oc.estimate, oc.mcse)])
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(f"{args.n_trials} trials per truth x design; estimate (MCSE)")
        print(table.pivot_table(index=["truth", "metric"], columns="design", values="value", aggfunc="first"))


if __name__ == "__main__":
    main()
