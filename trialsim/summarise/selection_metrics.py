"""Final-status, selection and remaining-arm metrics of one design under one truth.

Computed from the stored per-trial records (reading the Dataset only), so that
every selection strategy of a design (decisions.selection) is reported from one
run and can be recomputed for a finished one: the first strategy under adaptr's
plain names (prob_select_arm_<arm>, prob_select_none, rmse, mae, rmse_te,
mae_te, idp), the others with the strategy appended (`rmse__final_control`).
Final-status labels are adaptr's for designs without a control and for
`on_superior: new_control`; the sham-controlled `graduate` rule has no adaptr
counterpart and gets its own names (prob_stop_*).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..design.state import Stop
from .selection import SelectionPlan, TrialOutcomes, estimate_errors, remaining_arms, select

Rows = list[tuple[str, float, float]]

# final status -> metric name, by rule family
ADAPTR_STATUS = {Stop.SUPERIORITY: "prob_superior", Stop.EQUIVALENCE: "prob_equivalence",
                 Stop.FUTILITY: "prob_futility", Stop.MAX: "prob_max"}
GRADUATE_STATUS = {Stop.SUPERIORITY: "prob_stop_effective", Stop.EQUIVALENCE: "prob_stop_equivalent",
                   Stop.FUTILITY: "prob_stop_all_dropped", Stop.MAX: "prob_stop_max"}


def _arm_index(cell: xr.Dataset, name: str) -> int | None:
    return list(cell["arm"].values).index(name) if name else None


def selection_plan(cell: xr.Dataset, strategies: list[str] | None = None) -> SelectionPlan:
    """The design's selection options as stored in the Dataset (`strategies` overrides its list)."""
    preferences = str(cell["selection_preferences"].values)
    return SelectionPlan(
        strategies=tuple(strategies or str(cell["selection_strategies"].values).split(";")),
        preferences=tuple(_arm_index(cell, a) for a in preferences.split(";") if a),
        select_last_arm=bool(cell["select_last_arm"].values),
        te_comp=_arm_index(cell, str(cell["te_comp_arm"].values)),
        estimate=str(cell["estimate_kind"].values),
    )


def trial_outcomes(cell: xr.Dataset) -> TrialOutcomes:
    """The selection inputs of a (trial, arm) cell of the records."""
    return TrialOutcomes(cell["superior_arm"].values.astype(np.int64), cell["stop_reason"].values,
                         cell["arm_fate"].values, cell["fate_look"].values, cell["stop_look"].values,
                         cell["final_control"].values.astype(np.int64), cell["pr_best_last"].values,
                         first_control=_arm_index(cell, str(cell["control_arm"].values)))


def stopping(cell: xr.Dataset) -> Rows:
    """Pr(each final status) and Pr(conclusive: not stopped at the maximum)."""
    from .oc import proportion

    reason = cell["stop_reason"].values
    graduate = str(cell["on_superior"].values) == "graduate"
    names = GRADUATE_STATUS if graduate else ADAPTR_STATUS
    rows = [("prob_stop_conclusive" if graduate else "prob_conclusive", *proportion(reason != Stop.MAX))]
    return rows + [(names[s], *proportion(reason == s)) for s in (Stop.SUPERIORITY, Stop.EQUIVALENCE, Stop.FUTILITY, Stop.MAX)]


def selected_under(cell: xr.Dataset, name: str | None = None) -> np.ndarray:
    """The arm each trial of `cell` selects under strategy `name` (default: the design's first)."""
    return select(trial_outcomes(cell), selection_plan(cell).strategy(name))


def selection(cell: xr.Dataset, internal: np.ndarray, strategies: list[str] | None = None) -> Rows:
    """Selection probabilities, estimation errors and IDP under each selection strategy.

    `internal`: true values on a higher-is-better scale (only order and ratios matter).
    """
    from .oc import mean, proportion, quantile, rmse

    plan = selection_plan(cell, strategies)
    arms = list(cell["arm"].values)
    estimates = cell["estimate_median" if plan.estimate == "median" else "estimate"].values
    truth = cell["true_value"].values
    outcomes = trial_outcomes(cell)
    best, worst = internal.max(), internal.min()
    rows: Rows = []
    for i, name in enumerate(plan.strategies):
        suffix = "" if i == 0 else "__" + name.replace(" ", "_")
        selected = select(outcomes, plan.strategy(name))
        err, err_te = estimate_errors(selected, estimates, truth, plan.te_comp)
        chosen, te = selected >= 0, ~np.isnan(err_te)
        rows += [(f"prob_select_arm_{a}{suffix}", *proportion(selected == j)) for j, a in enumerate(arms)]
        rows.append((f"prob_select_none{suffix}", *proportion(~chosen)))
        rows += [(f"rmse{suffix}", *rmse(err[chosen])), (f"mae{suffix}", *quantile(np.abs(err[chosen]), 0.5))]
        rows += [(f"rmse_te{suffix}", *rmse(err_te[te])), (f"mae_te{suffix}", *quantile(np.abs(err_te[te]), 0.5))]
        if best > worst + 1e-12 and chosen.any():
            rows.append((f"idp{suffix}", *mean((internal[selected[chosen]] - worst) / (best - worst) * 100)))
        else:
            rows.append((f"idp{suffix}", np.nan, np.nan))
    return rows


def remaining(cell: xr.Dataset) -> Rows:
    """adaptr's check_remaining_arms: Pr(each combination of arms remaining at the end), as
    `prob_remaining_<arm>+<arm>` for the combinations that occurred (binomial SE over all trials)."""
    from .oc import proportion

    arms = list(cell["arm"].values)
    codes = remaining_arms(trial_outcomes(cell)) @ (1 << np.arange(len(arms)))
    rows: Rows = []
    for code in np.unique(codes):
        label = "+".join(a for j, a in enumerate(arms) if code >> j & 1) or "none"
        rows.append((f"prob_remaining_{label}", *proportion(codes == code)))
    return rows
