"""Targets of the scenario (`targets:`) judged against an OC table, with the Monte Carlo
uncertainty of each verdict.

A verdict compares the estimate with its bound in units of its MCSE:
z = (estimate - bound) / MCSE, signed so that z > 0 means the target is met.
Pr(met) = Phi(z) is the probability that the target is met given the simulated
estimate (normal approximation, flat prior). Within 2 MCSE of the bound the
verdict is "uncertain": more trials are needed to tell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import ndtr

from .glossary import resolve
from .info import RunInfo

COLUMNS = ["target", "design", "truth", "metric", "bound", "estimate", "mcse", "z", "prob_met", "verdict"]
SYMBOL = {"met": "✓", "missed": "✗", "uncertain": "?", "not computed": "–"}


def verdict(estimate: float, mcse: float, lower: float | None, upper: float | None) -> tuple[float, float, str]:
    """(z, Pr(met), verdict) of one estimate against [lower, upper]; the binding side decides."""
    if not np.isfinite(estimate):
        return np.nan, np.nan, "not computed"
    margins = [estimate - lower] if lower is not None else []
    margins += [upper - estimate] if upper is not None else []
    margin = min(margins)
    if not np.isfinite(mcse) or mcse == 0:
        z = np.inf if margin >= 0 else -np.inf
    else:
        z = margin / mcse
    met = margin >= 0
    word = "uncertain" if abs(z) < 2 else ("met" if met else "missed")
    return float(z), float(ndtr(z)), word


def bound_text(lower: float | None, upper: float | None) -> str:
    if lower is not None and upper is not None:
        return f"in [{lower:g}, {upper:g}]"
    return f"≥ {lower:g}" if lower is not None else f"≤ {upper:g}"


def check_targets(oc: pd.DataFrame, ds: xr.Dataset, targets: dict | None = None) -> pd.DataFrame:
    """One row per target x design x truth: the estimate, its bound, z, Pr(met) and the verdict.

    `targets` defaults to those in the Dataset's scenario (attrs["scenario_json"]).
    """
    info = RunInfo.of(ds)
    targets = info.targets if targets is None else targets
    table = oc.set_index(["design", "truth", "metric"])
    rows = []
    for name, t in targets.items():
        truths = [t["truth"]] if isinstance(t["truth"], str) else list(t["truth"])
        run = [str(d) for d in ds["design"].values]
        for design in (d for d in (t.get("designs") or run) if d in run):  # a subset run judges what it ran
            metric = resolve(t.get("metric") or name, bool(str(ds["control_arm"].sel(design=design).values)))
            for truth in (x for x in truths if x in ds["truth"].values):
                key = (design, truth, metric)
                est, se = (table.loc[key, "estimate"], table.loc[key, "mcse"]) if key in table.index else (np.nan, np.nan)
                z, prob, word = verdict(float(est), float(se), t.get("min"), t.get("max"))
                rows.append((name, design, truth, metric, bound_text(t.get("min"), t.get("max")), est, se, z, prob, word))
    return pd.DataFrame.from_records(rows, columns=COLUMNS)


def flags(checks: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """(design, truth, metric) -> a short flag for tables, e.g. '✗ target ≤ 0.025 missed (z -3.1)'."""
    out = {}
    for r in checks.itertuples():
        out[(r.design, r.truth, r.metric)] = f"{SYMBOL[r.verdict]} {r.target} {r.bound}: {r.verdict}" + (
            f" (z {r.z:+.1f}, Pr(met) {r.prob_met:.2f})" if np.isfinite(r.z) else "")
    return out


def per_trial_oc(ds: xr.Dataset) -> pd.DataFrame:
    """The averaged OC metrics of a Dataset as an OC-table frame (enough to judge most targets)."""
    from .per_trial import per_trial_table

    rows = [(d, t, m, v.estimate, v.mcse) for (d, t), metrics in per_trial_table(ds).items() for m, v in metrics.items()]
    return pd.DataFrame.from_records(rows, columns=["design", "truth", "metric", "estimate", "mcse"])
