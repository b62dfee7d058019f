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


def cell_per_trial(ds: xr.Dataset, design: str, truth: str, info: RunInfo | None = None) -> dict[str, PerTrial]:
    """Every averaged metric of one design under one truth, in the OC table's names."""
    info = info or RunInfo.of(ds)
    cell = ds.sel(design=design, truth=truth)
    arms = [str(a) for a in ds["arm"].values]
    stop, fate = codes(ds, "stop_reason"), codes(ds, "arm_fate")
    control = str(cell["control_arm"].values)
    reason = cell["stop_reason"].values
    selected = cell["selected_arm"].values
    estimate = cell["estimate"].values
    size = cell["size"].values.astype(float)
    n_arm = cell["n_randomised"].values.astype(float)
    truth_values = cell["true_value"].values
    internal = -truth_values if info.lower_is_better else truth_values  # higher is better

    out: dict[str, PerTrial] = {}
    for name, x in (("size_mean", size), ("sum_ys_mean", cell["sum_ys"].values),
                    ("ratio_ys_mean", cell["sum_ys"].values / np.maximum(cell["n_analysed_total"].values, 1))):
        out[name] = average(x)
    superior, equivalent, futile = (reason == stop[k] for k in ("superiority", "equivalence", "futility"))
    for name, x in (("prob_conclusive", superior | equivalent | futile), ("prob_superior", superior),
                    ("prob_equivalence", equivalent), ("prob_futility", futile), ("prob_max", reason == stop["max"])):
        out[name] = average(x)
    for i, a in enumerate(arms):
        out[f"prob_select_arm_{a}"] = average(selected == i)
    out["prob_select_none"] = average(selected < 0)

    chosen = selected >= 0
    sel = np.maximum(selected, 0)
    sel_estimate = np.take_along_axis(estimate, sel[:, None], 1)[:, 0]
    out["rmse"] = root_mean_square(sel_estimate - truth_values[sel], chosen)
    best, worst = internal.max(), internal.min()
    if best > worst + 1e-12 and chosen.any():
        out["idp"] = subset_average((internal[sel] - worst) / (best - worst) * 100, chosen)
    if control:
        c = arms.index(control)
        te = chosen & (selected != c)
        out["rmse_te"] = root_mean_square((sel_estimate - estimate[:, c]) - (truth_values[sel] - truth_values[c]), te)
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
    for j in range(info.n_looks(design)):
        out[f"prob_stop_look_{j + 1}"] = average(look == j)
    return out


def per_trial_table(ds: xr.Dataset) -> dict[tuple[str, str], dict[str, PerTrial]]:
    """(design, truth) -> metric -> PerTrial, for every cell of a results Dataset."""
    info = RunInfo.of(ds)
    return {(str(d), str(t)): cell_per_trial(ds, str(d), str(t), info)
            for d in ds["design"].values for t in ds["truth"].values}
