"""Per-trial records of one chunk -> labelled arrays, and chunks -> xarray Dataset.

Dims: truth, design, trial, arm, phenotype, look, adverse_event. Variables
are never named like a dim. Codes (stop reasons, arm fates) are documented in
each variable's attrs.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np

from ..blinding import GUESSES, BlindingPlan, guess_counts
from ..cohort import Cohort
from ..design.observe import arm_tallies
from ..design.parallel import DesignResult
from ..design.state import ArmFate, Stop
from ..plan import TrialPlan

if TYPE_CHECKING:
    import xarray as xr

TRIAL_DIMS = ("truth", "design", "trial")
# name -> dims after (truth, design, trial); the contract of a chunk's records
VARIABLES: dict[str, tuple[str, ...]] = {
    "size": (),
    "duration_weeks": (),
    "stop_reason": (),
    "stop_look": (),
    "selected_arm": (),
    "superior_arm": (),
    "final_control": (),
    "sum_ys": (),
    "n_analysed_total": (),
    "looks_skipped": (),
    "fits": (),
    "fit_problems": (),
    "imputed_n": (),
    "imputed_error_sum": (),
    "imputed_error_sq_sum": (),
    "imputed_covered": (),
    "imputed_by_look": ("interim", "imputation_stat"),
    "n_randomised": ("arm",),
    "n_analysed": ("arm",),
    "responders": ("arm",),
    "estimate": ("arm",),
    "estimate_median": ("arm",),
    "final_pr_best": ("arm",),
    "pr_best_last": ("arm",),
    "arm_fate": ("arm",),
    "fate_look": ("arm",),
    "durable": ("arm",),
    "pr_durable": ("arm",),
    "estimate_durable": ("arm",),
    "n_by_phenotype": ("arm", "phenotype"),
    "closed": ("phenotype", "arm"),
    "adverse_events": ("arm", "adverse_event"),
    "guesses": ("arm", "guess"),
    "estimate_blinded": ("arm",),
    "allocation": ("look", "arm"),
    "detected_share": ("arm",),
    # SMART designs (design/smart.py), NaN / False / -1 for other designs and other designs' regimes
    "regime_estimate": ("regime",),
    "regime_se": ("regime",),
    "regime_df": ("regime",),
    "regime_effective": ("regime",),
    "selected_regime": (),
    # one-way crossover (design/one_way.py), NaN for other designs
    "estimate_long_term": ("arm",),
    "pr_long_term": ("arm",),
    "estimate_long_term_no_crossover": ("arm",),
    "pr_long_term_no_crossover": ("arm",),
}


def regime_names(plan: TrialPlan) -> list[str]:
    """Every SMART design's embedded regimes, first seen first (the `regime` coordinate)."""
    names: dict[str, None] = {}
    for d in plan.designs.values():
        for r in getattr(getattr(d.family, "regimes", None), "names", ()):
            names[r] = None
    return list(names)


def family_records(plan: TrialPlan, result: DesignResult, n_trials: int, n_arms: int) -> dict[str, np.ndarray]:
    """The SMART and one-way-crossover variables of one design (placeholders for other designs)."""
    endpoint, names = plan.endpoint, regime_names(plan)
    out = {"regime_estimate": np.full((n_trials, len(names)), np.nan), "regime_se": np.full((n_trials, len(names)), np.nan),
           "regime_df": np.full((n_trials, len(names)), np.nan),
           "regime_effective": np.zeros((n_trials, len(names)), bool), "selected_regime": np.full(n_trials, -1, np.int16)}
    r = result.regimes
    if r is not None:
        own = [names.index(n) for n in r.names]
        out["regime_estimate"][:, own] = endpoint.from_internal(r.estimate)
        out["regime_se"][:, own] = r.se
        out["regime_df"][:, own] = r.df
        out["regime_effective"][:, own] = r.better
        out["selected_regime"] = np.where(r.selected >= 0, np.asarray(own)[np.maximum(r.selected, 0)], -1).astype(np.int16)
    lt = result.long_term
    nan = np.full((n_trials, n_arms), np.nan)
    out["estimate_long_term"] = nan if lt is None else endpoint.from_internal(lt.estimate)
    out["pr_long_term"] = nan if lt is None else lt.pr_better
    out["estimate_long_term_no_crossover"] = nan if lt is None else endpoint.from_internal(lt.estimate_direct)
    out["pr_long_term_no_crossover"] = nan if lt is None else lt.pr_better_direct
    return out



