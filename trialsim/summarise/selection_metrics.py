"""Final-status, selection and remaining-arm metrics of one design under one truth.

Computed from stored per-trial records, so that every selection strategy of a
design (decisions.selection) is reported from one run: the first strategy under
adaptr's plain names (prob_select_arm_<arm>, prob_select_none, rmse, mae,
rmse_te, mae_te, idp), the others with the strategy appended
(`rmse__final_control`). Final-status labels are adaptr's for designs without a
control and for `on_superior: new_control`; the sham-controlled `graduate` rule
has no adaptr counterpart and gets its own names (prob_stop_*).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..decisions import Stop
from ..response import to_internal
from ..scenario.schema import Design, Scenario
from .selection import Strategy, TrialOutcomes, estimate_errors, remaining_arms, select

Row = tuple[str, float, float]

# final status -> metric name, by rule family
ADAPTR_STATUS = {Stop.SUPERIORITY: "prob_superior", Stop.EQUIVALENCE: "prob_equivalence",
                 Stop.FUTILITY: "prob_futility", Stop.MAX: "prob_max"}
GRADUATE_STATUS = {Stop.SUPERIORITY: "prob_stop_effective", Stop.EQUIVALENCE: "prob_stop_equivalent",
                   Stop.FUTILITY: "prob_stop_all_dropped", Stop.MAX: "prob_stop_max"}


def graduates(design: Design) -> bool:
    return design.control is not None and design.decisions.on_superior == "graduate"


def trial_outcomes(cell: xr.Dataset, first_control: int | None) -> TrialOutcomes:
    """The selection inputs of a (trial, arm) cell of the records."""
    return TrialOutcomes(cell["superior_arm"].values.astype(np.int64), cell["stop_reason"].values,
                         cell["arm_fate"].values, cell["fate_look"].values, cell["stop_look"].values,
                         cell["final_control"].values.astype(np.int64), cell["pr_best_last"].values,
                         first_control=first_control)


def status_rows(design: Design, reason: np.ndarray) -> list[Row]:
    """Pr(each final status) and Pr(conclusive: not stopped at the maximum)."""
    from ..oc import proportion

    names = GRADUATE_STATUS if graduates(design) else ADAPTR_STATUS
    conclusive = "prob_stop_conclusive" if graduates(design) else "prob_conclusive"
    rows = [(conclusive, *proportion(reason != Stop.MAX))]
    return rows + [(names[s], *proportion(reason == s)) for s in (Stop.SUPERIORITY, Stop.EQUIVALENCE, Stop.FUTILITY, Stop.MAX)]


def strategy_rows(scenario: Scenario, design: Design, cell: xr.Dataset, true_values: np.ndarray,
                  strategies: list[str] | None = None) -> list[Row]:
    """Selection probabilities, estimation errors and IDP under each selection strategy."""
    from ..oc import mean, proportion, quantile, rmse

    arms = scenario.arm_names
    te_name = design.decisions.te_comp or design.control
    te_comp = arms.index(te_name) if te_name else None
    estimates = cell["estimate_median" if design.analysis.estimate == "median" else "estimate"].values
    internal = to_internal(scenario.endpoint, true_values)
    best, worst = internal.max(), internal.min()
    rows: list[Row] = []
    for i, name in enumerate(strategies or design.decisions.strategies):
        suffix = "" if i == 0 else "__" + name.replace(" ", "_")
        selected = selected_under(scenario, design, cell, name)
        err, err_te = estimate_errors(selected, estimates, true_values, te_comp)
        chosen = selected >= 0
        rows += [(f"prob_select_arm_{a}{suffix}", *proportion(selected == j)) for j, a in enumerate(arms)]
        rows.append((f"prob_select_none{suffix}", *proportion(~chosen)))
        rows += [(f"rmse{suffix}", *rmse(err[chosen])), (f"mae{suffix}", *quantile(np.abs(err[chosen]), 0.5))]
        te = ~np.isnan(err_te)
        rows += [(f"rmse_te{suffix}", *rmse(err_te[te])), (f"mae_te{suffix}", *quantile(np.abs(err_te[te]), 0.5))]
        if best > worst + 1e-12 and chosen.any():
            rows.append((f"idp{suffix}", *mean((internal[selected[chosen]] - worst) / (best - worst) * 100)))
        else:
            rows.append((f"idp{suffix}", np.nan, np.nan))
    return rows


def selected_under(scenario: Scenario, design: Design, cell: xr.Dataset, name: str) -> np.ndarray:
    """The arm each trial of `cell` selects under strategy `name`."""
    arms = scenario.arm_names
    preferences = tuple(arms.index(a) for a in design.decisions.selection_preferences)
    first = arms.index(design.control) if design.control else None
    return select(trial_outcomes(cell, first), Strategy(name, preferences, design.decisions.select_last_arm))


def remaining_rows(scenario: Scenario, design: Design, cell: xr.Dataset) -> list[Row]:
    """adaptr's check_remaining_arms: Pr(each combination of arms remaining at the end), as
    `prob_remaining_<arm>+<arm>` for the combinations that occurred (binomial SE over all trials)."""
    from ..oc import proportion

    arms = scenario.arm_names
    first = arms.index(design.control) if design.control else None
    remaining = remaining_arms(trial_outcomes(cell, first))
    codes = remaining @ (1 << np.arange(len(arms)))
    rows = []
    for code in np.unique(codes):
        label = "+".join(a for j, a in enumerate(arms) if code >> j & 1) or "none"
        rows.append((f"prob_remaining_{label}", *proportion(codes == code)))
    return rows
