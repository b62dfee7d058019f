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
from scipy import special

from ..blinding import bang_index
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
    """Sham-controlled: each arm declared effective vs its control; any arm (family-wise under the null);
    with matched controls also any arm of each control's family."""
    c = _control_index(cell)
    if c is None:
        return []
    comparator = _comparators(cell)
    effective = cell["arm_fate"].values == ArmFate.EFFECTIVE
    arms = list(cell["arm"].values)
    rows = [(f"prob_effective_{a}", *proportion(effective[:, i])) for i, a in enumerate(arms) if comparator[i] >= 0]
    rows.append(("prob_any_effective", *proportion(effective.any(axis=1))))
    families = np.unique(comparator[comparator >= 0])
    if families.size > 1:
        rows += [(f"prob_any_effective_vs_{arms[f]}", *proportion(effective[:, comparator == f].any(axis=1)))
                 for f in families]
    return rows


def harm(cell: xr.Dataset) -> Rows:
    """Designs with a harm rule: each arm dropped for harm, and any arm."""
    if "harm_rule" not in cell or not bool(cell["harm_rule"].values):
        return []
    harmful = cell["arm_fate"].values == ArmFate.HARMFUL
    return ([(f"prob_harmful_{a}", *proportion(harmful[:, i])) for i, a in enumerate(cell["arm"].values)]
            + [("prob_any_harmful", *proportion(harmful.any(axis=1)))])


def comparisons(cell: xr.Dataset) -> Rows:
    """Each arm-vs-own-control difference (designs with a control): bias and RMSE of the estimated
    difference against the true one, on the endpoint's scale."""
    if _control_index(cell) is None:
        return []
    comparator = _comparators(cell)
    estimate, truth = cell["estimate"].values, cell["true_value"].values
    rows: Rows = []
    for i, a in enumerate(cell["arm"].values):
        c = comparator[i]
        if c >= 0:
            err = (estimate[:, i] - estimate[:, c]) - (truth[i] - truth[c])
            rows += [(f"bias_diff_{a}", *mean(err)), (f"rmse_diff_{a}", *rmse(err))]
    return rows


def blinding(cell: xr.Dataset) -> Rows:
    """Truths with a blinding model: Bang's blinding index per arm (mean over trials of each trial's
    index, MCSE sd / sqrt(trials)); unblinded truths also the bias unblinding causes in each
    arm-vs-own-control estimate: estimate minus the same design's estimate under the perfectly
    blinded twin on the same patients (paired, so its MCSE is small)."""
    if "blinding_model" not in cell or not bool(cell["blinding_model"].values):
        return []
    comparator = _comparators(cell)
    controls = set(comparator[comparator >= 0].tolist())
    counts = cell["guesses"].values  # (trial, arm, guess)
    rows: Rows = []
    for i, a in enumerate(cell["arm"].values):
        bi = bang_index(counts[:, i], i in controls)
        bi = bi[np.isfinite(bi)]
        if bi.size:
            rows.append((f"bang_bi_{a}", *mean(bi)))
    if bool(cell["unblinded"].values):
        est, twin = cell["estimate"].values, cell["estimate_blinded"].values
        for i, a in enumerate(cell["arm"].values):
            c = comparator[i]
            if c >= 0:
                rows.append((f"unblinding_bias_{a}", *mean((est[:, i] - est[:, c]) - (twin[:, i] - twin[:, c]))))
    return rows


def _comparators(cell: xr.Dataset) -> np.ndarray:
    """Each arm's comparator index, -1 for controls (older results: the design's one control)."""
    arms = list(cell["arm"].values)
    if "comparator" in cell:
        return np.array([arms.index(str(c)) if str(c) else -1 for c in cell["comparator"].values])
    c = _control_index(cell)
    out = np.full(len(arms), -1 if c is None else c)
    if c is not None:
        out[c] = -1
    return out


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
        if np.isnan(err).all() and _smart(cell):  # a SMART estimates regimes, not arms
            continue
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


def ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """sum(num) / sum(den) over trials, with its delta-method (ratio estimator) MCSE."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    n = den.size
    if n < 2 or den.sum() <= 0:
        return np.nan, np.nan
    r = num.sum() / den.sum()
    resid = num - r * den
    return float(r), float(np.sqrt((resid**2).sum() / (n * (n - 1))) / den.mean())


def imputation(cell: xr.Dataset) -> Rows:
    """What the early visits bought at interims (analysis.longitudinal): the imputed endpoints against
    those later observed, per imputed patient: bias, RMSE, 95% predictive coverage (regression only)."""
    if "imputed_n" not in cell or cell["imputed_n"].values.sum() == 0:
        return []
    n = cell["imputed_n"].values
    rows = [("imputed_per_trial_mean", *mean(n)), ("imputation_bias", *ratio(cell["imputed_error_sum"].values, n))]
    msq, se = ratio(cell["imputed_error_sq_sum"].values, n)
    rows.append(("imputation_rmse", float(np.sqrt(msq)), float(se / (2 * np.sqrt(msq))) if msq > 0 else np.nan))
    regression = cell["imputed_covered"].values.sum() > 0
    if regression:
        rows.append(("imputation_coverage", *ratio(cell["imputed_covered"].values, n)))
    by_look = cell["imputed_by_look"].values  # (trial, interim, stat)
    for k in range(by_look.shape[1]):  # each interim with imputations
        n_k = np.nan_to_num(by_look[:, k, 0])
        if n_k.sum() == 0:
            continue
        rows.append((f"imputation_bias_look_{k + 1}", *ratio(np.nan_to_num(by_look[:, k, 1]), n_k)))
        if regression:
            rows.append((f"imputation_coverage_look_{k + 1}", *ratio(np.nan_to_num(by_look[:, k, 3]), n_k)))
    return rows


def durability(cell: xr.Dataset) -> Rows:
    """A secondary decision at a later visit (design `durability`): effective at the primary endpoint and
    durable later, per arm and for any arm; duration until the last patient reaches the later visit."""
    if "durability_weeks" not in cell or not np.isfinite(cell["durability_weeks"].values):
        return []
    c = _control_index(cell)
    durable = cell["durable"].values.astype(bool)
    estimate, weeks = cell["estimate_durable"].values, float(cell["durability_weeks"].values)
    rows = [(f"prob_durable_{a}", *proportion(durable[:, i])) for i, a in enumerate(cell["arm"].values) if i != c]
    rows += [(f"estimate_durable_{a}_mean", *mean(estimate[:, i][np.isfinite(estimate[:, i])]))
             for i, a in enumerate(cell["arm"].values)]
    endpoint_weeks = cell["duration_weeks"].values  # last patient + endpoint weeks: shift to the later visit
    return rows + [("prob_any_durable", *proportion(durable.any(axis=1))),
                   *distribution("durability_duration_weeks", endpoint_weeks + weeks - _endpoint_weeks(cell))]


def _endpoint_weeks(cell: xr.Dataset) -> float:
    return float(cell["endpoint_weeks"].values)


def _smart(cell: xr.Dataset) -> bool:
    return "reference_regime" in cell and bool(str(cell["reference_regime"].values))


def regimes(cell: xr.Dataset, higher_is_better: bool) -> Rows:
    """SMART designs: each embedded regime's estimate (mean, bias and RMSE against its true value, 95%
    coverage of its robust interval), Pr(declared better than the reference regime), Pr(selected as the
    best estimated regime); Pr(any regime better than the reference) (the family-wise error under a null
    truth); with a unique best regime, Pr(selecting it) and the power of its comparison with the reference."""
    if not _smart(cell):
        return []
    true = cell["true_regime"].values
    own = np.flatnonzero(np.isfinite(true))
    names = [str(r) for r in cell["regime"].values]
    est, se = cell["regime_estimate"].values, cell["regime_se"].values
    effective, selected = cell["regime_effective"].values.astype(bool), cell["selected_regime"].values
    reference = names.index(str(cell["reference_regime"].values))
    df = np.maximum(np.nan_to_num(cell["regime_df"].values, nan=1.0), 1.0) if "regime_df" in cell else np.inf
    half = se * special.stdtrit(df, 0.975)
    rows: Rows = []
    for k in own:
        err = est[:, k] - true[k]
        ok = np.isfinite(err)
        rows += [(f"regime_mean_{names[k]}", *mean(est[ok, k])), (f"regime_bias_{names[k]}", *mean(err[ok])),
                 (f"regime_rmse_{names[k]}", *rmse(err[ok])),
                 (f"regime_coverage_{names[k]}", *proportion(np.abs(err[ok]) <= half[ok, k])),
                 (f"prob_select_regime_{names[k]}", *proportion(selected == k))]
        if k != reference:
            rows.append((f"prob_regime_effective_{names[k]}", *proportion(effective[:, k])))
    rows.append(("prob_any_regime_effective", *proportion(effective[:, own].any(axis=1))))
    internal = true[own] * (1 if higher_is_better else -1)
    order = np.argsort(internal)[::-1]
    if len(own) > 1 and internal[order[0]] > internal[order[1]] + 1e-9:
        best = own[order[0]]
        rows.append(("prob_select_best_regime", *proportion(selected == best)))
        if best != reference:
            rows.append(("prob_best_regime_effective", *proportion(effective[:, best])))
    return rows


def long_term(cell: xr.Dataset) -> Rows:
    """One-way crossover designs: each arm's long-term comparison with the control at the later visit,
    as the trial sees it (control patients crossed over) and without the crossover on the same
    patients: the mean estimated difference, its bias against the true difference without crossover,
    the paired shift the crossover causes, and Pr(arm better than the control at the later visit)."""
    if "long_term_weeks" not in cell or not np.isfinite(cell["long_term_weeks"].values):
        return []
    c = _control_index(cell)
    true = cell["true_long_term"].values
    threshold = float(cell["long_term_threshold"].values)
    x, d = cell["estimate_long_term"].values, cell["estimate_long_term_no_crossover"].values
    rows: Rows = []
    for i, a in enumerate(cell["arm"].values):
        if i == c:
            continue
        diff_x, diff_d, truth = x[:, i] - x[:, c], d[:, i] - d[:, c], true[i] - true[c]
        ok = np.isfinite(diff_x) & np.isfinite(diff_d)
        rows += [(f"long_term_effect_{a}_mean", *mean(diff_x[ok])),
                 (f"long_term_effect_{a}_no_crossover_mean", *mean(diff_d[ok])),
                 (f"long_term_bias_{a}", *mean(diff_x[ok] - truth)),
                 (f"long_term_bias_{a}_no_crossover", *mean(diff_d[ok] - truth)),
                 (f"crossover_shift_{a}", *mean(diff_x[ok] - diff_d[ok])),
                 (f"prob_long_term_effective_{a}",
                  *proportion(np.nan_to_num(cell["pr_long_term"].values[:, i]) > threshold)),
                 (f"prob_long_term_effective_{a}_no_crossover",
                  *proportion(np.nan_to_num(cell["pr_long_term_no_crossover"].values[:, i]) > threshold))]
    weeks = float(cell["long_term_weeks"].values)  # the last patient's long-term visit
    return rows + distribution("long_term_duration_weeks", cell["duration_weeks"].values + weeks - _endpoint_weeks(cell))


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
    # a SMART decides about regimes, not arms: its arm-level stopping and selection metrics would say nothing
    arm_decisions = not _smart(cell)
    return (size_and_outcomes(cell)
            + (stopping(cell) + selection(cell, internal, strategies) + remaining(cell) if arm_decisions else [])
            + effectiveness(cell) + patients_per_arm(cell) + phenotypes(cell) + estimation(cell) + comparisons(cell)
            + blinding(cell) + harm(cell)
            + (best_arm(cell, internal, strategies) if arm_decisions else [])
            + distribution("duration_weeks", cell["duration_weeks"].values)
            + fit_diagnostics(cell) + adverse_events(cell) + stopping_look(cell) + imputation(cell)
            + durability(cell) + regimes(cell, higher_is_better) + long_term(cell))


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
