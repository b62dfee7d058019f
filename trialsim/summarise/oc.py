"""Operating characteristics with Monte Carlo standard errors.

One long table: design, truth, metric, estimate, mcse. Metric names follow
adaptr's `check_performance()` where the meaning is the same (size_*,
sum_ys_*, ratio_ys_*, prob_superior, prob_equivalence, prob_futility,
prob_max, prob_conclusive, prob_select_arm_<arm>, prob_select_none, rmse,
mae, rmse_te, mae_te, idp; selection_metrics.py), plus sham-controlled and
allocation metrics. The sham-controlled `graduate` rule's final statuses have
no adaptr counterpart and their own names (prob_stop_*).

Monte Carlo SEs are analytic: binomial for proportions, sd / sqrt(n) for
means, the delta method for RMSE and IDP, and the order-statistic
(binomial) interval for quantiles. Estimates on the endpoint's own scale;
"best" means best in the endpoint's direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..design.state import ArmFate
from .selection_metrics import remaining, selected_under, selection, stopping

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


def sd(x: np.ndarray) -> tuple[float, float]:
    """Sample SD and its MCSE from the fourth central moment (delta method).

    Var(s^2) ~ (m4 - s^4 (n - 3) / (n - 1)) / n; for normal data this is the
    familiar s / sqrt(2 (n - 1)), but sample sizes and durations are far from
    normal (a spike at the maximum), where that formula understates the error.
    """
    x = np.asarray(x, float)
    n = x.size
    if n < 4:
        return (float(np.std(x, ddof=1)) if n > 1 else np.nan), np.nan
    s2 = x.var(ddof=1)
    m4 = ((x - x.mean()) ** 4).mean()
    var_s2 = max(m4 - s2**2 * (n - 3) / (n - 1), 0.0) / n
    s = float(np.sqrt(s2))
    return s, float(np.sqrt(var_s2) / (2 * s)) if s > 0 else np.nan


def distribution(name: str, x: np.ndarray) -> list[tuple[str, float, float]]:
    rows = [(f"{name}_mean", *mean(x)), (f"{name}_sd", *sd(x))]
    rows += [(f"{name}_{label}", *quantile(x, q)) for label, q in QUANTILES.items()]
    return rows


Rows = list[tuple[str, float, float]]


def size_and_outcomes(cell: xr.Dataset) -> Rows:
    """Sample size, outcome sums and outcome per analysed patient (adaptr's size_*, sum_ys_*, ratio_ys_*)."""
    sum_ys = cell["sum_ys"].values
    return (distribution("size", cell["size"].values) + distribution("sum_ys", sum_ys)
            + distribution("ratio_ys", sum_ys / np.maximum(cell["n_analysed_total"].values, 1)))


def effectiveness(cell: xr.Dataset) -> Rows:
    """Sham-controlled: each arm declared effective vs the control; any arm (family-wise under the null)."""
    c = _control_index(cell)
    if c is None:
        return []
    effective = cell["arm_fate"].values == ArmFate.EFFECTIVE
    rows = [(f"prob_effective_{a}", *proportion(effective[:, i])) for i, a in enumerate(cell["arm"].values) if i != c]
    return rows + [("prob_any_effective", *proportion(effective.any(axis=1)))]


def patients_per_arm(cell: xr.Dataset) -> Rows:
    """Patients, allocation share and responders per arm."""
    n_arm, responders = cell["n_randomised"].values, cell["responders"].values
    share = n_arm / np.maximum(cell["size"].values, 1)[:, None]
    rows: Rows = []
    for i, a in enumerate(cell["arm"].values):
        rows += [(f"n_{a}_mean", *mean(n_arm[:, i])), (f"alloc_{a}", *mean(share[:, i])),
                 (f"responders_{a}_mean", *mean(responders[:, i]))]
    return rows + [("responders_mean", *mean(responders.sum(axis=1)))]


def phenotypes(cell: xr.Dataset) -> Rows:
    """Per phenotype, for designs that adapt by phenotype (stratified allocation, enrichment)."""
    enrichment = bool(cell["phenotype_futility"].values)
    if not (bool(cell["stratified"].values) or enrichment):
        return []
    by_pheno, closed = cell["n_by_phenotype"].values, cell["closed"].values  # (trial, arm, phenotype), (trial, phenotype, arm)
    c = _control_index(cell)
    rows: Rows = []
    for j, ph in enumerate(cell["phenotype"].values):
        for i, a in enumerate(cell["arm"].values):
            rows.append((f"n_{a}_{ph}_mean", *mean(by_pheno[:, i, j])))
            if enrichment and i != c:
                rows.append((f"prob_closed_{a}_{ph}", *proportion(closed[:, j, i])))
    return rows


def estimation(cell: xr.Dataset) -> Rows:
    """Bias and RMSE of every arm's final estimate, over every trial."""
    estimate, truth = cell["estimate"].values, cell["true_value"].values
    rows: Rows = []
    for i, a in enumerate(cell["arm"].values):
        err = estimate[:, i] - truth[i]
        rows += [(f"bias_{a}", *mean(err)), (f"rmse_{a}", *rmse(err))]
    return rows


def best_arm(cell: xr.Dataset, internal: np.ndarray, strategies: list[str] | None = None) -> Rows:
    """Selection of, and patients on, the truly best arm when one arm is uniquely best."""
    order = np.argsort(internal)[::-1]
    if internal[order[0]] <= internal[order[1]] + 1e-12:
        return []
    b = order[0]
    n_arm = cell["n_randomised"].values
    share = n_arm / np.maximum(cell["size"].values, 1)[:, None]
    inferior = internal < internal[b] - 1e-12
    return [
        ("prob_select_best", *proportion(selected_under(cell, strategies[0] if strategies else None) == b)),
        ("share_on_best_mean", *mean(share[:, b])),
        ("prob_more_on_inferior", *proportion((n_arm[:, inferior] > n_arm[:, [b]]).any(axis=1))),
    ]


def fit_diagnostics(cell: xr.Dataset) -> Rows:
    rows = [("prob_look_skipped", *proportion(cell["looks_skipped"].values > 0))]
    fits, flagged = cell["fits"].values.astype(float), cell["fit_problems"].values.astype(float)
    n = fits.size
    if fits.sum() > 0:  # ratio estimator: flagged fits / fits, delta-method SE over trials
        share = flagged.sum() / fits.sum()
        resid = flagged - share * fits
        se = np.sqrt((resid**2).sum() / (n * (n - 1))) / fits.mean() if n > 1 else np.nan
        rows += [("share_fits_flagged", share, se), ("prob_any_fit_flagged", *proportion(flagged > 0))]
    return rows


def adverse_events(cell: xr.Dataset) -> Rows:
    ae = cell["adverse_events"].sum("arm").values  # (trial, adverse_event)
    return [(f"ae_{name}_mean", *mean(ae[:, j])) for j, name in enumerate(cell["adverse_event"].values)]


def stopping_look(cell: xr.Dataset) -> Rows:
    look = cell["stop_look"].values
    return [(f"prob_stop_look_{j + 1}", *proportion(look == j)) for j in range(int(cell["n_looks"].values))]


def _control_index(cell: xr.Dataset) -> int | None:
    control = str(cell["control_arm"].values)
    return list(cell["arm"].values).index(control) if control else None


def cell_metrics(cell: xr.Dataset, higher_is_better: bool, strategies: list[str] | None = None) -> Rows:
    """Every metric of one design under one truth; `cell` has dims (trial, arm, ...).

    `strategies` replaces the design's selection strategies (the first gets the plain names).
    """
    internal = cell["true_value"].values * (1 if higher_is_better else -1)  # only order and ratios matter
    return (size_and_outcomes(cell) + stopping(cell) + selection(cell, internal, strategies) + remaining(cell)
            + effectiveness(cell) + patients_per_arm(cell) + phenotypes(cell) + estimation(cell)
            + best_arm(cell, internal, strategies) + distribution("duration_weeks", cell["duration_weeks"].values)
            + fit_diagnostics(cell) + adverse_events(cell) + stopping_look(cell))


def oc_table(ds: xr.Dataset, strategies: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """The operating-characteristic table of a run: one row per design, truth and metric.

    `strategies` (design -> selection strategies) summarises a finished run under other
    selection strategies than its designs name, without re-simulating.
    """
    higher_is_better = ds.attrs.get("higher_is_better", "1") == "1"
    records = []
    for design in ds["design"].values:
        chosen = (strategies or {}).get(str(design))
        for truth in ds["truth"].values:
            cell = ds.sel(design=design, truth=truth)
            for metric, est, se in cell_metrics(cell, higher_is_better, chosen):
                records.append((str(design), str(truth), metric, est, se))
    return pd.DataFrame.from_records(records, columns=COLUMNS)


__all__ = ["oc_table", "proportion", "mean", "quantile", "rmse"]
