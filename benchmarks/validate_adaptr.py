"""Simulate adaptr's published designs and compare with the published metrics.

    python benchmarks/validate_adaptr.py [-n 10000] [--workers 2] [--only NAME ...]

Published results (scenarios/validation/): the Overview vignette (no control; null and
alternative, 1,000 trials each), the common-control design of adaptr's JOSS paper (1,000
trials; a superior arm becomes the new control, sqrt-based control share) and adaptr's own
common-control test design with equivalence and futility (20 trials). One more reference is
adaptr itself run on the development machine: 10,000 trials of the JOSS design
(adaptr_joss_control_measured.csv, how it was made in its header), which tests the new-control
semantics with ten times the published precision. Prints ours vs theirs with
z = (ours - theirs) / combined SE; exits 1 if any |z| >= 3.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trialsim.api import run
from trialsim.summarise.validation import compare, read_reference

HERE = Path(__file__).resolve().parents[1] / "scenarios" / "validation"


@dataclass(frozen=True)
class Published:
    """One adaptr result (published, or adaptr run here): our scenario file, its reference CSV and rows,
    their trial count."""

    name: str
    scenario: str
    reference: str
    rows: str  # the reference CSV's `scenario` column
    n_published: int


PUBLISHED = (
    Published("overview_null", "adaptr_overview_null.yaml", "adaptr_overview_published.csv", "null", 1000),
    Published("overview_alt", "adaptr_overview_alt.yaml", "adaptr_overview_published.csv", "alt", 1000),
    Published("joss_control", "adaptr_joss_control.yaml", "adaptr_joss_control_published.csv", "joss", 1000),
    Published("joss_control_measured", "adaptr_joss_control.yaml", "adaptr_joss_control_measured.csv", "joss_10k",
              10_000),
    Published("tests_futility", "adaptr_tests_futility.yaml", "adaptr_tests_futility_published.csv", "tests", 20),
)


def validation_table(n_trials: int, workers: int = 1, only: list[str] | None = None) -> pd.DataFrame:
    tables = []
    for p in PUBLISHED:
        if only and p.name not in only:
            continue
        reference = read_reference(HERE / p.reference)
        result = run(HERE / p.scenario, n_trials=n_trials, workers=workers)
        table = compare(result.oc, reference[reference.scenario == p.rows], n_trials, p.n_published)
        tables.append(table.assign(scenario=p.name))
    return pd.concat(tables, ignore_index=True)[["scenario", "metric", "ours", "se_ours", "theirs", "se_theirs", "z"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--n-trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=[p.name for p in PUBLISHED])
    args = parser.parse_args()
    began = time.perf_counter()
    table = validation_table(args.n_trials, args.workers, args.only)
    with pd.option_context("display.width", 120, "display.float_format", "{:.5g}".format):
        print(table.to_string(index=False))
    worst = table["z"].abs().max()
    print(f"\n{args.n_trials} trials per scenario in {time.perf_counter() - began:.1f} s; max |z| = {worst:.2f} "
          f"({'agreement' if worst < 3 else 'DISAGREEMENT'})")
    return 0 if worst < 3 else 1


if __name__ == "__main__":
    sys.exit(main())