def design_records(plan: TrialPlan, cohort: Cohort, result: DesignResult, keep_history: bool,
                   fit_counts: tuple[np.ndarray, np.ndarray], blinding: BlindingPlan | None = None,
                   blinded: DesignResult | None = None) -> dict[str, np.ndarray]:
    """The per-trial record arrays of one design on one chunk of one truth.

    fit_counts: (model fits, fits flagged by their diagnostics) per trial. blinding: the truth's
    (end-of-trial guesses); blinded: the same design under the truth's perfectly blinded twin.
    """
    n_trials, n_arms = result.estimate.shape
    obs = result.observed
    arm = obs.arm
    n_max = arm.shape[1]
    randomised = arm >= 0
    observed = randomised & ~cohort.dropout[:, :n_max] & ~obs.missing
    n_pheno = len(cohort.prevalence)
    by_pheno, n_analysed, responders = arm_tallies(obs, observed, cohort.phenotype[:, :n_max], n_arms, n_pheno)
    # adverse events of randomised patients under their assigned arm, from the event streams
    adverse = np.zeros((n_trials, n_arms, len(cohort.plan.adverse_events)), np.int64)
    if adverse.shape[-1]:
        rows, patients = np.nonzero(randomised)
        had = cohort.adverse_events(rows, patients, arm[rows, patients])
        cells = rows * n_arms + arm[rows, patients]
        for j in range(had.shape[-1]):  # a handful of event types; bincount is much faster than np.add.at
            adverse[..., j] = np.bincount(cells[had[:, j]], minlength=n_trials * n_arms).reshape(n_trials, n_arms)
    endpoint = plan.endpoint
    sum_ys = np.where(observed, endpoint.from_internal(obs.y), 0.0).sum(axis=1)
    last_patient = np.maximum(result.size - 1, 0)
    follow_up = cohort.plan.endpoint_weeks if result.follow_up_weeks is None else result.follow_up_weeks
    duration = cohort.arrival_week[np.arange(n_trials), last_patient] + follow_up
    allocation = result.alloc_history if keep_history else result.alloc_history[:, :0]
    nan_arms = np.full((n_trials, n_arms), np.nan)
    by_look = result.calibration if result.calibration is not None else np.zeros((4, n_trials, 0))
    calibration = by_look.sum(axis=2)
    sign = float(endpoint.from_internal(np.array(1.0)) - endpoint.from_internal(np.array(0.0)))  # errors' scale
    guesses = guess_counts(blinding, cohort.seed, cohort.trials, arm, observed, n_arms)
    estimate = endpoint.from_internal(result.estimate)
    return {
        "size": result.size.astype(np.int32),
        "duration_weeks": duration,
        "stop_reason": result.state.stop.astype(np.int8),
        "stop_look": result.state.stop_look.astype(np.int16),
        "selected_arm": result.selected.astype(np.int16),
        "superior_arm": result.outcomes.superior.astype(np.int16),
        "final_control": result.outcomes.final_control.astype(np.int16),
        "sum_ys": sum_ys,
        "n_analysed_total": n_analysed.sum(axis=1).astype(np.int32),
        "looks_skipped": result.looks_skipped,
        "fits": fit_counts[0],
        "fit_problems": fit_counts[1],
        "imputed_n": calibration[0].astype(np.int32),
        "imputed_error_sum": sign * calibration[1],
        "imputed_error_sq_sum": calibration[2],
        "imputed_covered": calibration[3].astype(np.int32),
        # per look: count, sum of errors (endpoint scale), of squared errors, covered
        "imputed_by_look": np.moveaxis(by_look * np.array([1.0, sign, 1.0, 1.0])[:, None, None], 0, 2),
        "n_randomised": by_pheno.sum(axis=2).astype(np.int32),
        "n_analysed": n_analysed.astype(np.int32),
        "responders": responders.astype(np.int32),
        "estimate": estimate,
        "estimate_median": endpoint.from_internal(result.estimate_median),
        "final_pr_best": result.final_pr_best,
        "pr_best_last": result.outcomes.pr_best_last,
        "arm_fate": result.state.fate.astype(np.int8),
        "fate_look": result.state.fate_look.astype(np.int16),
        "durable": result.durable if result.durable is not None else np.zeros((n_trials, n_arms), bool),
        "pr_durable": result.pr_durable if result.pr_durable is not None else nan_arms,
        "estimate_durable": endpoint.from_internal(result.estimate_durable) if result.estimate_durable is not None
        else nan_arms,
        "n_by_phenotype": by_pheno.astype(np.int32),
        "closed": result.state.closed,
        "adverse_events": adverse.astype(np.int32),
        "guesses": guesses.astype(np.int32),
        "estimate_blinded": estimate if blinded is None else endpoint.from_internal(blinded.estimate),
        "allocation": allocation,
        "detected_share": result.detected_share if result.detected_share is not None else nan_arms,
        **family_records(plan, result, n_trials, n_arms),
    }


