"""Simulate adaptr's Overview vignette designs and compare with the published metrics.

    python benchmarks/validate_adaptr.py [-n 10000] [--workers 2]

Prints ours vs theirs with z = (ours - theirs) / combined SE; exits 1 if any |z| >= 3.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from trialsim.api import run
from trialsim.summarise.validation import compare, read_reference

HERE = Path(__file__).resolve().parents[1] / "scenarios" / "validation"


def validation_table(n_trials: int, workers: int = 1) -> pd.DataFrame:
    reference = read_reference(HERE / "adaptr_overview_published.csv")
    tables = []
    for scenario in ("null", "alt"):
        result = run(HERE / f"adaptr_overview_{scenario}.yaml", n_trials=n_trials, workers=workers)
        table = compare(result.oc, reference[reference.scenario == scenario], n_trials, 1000)
        tables.append(table.assign(scenario=scenario))
    return pd.concat(tables, ignore_index=True)[["scenario", "metric", "ours", "se_ours", "theirs", "se_theirs", "z"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    began = time.perf_counter()
    table = validation_table(args.n_trials, args.workers)
    with pd.option_context("display.width", 120, "display.float_format", "{:.5g}".format):
        print(table.to_string(index=False))
    worst = table["z"].abs().max()
    print(f"\n{args.n_trials} trials per scenario in {time.perf_counter() - began:.1f} s; max |z| = {worst:.2f} "
          f"({'agreement' if worst < 3 else 'DISAGREEMENT'})")
    return 0 if worst < 3 else 1


if __name__ == "__main__":
    sys.exit(main())
