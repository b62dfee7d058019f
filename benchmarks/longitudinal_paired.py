"""Paired differences (common random numbers) of the longitudinal designs against `adaptive`.

    PYTHONPATH=. python benchmarks/longitudinal_paired.py THRESHOLDS_JSON [-n 10000] [-w 2] [--out trials.nc]

THRESHOLDS_JSON: the calibrated superiority thresholds printed by longitudinal_gain.py. Runs the
bundled longitudinal scenario's calibrated designs under every truth and prints, per truth, each
design's mean size, duration, Pr(any effective), Pr(select best) and share on the best arm with
the paired difference to `adaptive` and its Monte Carlo SE (the same virtual trials for each).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from trialsim.api import run
from trialsim.scenario import load_scenario, parse_scenario
from trialsim.summarise.selection_metrics import selected_under

from longitudinal_gain import SCENARIO, with_thresholds  # noqa: E402 (run from benchmarks/ on the path)


def per_trial(ds, design: str, truth: str) -> dict[str, np.ndarray]:
    cell = ds.sel(design=design, truth=truth)
    truth_values = -cell["true_value"].values  # nrs_change: lower is better
    best = int(np.argmax(truth_values))
    unique = np.sort(truth_values)[-1] > np.sort(truth_values)[-2] + 1e-9
    share = cell["n_randomised"].values[:, best] / np.maximum(cell["size"].values, 1)
    out = {"size": cell["size"].values.astype(float), "duration": cell["duration_weeks"].values,
           "any_effective": (cell["arm_fate"].values == 1).any(axis=1).astype(float)}
    if unique:
        out["select_best"] = (selected_under(cell, None) == best).astype(float)
        out["share_best"] = share
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("thresholds")
    parser.add_argument("-n", "--n-trials", type=int, default=10000)
    parser.add_argument("-w", "--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    thresholds = json.loads(args.thresholds)
    data = load_scenario(SCENARIO).model_dump(mode="json")
    data["designs"] = {d: data["designs"][d] for d in thresholds}
    ds = run(with_thresholds(parse_scenario(data), thresholds), n_trials=args.n_trials, workers=args.workers).trials
    if args.out:
        ds.to_netcdf(args.out)
    for truth in ds["truth"].values:
        base = per_trial(ds, "adaptive", str(truth))
        print(f"truth {truth} ({args.n_trials} trials): mean (MCSE) and paired difference to adaptive (MCSE)")
        for design in thresholds:
            cur = per_trial(ds, design, str(truth))
            cells = []
            for k, x in cur.items():
                d = x - base[k]
                cells.append(f"{k} {x.mean():.4g} ({x.std(ddof=1) / np.sqrt(x.size):.2g}) "
                             f"diff {d.mean():+.4g} ({d.std(ddof=1) / np.sqrt(d.size):.2g})")
            print(f"  {design:22s} " + "; ".join(cells))


if __name__ == "__main__":
    main()
