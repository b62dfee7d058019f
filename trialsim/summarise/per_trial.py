"""Operating characteristics as averages of per-trial values, for paired comparisons.

Every metric here is a smooth function of means over trials: a proportion, a
mean, a mean over a subset of trials (a ratio of means) or the root of a mean
square. Each comes with its per-trial *influence values* `u_i`: the estimate
moves by about mean(u) when the trials are perturbed, so its Monte Carlo SE is
sd(u) / sqrt(n), and the SE of a paired difference of two designs run on the
same trials (common random numbers) is sd(u_a - u_b) / sqrt(n). For means the
influence values are the per-trial values themselves (centred).

Names and estimates equal those of the OC table (oc.csv); quantiles and SDs
are left out because they are not averages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .info import RunInfo, codes
from .selection import estimate_errors
from .selection_metrics import ADAPTR_STATUS, GRADUATE_STATUS, selected_under, selection_plan


@dataclass(frozen=True)
class PerTrial:
    """One metric of one design under one truth: its estimate and per-trial influence values."""

    estimate: float
    influence: np.ndarray  # (trial,), mean zero

    @property
    def mcse(self) -> float:
        n = self.influence.size
        return float(self.influence.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan


def average(x: np.ndarray) -> PerTrial:
    x = np.asarray(x, float)
    m = float(x.mean())
    return PerTrial(m, x - m)


def subset_average(x: np.ndarray, keep: np.ndarray) -> PerTrial:
    """Mean of x over the trials in `keep` (a ratio of two means; NaN if none kept)."""
    share = keep.mean()
    if share == 0:
        return PerTrial(np.nan, np.full(keep.shape, np.nan))
    m = float(x[keep].mean())
    return PerTrial(m, np.where(keep, np.asarray(x, float) - m, 0.0) / share)


def root_mean_square(err: np.ndarray, keep: np.ndarray | None = None) -> PerTrial:
    """sqrt(mean err^2) over `keep`; influence by the delta method, u / (2 rmse)."""
    keep = np.ones(err.shape, bool) if keep is None else keep
    msq = subset_average(np.where(keep, err, 0.0) ** 2, keep)
    r = float(np.sqrt(msq.estimate)) if np.isfinite(msq.estimate) else np.nan
    return PerTrial(r, msq.influence / (2 * r) if r > 0 else np.full(err.shape, np.nan))


def _selection(cell: xr.Dataset, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(selected arm per trial, the estimates selection metrics use, the treatment-effect comparator)."""
    if "selection_strategies" not in cell:  # records written before selection strategies: as recorded
        control = str(cell["control_arm"].values)
        arms = [str(a) for a in cell["arm"].values]
        return cell["selected_arm"].values, estimate, arms.index(control) if control else None
    plan = selection_plan(cell)
    estimates = cell["estimate_median"].values if plan.estimate == "median" else estimate
    return selected_under(cell), estimates, plan.te_comp


def cell_per_trial(ds: xr.Dataset, design: str, truth: str, info: RunInfo | None = None) -> dict[str, PerTrial]:
    """Every averaged metric of one design under one truth, in the OC table's names."""
    info = info or RunInfo.of(ds)
    cell = ds.sel(design=design, truth=truth)
    arms = [str(a) for a in ds["arm"].values]
    stop, fate = codes(ds, "stop_reason"), codes(ds, "arm_fate")
    control = str(cell["control_arm"].values)
    reason = cell["stop_reason"].values
    estimate = cell["estimate"].values
    size = cell["size"].values.astype(float)
    n_arm = cell["n_randomised"].values.astype(float)
    truth_values = cell["true_value"].values
    internal = -truth_values if info.lower_is_better else truth_values  # higher is better

    out: dict[str, PerTrial] = {}
    for name, x in (("size_mean", size), ("sum_ys_mean", cell["sum_ys"].values),
                    ("ratio_ys_mean", cell["sum_ys"].values / np.maximum(cell["n_analysed_total"].values, 1))):
        out[name] = average(x)
    # final statuses under the names the OC table gives them (adaptr's, or the graduate rule's own)
    graduate = "on_superior" in cell and str(cell["on_superior"].values) == "graduate"
    names = GRADUATE_STATUS if graduate else ADAPTR_STATUS
    out["prob_stop_conclusive" if graduate else "prob_conclusive"] = average(reason != stop["max"])
    for status, name in names.items():
        out[name] = average(reason == int(status))

    # the design's first selection strategy, as in the OC table
    selected, estimates, te_comp = _selection(cell, estimate)
    for i, a in enumerate(arms):
        out[f"prob_select_arm_{a}"] = average(selected == i)
    out["prob_select_none"] = average(selected < 0)
    chosen = selected >= 0
    err, err_te = estimate_errors(selected, estimates, truth_values, te_comp)
    out["rmse"] = root_mean_square(np.nan_to_num(err), chosen)
    out["rmse_te"] = root_mean_square(np.nan_to_num(err_te), ~np.isnan(err_te))
    best, worst = internal.max(), internal.min()
    if best > worst + 1e-12 and chosen.any():
        out["idp"] = subset_average((internal[np.maximum(selected, 0)] - worst) / (best - worst) * 100, chosen)
    if control:
        effective = cell["arm_fate"].values == fate["effective"]
        for i, a in enumerate(arms):
            if a != control:
                out[f"prob_effective_{a}"] = average(effective[:, i])
        out["prob_any_effective"] = average(effective.any(axis=1))

    share = n_arm / np.maximum(size, 1)[:, None]
    responders = cell["responders"].values.astype(float)
    for i, a in enumerate(arms):
        out[f"n_{a}_mean"] = average(n_arm[:, i])
        out[f"alloc_{a}"] = average(share[:, i])
        out[f"responders_{a}_mean"] = average(responders[:, i])
    out["responders_mean"] = average(responders.sum(axis=1))
    for i, a in enumerate(arms):
        err = estimate[:, i] - truth_values[i]
        out[f"bias_{a}"] = average(err)
        out[f"rmse_{a}"] = root_mean_square(err)

    order = np.argsort(internal)[::-1]
    if internal[order[0]] > internal[order[1]] + 1e-12:  # a uniquely best arm
        b = order[0]
        inferior = internal < internal[b] - 1e-12
        out["prob_select_best"] = average(selected == b)
        out["share_on_best_mean"] = average(share[:, b])
        out["prob_more_on_inferior"] = average((n_arm[:, inferior] > n_arm[:, [b]]).any(axis=1))
    out["duration_weeks_mean"] = average(cell["duration_weeks"].values)
    out["prob_look_skipped"] = average(cell["looks_skipped"].values > 0)
    ae = cell["adverse_events"].sum("arm").values
    for j, name in enumerate(ds["adverse_event"].values):
        out[f"ae_{name}_mean"] = average(ae[:, j])
    look = cell["stop_look"].values
    n_looks = int(cell["n_looks"].values) if "n_looks" in cell else info.n_looks(design)
    for j in range(n_looks):
        out[f"prob_stop_look_{j + 1}"] = average(look == j)
    return out


def per_trial_table(ds: xr.Dataset) -> dict[tuple[str, str], dict[str, PerTrial]]:
    """(design, truth) -> metric -> PerTrial, for every cell of a results Dataset."""
    info = RunInfo.of(ds)
    return {(str(d), str(t)): cell_per_trial(ds, str(d), str(t), info)
            for d in ds["design"].values for t in ds["truth"].values}
