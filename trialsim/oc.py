"""Operating characteristics with Monte Carlo standard errors.

One long table: design, truth, metric, estimate, mcse. Metric names follow
adaptr's `check_performance()` where the meaning is the same (size_*,
sum_ys_*, ratio_ys_*, prob_superior, prob_equivalence, prob_futility,
prob_max, prob_conclusive, prob_select_arm_<arm>, prob_select_none, rmse,
mae, rmse_te, mae_te, idp), plus sham-controlled and allocation metrics.

Monte Carlo SEs are analytic: binomial for proportions, sd / sqrt(n) for
means, the delta method for RMSE and IDP, and the order-statistic
(binomial) interval for quantiles. Estimates on the endpoint's own scale;
"best" means best in the endpoint's direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .decisions import ArmFate, Stop
from .response import to_internal
from .scenario import Scenario
from .summarise.selection_metrics import remaining_rows, selected_under, status_rows, strategy_rows

COLUMNS = ["design", "truth", "metric", "estimate", "mcse"]
QUANTILES = {"median": 0.5, "p25": 0.25, "p75": 0.75, "p0": 0.0, "p100": 1.0}


def proportion(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, float)
    n = x.size
    if n == 0:
        return np.nan, np.nan
    p = x.mean()
    return p, float(np.sqrt(p * (1 - p) / n))


def mean(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, float)
    if x.size == 0:
        return np.nan, np.nan
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else np.nan


def quantile(x: np.ndarray, q: float) -> tuple[float, float]:
    """Sample quantile and its MCSE from the 95% order-statistic interval / (2 x 1.96)."""
    x = np.sort(np.asarray(x, float))
    n = x.size
    if n == 0:
        return np.nan, np.nan
    est = float(np.quantile(x, q))
    if q in (0.0, 1.0):
        return est, np.nan  # extremes have no useful normal-theory SE
    half = 1.96 * np.sqrt(n * q * (1 - q))
    lo, hi = int(np.clip(np.floor(n * q - half), 0, n - 1)), int(np.clip(np.ceil(n * q + half), 0, n - 1))
    return est, float((x[hi] - x[lo]) / (2 * 1.96))


def rmse(err: np.ndarray) -> tuple[float, float]:
    err = np.asarray(err, float)
    if err.size < 2:
        return np.nan, np.nan
    msq, se_msq = mean(err**2)
    r = np.sqrt(msq)
    return float(r), float(se_msq / (2 * r)) if r > 0 else np.nan


def distribution(name: str, x: np.ndarray) -> list[tuple[str, float, float]]:
    rows = [(f"{name}_mean", *mean(x)), (f"{name}_sd", float(np.std(x, ddof=1)) if x.size > 1 else np.nan,
                                         float(np.std(x, ddof=1) / np.sqrt(2 * (x.size - 1))) if x.size > 1 else np.nan)]
    rows += [(f"{name}_{label}", *quantile(x, q)) for label, q in QUANTILES.items()]
    return rows


def cell_metrics(scenario: Scenario, cell: xr.Dataset, control: str, true_values: np.ndarray,
                 strategies: list[str] | None = None) -> list[tuple[str, float, float]]:
    """Every metric of one design under one truth; `cell` has dims (trial, arm, ...).

    `strategies` overrides the design's selection strategies (the first gets the plain names).
    """
    arms = scenario.arm_names
    endpoint = scenario.endpoint
    n = cell.sizes["trial"]
    size = cell["size"].values
    reason = cell["stop_reason"].values
    fate = cell["arm_fate"].values
    selected = cell["selected_arm"].values
    estimate = cell["estimate"].values
    n_arm = cell["n_randomised"].values
    rows: list[tuple[str, float, float]] = []
    rows += distribution("size", size)
    rows += distribution("sum_ys", cell["sum_ys"].values)
    analysed = cell["n_analysed_total"].values
    rows += distribution("ratio_ys", cell["sum_ys"].values / np.maximum(analysed, 1))
    design = scenario.designs[str(cell["design"].values)]
    if strategies:  # the primary strategy of this summary, not the stored one
        selected = selected_under(scenario, design, cell, strategies[0])
    rows += status_rows(design, reason)
    rows += strategy_rows(scenario, design, cell, true_values, strategies)
    rows += remaining_rows(scenario, design, cell)
    internal = to_internal(endpoint, true_values)

    # Sham-controlled: each arm declared effective vs the control; any arm (family-wise under the null)
    if control:
        effective = fate == ArmFate.EFFECTIVE
        rows += [(f"prob_effective_{a}", *proportion(effective[:, i])) for i, a in enumerate(arms) if a != control]
        rows.append(("prob_any_effective", *proportion(effective.any(axis=1))))

    # Patients, allocation, responders per arm
    share = n_arm / np.maximum(size, 1)[:, None]
    responders = cell["responders"].values
    for i, a in enumerate(arms):
        rows += [(f"n_{a}_mean", *mean(n_arm[:, i])), (f"alloc_{a}", *mean(share[:, i])),
                 (f"responders_{a}_mean", *mean(responders[:, i]))]
    total_resp = responders.sum(axis=1)
    rows.append(("responders_mean", *mean(total_resp)))

    # Per phenotype, for designs that adapt by phenotype (stratified allocation, enrichment)
    if design.allocation.stratify_by_phenotype or design.decisions.phenotype_futility is not None:
        by_pheno = cell["n_by_phenotype"].values  # (trial, arm, phenotype)
        closed = cell["closed"].values  # (trial, phenotype, arm)
        for j, ph in enumerate(scenario.phenotype_names):
            for i, a in enumerate(arms):
                rows.append((f"n_{a}_{ph}_mean", *mean(by_pheno[:, i, j])))
                if design.decisions.phenotype_futility is not None and a != control:
                    rows.append((f"prob_closed_{a}_{ph}", *proportion(closed[:, j, i])))

    # Estimation accuracy per arm (final analysis, every trial)
    for i, a in enumerate(arms):
        err = estimate[:, i] - true_values[i]
        rows += [(f"bias_{a}", *mean(err)), (f"rmse_{a}", *rmse(err))]

    # Patients on the truly best arm, when one arm is uniquely best
    order = np.argsort(internal)[::-1]
    if internal[order[0]] > internal[order[1]] + 1e-12:
        b = order[0]
        inferior = internal < internal[b] - 1e-12
        rows += [
            ("prob_select_best", *proportion(selected == b)),
            ("share_on_best_mean", *mean(share[:, b])),
            ("prob_more_on_inferior", *proportion((n_arm[:, inferior] > n_arm[:, [b]]).any(axis=1))),
        ]
    rows += distribution("duration_weeks", cell["duration_weeks"].values)
    rows.append(("prob_look_skipped", *proportion(cell["looks_skipped"].values > 0)))
    fits, flagged = cell["fits"].values.astype(float), cell["fit_problems"].values.astype(float)
    if fits.sum() > 0:  # ratio estimator: flagged fits / fits, delta-method SE over trials
        share = flagged.sum() / fits.sum()
        resid = flagged - share * fits
        se = np.sqrt((resid**2).sum() / (n * (n - 1))) / fits.mean() if n > 1 else np.nan
        rows += [("share_fits_flagged", share, se), ("prob_any_fit_flagged", *proportion(flagged > 0))]
    ae = cell["adverse_events"].sum("arm").values  # (trial, adverse_event)
    rows += [(f"ae_{name}_mean", *mean(ae[:, j])) for j, name in enumerate(cell["adverse_event"].values)]
    look = cell["stop_look"].values
    n_looks = design.looks.n_looks
    rows += [(f"prob_stop_look_{j + 1}", *proportion(look == j)) for j in range(n_looks)]
    return rows


def oc_table(scenario: Scenario, ds: xr.Dataset, strategies: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The operating-characteristic table of a run: one row per design, truth and metric.

    `strategies` (design -> selection strategies) recomputes selection metrics of a finished
    run under other strategies than the designs name.
    """
    records = []
    for design in ds["design"].values:
        control = str(ds["control_arm"].sel(design=design).values)
        chosen = (strategies or {}).get(str(design))
        for truth in ds["truth"].values:
            cell = ds.sel(design=design, truth=truth)
            for metric, est, se in cell_metrics(scenario, cell, control, ds["true_value"].sel(truth=truth).values, chosen):
                records.append((str(design), str(truth), metric, est, se))
    return pd.DataFrame.from_records(records, columns=COLUMNS)


__all__ = ["oc_table", "proportion", "mean", "quantile", "rmse"]