@dataclass(frozen=True)
class ChunkRecords:
    """Records of trials [start, stop) for every truth and design: name -> array (truth, design, trial, ...)."""

    start: int
    stop: int
    arrays: dict[str, np.ndarray]


def stack_chunk(per_cell: dict[tuple[str, str], dict[str, np.ndarray]], truths: list[str], designs: list[str]) -> dict[str, np.ndarray]:
    """(truth, design) -> records  ==>  name -> array with leading (truth, design) dims."""
    out: dict[str, np.ndarray] = {}
    for name in VARIABLES:
        # designs may have different numbers of looks: pad the look axis with NaN
        cells = [[per_cell[(t, d)][name] for d in designs] for t in truths]
        if name in ("allocation", "imputed_by_look"):
            width = max(c.shape[1] for row in cells for c in row)
            cells = [[np.pad(c, ((0, 0), (0, width - c.shape[1]), (0, 0)), constant_values=np.nan) for c in row] for row in cells]
        out[name] = np.stack([np.stack(row) for row in cells])
    return out


def to_dataset(plan: TrialPlan, chunks: list[ChunkRecords], attrs: dict[str, str]) -> xr.Dataset:
    """Concatenate chunks (in trial order) into the labelled per-trial Dataset.

    Besides the per-trial records it holds what summaries need about each design
    (control arm, number of looks, phenotype-adaptive rules), so that summaries
    read the Dataset only.
    """
    import xarray as xr

    chunks = sorted(chunks, key=lambda c: c.start)
    truths, designs = list(plan.truths), list(plan.designs)
    data_vars = {}
    for name, extra in VARIABLES.items():
        values = np.concatenate([c.arrays[name] for c in chunks], axis=2)
        data_vars[name] = (TRIAL_DIMS + extra, values)
    n_trials = chunks[-1].stop if chunks else 0
    regimes = regime_names(plan)
    ds = xr.Dataset(
        {**data_vars, **family_facts(plan, regimes), **design_facts(plan)},
        coords={
            "truth": truths, "design": designs, "trial": np.arange(n_trials), "arm": list(plan.arms),
            "phenotype": list(plan.phenotypes), "adverse_event": list(plan.adverse_events), "guess": list(GUESSES),
            "look": np.arange(1, data_vars["allocation"][1].shape[3] + 1),
            "interim": np.arange(1, data_vars["imputed_by_look"][1].shape[3] + 1),
            "imputation_stat": ["n", "error_sum", "error_sq_sum", "covered"],
            "regime": regimes,
        },
    )
    describe_variables(ds, plan.endpoint.name)
    ds.attrs.update(attrs)
    return ds


