"""What every OC metric means: its group, unit and a one-line definition.

Metric names carry arm, phenotype, adverse-event and look names
(`prob_effective_scs`, `prob_stop_look_2`); the glossary matches them by
pattern. Pure data and string functions, so the scenario rules can check
target metric names without importing the summaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GROUPS = ("Decisions", "Selection", "Sample size and allocation", "Responders and outcomes", "Estimation",
          "Timing and stopping", "Early visits", "Durability", "Regimes (SMART)", "Long term (one-way crossover)",
          "Safety", "Diagnostics")

DISTRIBUTION = {"mean": "mean", "sd": "SD", "median": "median", "p25": "25th percentile", "p75": "75th percentile",
                "p0": "minimum", "p100": "maximum"}
# placeholders in metric templates and what they match
PLACEHOLDERS = {"stat": "(?P<stat>" + "|".join(DISTRIBUTION) + ")", "k": r"(?P<k>\d+)"}


@dataclass(frozen=True)
class MetricInfo:
    group: str
    unit: str
    text: str
    template: str  # the metric's family, e.g. prob_effective_<arm>


# (template, group, unit, definition); <placeholders> in the template are filled from the name
ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    ("prob_any_effective", "Decisions", "probability",
     "Pr(at least one arm declared better than the control); the family-wise error under a null truth, power otherwise"),
    ("prob_effective_<arm>", "Decisions", "probability", "Pr(arm <arm> declared better than its control)"),
    ("prob_any_effective_vs_<arm>", "Decisions", "probability",
     "Pr(at least one arm judged against control <arm> declared better than it; matched controls: that family's error)"),
    ("prob_harmful_<arm>", "Safety", "probability", "Pr(arm <arm> dropped by the harm rule)"),
    ("prob_any_harmful", "Safety", "probability", "Pr(some arm dropped by the harm rule)"),
    ("bang_bi_<arm>", "Diagnostics", "index",
     "Bang's blinding index of <arm>: (correct - incorrect guesses) / patients, mean over trials; 0 ideal blinding"),
    ("prob_superior", "Decisions", "probability", "Pr(the trial stopped for superiority)"),
    ("prob_stop_effective", "Decisions", "probability",
     "Pr(the trial stopped with an arm declared better than the control; graduate rule)"),
    ("prob_stop_equivalent", "Decisions", "probability", "Pr(the trial stopped for equivalence; graduate rule)"),
    ("prob_stop_all_dropped", "Decisions", "probability",
     "Pr(the trial stopped because every arm but the control was dropped; graduate rule)"),
    ("prob_stop_max", "Decisions", "probability", "Pr(the trial reached its maximum sample size; graduate rule)"),
    ("prob_stop_conclusive", "Decisions", "probability", "Pr(the trial stopped before its maximum; graduate rule)"),
    ("prob_remaining_<arms>", "Decisions", "probability", "Pr(exactly the arms <arms> remained at the end)"),
    ("prob_equivalence", "Decisions", "probability", "Pr(the trial stopped for equivalence)"),
    ("prob_futility", "Decisions", "probability", "Pr(the trial stopped for futility)"),
    ("prob_max", "Decisions", "probability", "Pr(the trial ran to its maximum sample size without a stopping decision)"),
    ("prob_conclusive", "Decisions", "probability", "Pr(stopped for superiority, equivalence or futility)"),
    ("prob_closed_<arm>_<phenotype>", "Decisions", "probability", "Pr(arm <arm> closed to phenotype <phenotype> by the enrichment rule)"),
    ("prob_select_best", "Selection", "probability", "Pr(the truly best arm is selected)"),
    ("prob_select_none", "Selection", "probability", "Pr(no arm selected)"),
    ("prob_select_arm_<arm>", "Selection", "probability", "Pr(arm <arm> selected)"),
    ("idp", "Selection", "%",
     "ideal design percentage: expected true value of the selected arm, 0 = worst arm, 100 = best (selecting trials)"),
    ("share_on_best_mean", "Sample size and allocation", "share", "mean share of patients on the truly best arm"),
    ("prob_more_on_inferior", "Sample size and allocation", "probability",
     "Pr(some inferior arm got more patients than the truly best arm)"),
    ("size_<stat>", "Sample size and allocation", "patients", "<stat> of the number of patients randomised"),
    ("n_<arm>_mean", "Sample size and allocation", "patients", "mean number of patients randomised to <arm>"),
    ("alloc_<arm>", "Sample size and allocation", "share", "mean share of the trial's patients randomised to <arm>"),
    ("sum_ys_<stat>", "Responders and outcomes", "endpoint units x patients",
     "<stat> of the sum of the endpoint over analysed patients"),
    ("ratio_ys_<stat>", "Responders and outcomes", "endpoint units",
     "<stat> of the mean endpoint per analysed patient"),
    ("responders_mean", "Responders and outcomes", "patients", "mean number of responders in the trial"),
    ("responders_<arm>_mean", "Responders and outcomes", "patients", "mean number of responders on <arm>"),
    ("rmse", "Estimation", "endpoint units", "RMSE of the selected arm's final estimate (trials selecting an arm)"),
    ("mae", "Estimation", "endpoint units", "median absolute error of the selected arm's final estimate"),
    ("rmse_te", "Estimation", "endpoint units",
     "RMSE of the selected arm's estimated effect vs the control (trials selecting a non-control arm)"),
    ("mae_te", "Estimation", "endpoint units", "median absolute error of the selected arm's effect vs the control"),
    ("bias_diff_<arm>", "Estimation", "endpoint units",
     "mean error of <arm>'s estimated difference from its own control (every trial)"),
    ("rmse_diff_<arm>", "Estimation", "endpoint units", "RMSE of <arm>'s estimated difference from its own control"),
    ("unblinding_bias_<arm>", "Estimation", "endpoint units",
     "mean of <arm>'s estimated difference from its control minus the same under perfect blinding, same patients"),
    ("bias_<arm>", "Estimation", "endpoint units", "mean error of <arm>'s final estimate (every trial)"),
    ("rmse_<arm>", "Estimation", "endpoint units", "RMSE of <arm>'s final estimate (every trial)"),
    ("duration_weeks_<stat>", "Timing and stopping", "weeks",
     "<stat> of the trial duration: first randomisation to the last patient's endpoint"),
    ("prob_stop_look_<k>", "Timing and stopping", "probability", "Pr(the trial stopped at look <k>)"),
    ("prob_look_skipped", "Timing and stopping", "probability",
     "Pr(some look made no decision: an active arm had too little data)"),
    ("imputed_per_trial_mean", "Early visits", "patients",
     "mean number of pending patients imputed at interims (summed over interims) whose endpoint was later observed"),
    ("imputation_bias", "Early visits", "endpoint units",
     "mean of imputed minus later observed endpoint, over imputed patients (analysis.longitudinal)"),
    ("imputation_rmse", "Early visits", "endpoint units", "RMSE of the imputed against the later observed endpoints"),
    ("imputation_coverage", "Early visits", "probability",
     "share of later observed endpoints inside the imputation's 95% predictive interval (regression)"),
    ("imputation_bias_look_<k>", "Early visits", "endpoint units", "imputation_bias at look <k> alone"),
    ("imputation_coverage_look_<k>", "Early visits", "probability", "imputation_coverage at look <k> alone"),
    ("prob_durable_<arm>", "Durability", "probability",
     "Pr(arm <arm> effective at the endpoint and better than the control at the durability visit)"),
    ("prob_any_durable", "Durability", "probability", "Pr(some arm effective at the endpoint and durable)"),
    ("estimate_durable_<arm>_mean", "Durability", "endpoint units",
     "mean posterior mean of <arm> at the durability visit (every randomised patient followed)"),
    ("durability_duration_weeks_<stat>", "Durability", "weeks",
     "<stat> of the time from the first randomisation to the last patient's durability visit"),
    ("regime_mean_<regime>", "Regimes (SMART)", "endpoint units",
     "mean over trials of regime <regime>'s weighted (IPW) estimate of its mean final endpoint"),
    ("regime_bias_<regime>", "Regimes (SMART)", "endpoint units",
     "mean error of regime <regime>'s estimate against its true value (every patient following it)"),
    ("regime_rmse_<regime>", "Regimes (SMART)", "endpoint units", "RMSE of regime <regime>'s estimate"),
    ("regime_coverage_<regime>", "Regimes (SMART)", "probability",
     "Pr(regime <regime>'s 95% interval (robust SE, t on its effective sample size - 1) holds its true value)"),
    ("prob_select_regime_<regime>", "Regimes (SMART)", "probability",
     "Pr(regime <regime> has the best estimated mean)"),
    ("prob_regime_effective_<regime>", "Regimes (SMART)", "probability",
     "Pr(regime <regime> declared better than the reference regime: one-sided t (or z) test)"),
    ("prob_any_regime_effective", "Regimes (SMART)", "probability",
     "Pr(some regime declared better than the reference regime); the family-wise error under a null truth"),
    ("prob_select_best_regime", "Regimes (SMART)", "probability",
     "Pr(the truly best regime has the best estimated mean)"),
    ("prob_best_regime_effective", "Regimes (SMART)", "probability",
     "Pr(the truly best regime declared better than the reference regime): the power of that comparison"),
    ("long_term_effect_<arm>_no_crossover_mean", "Long term (one-way crossover)", "endpoint units",
     "mean estimated difference <arm> - control at the long-term visit had the control not crossed over"),
    ("long_term_effect_<arm>_mean", "Long term (one-way crossover)", "endpoint units",
     "mean estimated difference <arm> - control at the long-term visit by randomised arm (control crossed over)"),
    ("long_term_bias_<arm>_no_crossover", "Long term (one-way crossover)", "endpoint units",
     "mean error of the no-crossover long-term difference against the true difference without crossover"),
    ("long_term_bias_<arm>", "Long term (one-way crossover)", "endpoint units",
     "mean error of the long-term difference (control crossed over) against the true difference without crossover"),
    ("crossover_shift_<arm>", "Long term (one-way crossover)", "endpoint units",
     "mean of the long-term difference with minus without the crossover, same patients (what it costs)"),
    ("prob_long_term_effective_<arm>_no_crossover", "Long term (one-way crossover)", "probability",
     "prob_long_term_effective_<arm> had the control not crossed over"),
    ("prob_long_term_effective_<arm>", "Long term (one-way crossover)", "probability",
     "Pr(<arm> better than the control at the long-term visit by randomised arm, control crossed over)"),
    ("long_term_duration_weeks_<stat>", "Long term (one-way crossover)", "weeks",
     "<stat> of the time from the first randomisation to the last patient's long-term visit"),
    ("ae_<event>_mean", "Safety", "events", "mean number of <event> adverse events in the trial"),
    ("share_fits_flagged", "Diagnostics", "share", "share of posterior fits flagged by their diagnostics (sampling engines)"),
    ("prob_any_fit_flagged", "Diagnostics", "probability", "Pr(some posterior fit in the trial was flagged)"),
)


def _regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"<(\w+)>", template)  # literal, name, literal, name, ...
    return re.compile("".join(re.escape(p) if i % 2 == 0 else PLACEHOLDERS.get(p, f"(?P<{p}>.+)")
                              for i, p in enumerate(parts)) + r"\Z")


_COMPILED = tuple((_regex(p), p, g, u, t) for p, g, u, t in ENTRIES)

# Aliases a target may use instead of a metric name, resolved per design
ALIASES = {"fwer": ("prob_any_effective", "prob_superior"), "power": ("prob_any_effective", "prob_superior"),
           "type1_error": ("prob_any_effective", "prob_superior")}


def lookup(metric: str) -> MetricInfo | None:
    """The glossary entry of a metric name, or None if the name is unknown.

    A `__<strategy>` suffix names the same metric under another selection strategy.
    """
    base, _, strategy = metric.partition("__")
    if strategy:
        found = lookup(base)
        return found and MetricInfo(found.group, found.unit, f"{found.text} (selection strategy {strategy})",
                                    f"{found.template}__<strategy>")
    for pattern, template, group, unit, text in _COMPILED:
        m = pattern.match(metric)
        if m:
            fields = m.groupdict()
            if "stat" in fields:
                fields["stat"] = DISTRIBUTION[fields["stat"]]
            text = re.sub(r"<(\w+)>", lambda g: fields.get(g.group(1), g.group(0)), text)
            return MetricInfo(group, unit, text[0].upper() + text[1:], template)
    return None


def resolve(metric: str, has_control: bool) -> str:
    """A target's metric name: aliases (fwer, power) mean Pr(any arm effective) with a control, else Pr(superior)."""
    if metric in ALIASES:
        with_control, without = ALIASES[metric]
        return with_control if has_control else without
    return metric


def known(metric: str) -> bool:
    return metric in ALIASES or lookup(metric) is not None


# The operating characteristics a reader looks at first, in this order; metrics absent for a design are skipped
KEY_METRICS = ("prob_any_effective", "prob_superior", "prob_stop_effective", "prob_futility", "prob_stop_all_dropped",
               "prob_select_best", "prob_select_none", "idp", "size_mean", "duration_weeks_mean", "share_on_best_mean",
               "rmse_te")