def design_facts(plan: TrialPlan) -> dict[str, tuple]:
    """What summaries need about each design and truth besides the per-trial records, as Dataset variables."""
    truths, designs = list(plan.truths), list(plan.designs)
    arms = list(plan.arms)
    sel = {d: plan.designs[d].selection for d in designs}
    return {
        "true_value": (("truth", "arm"), plan.true_values()),
        "control_arm": ("design", [plan.designs[d].control or "" for d in designs]),
        # each arm's comparator ("" for a control and without one): matched controls give several
        "comparator": (("design", "arm"), [[arms[c] if c >= 0 else "" for c in
                                            plan.designs[d].decisions.comparators(len(arms))] for d in designs]),
        "n_looks": ("design", [plan.designs[d].looks.n_looks for d in designs]),
        "stratified": ("design", [plan.designs[d].allocation.stratified for d in designs]),
        "phenotype_futility": ("design", [plan.designs[d].decisions.phenotype_futility is not None for d in designs]),
        # selection and labelling facts: summaries recompute every strategy from the records
        "on_superior": ("design", [plan.designs[d].decisions.on_superior if plan.designs[d].control else ""
                                   for d in designs]),
        "selection_strategies": ("design", [";".join(sel[d].strategies) for d in designs]),
        "selection_preferences": ("design", [";".join(arms[i] for i in sel[d].preferences) for d in designs]),
        "select_last_arm": ("design", [sel[d].select_last_arm for d in designs]),
        "te_comp_arm": ("design", [arms[sel[d].te_comp] if sel[d].te_comp is not None else "" for d in designs]),
        "estimate_kind": ("design", [sel[d].estimate for d in designs]),
        "harm_rule": ("design", [plan.designs[d].decisions.harm is not None for d in designs]),
        "unblinded": ("truth", [plan.truths[t].blinded is not None for t in truths]),
        "blinding_model": ("truth", [plan.truths[t].model.blinding is not None for t in truths]),
        "endpoint_weeks": ((), plan.cohort.endpoint_weeks),  # durations to a later visit shift from it
        "durability_weeks": ("design", [plan.designs[d].durability.weeks if plan.designs[d].durability else np.nan
                                        for d in designs]),
    }


def describe_variables(ds: xr.Dataset, endpoint: str) -> None:
    """Descriptions and codes of the Dataset's variables (in place)."""
    describe_family_variables(ds)
    ds["comparator"].attrs["description"] = "the arm each arm is judged against ('' for controls, or no control)"
    ds["guesses"].attrs["description"] = "end-of-trial guesses of analysed patients (trialsim.blinding; Bang 2004)"
    ds["estimate_blinded"].attrs["description"] = ("posterior mean under the truth's perfectly blinded twin, same "
                                                   "patients and design (equals estimate for a blinded truth)")
    ds["stop_reason"].attrs["codes"] = ", ".join(f"{s.value}={s.name.lower()}" for s in Stop)
    ds["arm_fate"].attrs["codes"] = ", ".join(f"{s.value}={s.name.lower()}" for s in ArmFate)
    ds["selected_arm"].attrs["codes"] = "index into arm; -1 = no arm selected (the design's first selection strategy)"
    ds["superior_arm"].attrs["codes"] = ("index into arm; -1 = none: the arm declared superior (graduate rule: the "
                                         "effective arm with the highest final Pr(best))")
    ds["final_control"].attrs["codes"] = "index into arm of the control at the end (new_control may replace it); -1 = none"
    ds["fate_look"].attrs["codes"] = "0-based look at which the arm's fate was decided; -1 = still active"
    ds["pr_best_last"].attrs["description"] = "Pr(best) at the last look among the arms then active; NaN for the others"
    ds["estimate_median"].attrs["description"] = "posterior median in the final analysis, endpoint scale (NaN if the engine has none)"
    ds["stop_look"].attrs["codes"] = "0-based index of the look at which the trial stopped"
    ds["closed"].attrs["description"] = "arm closed to the phenotype by the enrichment rule (phenotype_futility)"
    ds["fits"].attrs["description"] = "posterior fits by a sampling engine (0 for the exact engine)"
    ds["fit_problems"].attrs["description"] = "fits whose diagnostics flagged a problem (R-hat, ESS, divergences, Pareto k)"
    ds["detected_share"].attrs["description"] = ("N-of-1 series: share of analysed patients whose own effect "
                                                 "(arm vs control) is detected; NaN for other designs")
    ds["durable"].attrs["description"] = "effective at the primary endpoint and durable at the design's durability visit"
    ds["pr_durable"].attrs["description"] = "Pr(arm - control > delta) at the durability visit, all randomised patients followed"
    ds["estimate_durable"].attrs["description"] = "posterior mean at the durability visit, endpoint scale"
    ds["imputed_n"].attrs["description"] = ("pending patients imputed at interims (analysis.longitudinal) whose "
                                            "endpoint was later observed, summed over interims")
    ds["imputed_error_sum"].attrs["description"] = "sum of imputed minus observed endpoint, endpoint scale"
    ds["imputed_error_sq_sum"].attrs["description"] = "sum of squared imputation errors"
    ds["imputed_by_look"].attrs["description"] = ("the imputed_* sums per look of longitudinal designs (NaN beyond a "
                                                  "design's looks and for other designs; the width is the most looks "
                                                  "of a longitudinal design in the run)")
    ds["imputed_covered"].attrs["description"] = "observed endpoints inside the imputation's 95% predictive interval"
    ds["looks_skipped"].attrs["description"] = "looks without decisions: an active arm had too little data for its prior"
    ds["true_value"].attrs["description"] = f"population-level true value on the endpoint scale ({endpoint})"
    ds["estimate"].attrs["description"] = "posterior mean in the final analysis, endpoint scale"
    ds["allocation"].attrs["description"] = "allocation probabilities after each look (kept with --history)"


def family_facts(plan: TrialPlan, regimes: list[str]) -> dict[str, tuple]:
    """What summaries need about SMART and one-way-crossover designs: true values and references."""
    truths, designs = list(plan.truths), list(plan.designs)
    true_regime = np.full((len(truths), len(designs), len(regimes)), np.nan)
    true_long = np.full((len(truths), len(designs), len(plan.arms)), np.nan)
    reference = []
    for j, d in enumerate(designs):
        f = plan.designs[d].family
        names = getattr(getattr(f, "regimes", None), "names", ())
        reference.append(names[f.reference] if names else "")
        for i, t in enumerate(truths):
            values = getattr(f, "true_values", {}).get(t)
            if values is None:
                continue
            if names:
                true_regime[i, j, [regimes.index(n) for n in names]] = values
            else:
                true_long[i, j] = values
    one_way = [f if getattr(f, "name", "") == "one_way_crossover" else None
               for f in (plan.designs[d].family for d in designs)]
    return {
        "true_regime": (("truth", "design", "regime"), true_regime),
        "reference_regime": ("design", reference),
        "true_long_term": (("truth", "design", "arm"), true_long),
        "long_term_weeks": ("design", [np.nan if f is None else f.weeks for f in one_way]),
        "long_term_threshold": ("design", [np.nan if f is None else f.threshold for f in one_way]),
    }


def describe_family_variables(ds: xr.Dataset) -> None:
    """Descriptions and codes of the SMART and one-way-crossover variables (in place)."""
    ds["true_regime"].attrs["description"] = "SMART: each regime's mean final endpoint when every patient follows it"
    ds["reference_regime"].attrs["description"] = "SMART: the regime every other regime is tested against ('' otherwise)"
    ds["regime_estimate"].attrs["description"] = "SMART: inverse-probability-weighted mean of the regime, endpoint scale"
    ds["regime_se"].attrs["description"] = "SMART: robust (sandwich) SE of regime_estimate"
    ds["regime_df"].attrs["description"] = "SMART: degrees of freedom of regime_se (effective sample size - 1)"
    ds["regime_effective"].attrs["description"] = "SMART: regime declared better than the reference regime (one-sided test, smart.test)"
    ds["selected_regime"].attrs["codes"] = "index into regime of the best estimated regime; -1 = none"
    ds["true_long_term"].attrs["description"] = ("one-way crossover: each arm's true value at the long-term visit "
                                                 "without crossover")
    ds["estimate_long_term"].attrs["description"] = ("one-way crossover: posterior mean at the long-term visit by "
                                                     "randomised arm, the control's patients crossed over")
    ds["pr_long_term"].attrs["description"] = "one-way crossover: Pr(arm - control > delta) at the long-term visit"
    ds["estimate_long_term_no_crossover"].attrs["description"] = "estimate_long_term without the crossover, same patients"
    ds["pr_long_term_no_crossover"].attrs["description"] = "pr_long_term without the crossover, same patients"
