"""A scenario in plain words (what `trialsim describe` prints)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from ..compile import compile_scenario
from ..design.boundaries import Boundaries
from ..endpoints import Endpoint
from ..scenario.schema import Design, Scenario


def _thresholds(value: float | list[float] | None) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "per look " + ", ".join(f"{v:g}" for v in value)
    return f"{value:g}"


def describe_boundaries(d: Design, bounds: Boundaries, endpoint: Endpoint) -> list[str]:
    """A frequentist design's tests and boundaries, look by look."""
    test = ("z test of the difference in proportions" if endpoint.binary else "t test of the difference in means")
    se = "pooled" if d.analysis.variance == "pooled" else "unpooled (Welch)" if not endpoint.binary else "unpooled (Wald)"
    lines = [f"    each arm vs control '{d.control}': {test}, {se} SE; {bounds.description}",
             f"    an arm is effective ({endpoint.difference(0)}) when its one-sided p-value <= the look's nominal p "
             f"(Z >= efficacy Z); level per comparison {bounds.alpha_per_comparison:.4g}:"]
    futility = np.isfinite(bounds.futility).any()
    lines.append("      look  patients  info   efficacy Z  nominal p" + ("  futility Z" if futility else ""))
    for k, (t, c, b) in enumerate(zip(bounds.t, bounds.efficacy, bounds.futility)):
        fut = (f"  {b:10.4f}" if np.isfinite(b) else "           -") if futility else ""
        lines.append(f"      {k + 1:4d}  {d.looks.at_patients[k]:8d}  {t:4.2f}  {c:10.4f}  {norm.sf(c):9.6f}{fut}")
    if futility:
        lines.append("    futility is non-binding: the efficacy boundaries ignore it; an arm below it is dropped")
    lines.append(f"    if no arm is effective, select: {', '.join(d.decisions.strategies)}")
    return lines


def _control_share(value: object) -> str:
    if value in ("sqrt", "sqrt-based"):
        return "control share sqrt(k)/(sqrt(k)+k) for k other active arms, from the first patient"
    if value == "sqrt-based start":
        return "control share fixed at its sqrt-based start value"
    if value == "sqrt-based fixed":
        return "every share fixed at the sqrt-based start, the control's re-evaluated as arms drop"
    if value == "match":
        return "control share matched to the best other arm"
    if isinstance(value, list):
        return "control share " + ", ".join(f"{v:g}" for v in value) + " as non-control arms go from all to 1"
    return f"control share {value:g} from the first patient"


def describe_design(name: str, d: Design, endpoint: Endpoint, bounds: Boundaries | None = None,
                    arms: list[str] = ()) -> list[str]:
    a, dec, looks = d.allocation, d.decisions, d.looks
    lines = [f"  {name}: {d.description.strip()}" if d.description else f"  {name}:"]
    if d.crossover is not None or d.n_of_1 is not None:
        lines += describe_within(d, arms)
    elif a.rule == "fixed":
        ratio = ":".join(f"{v:g}" for v in a.ratio.values()) if a.ratio else "equal"
        blocks = f" in permuted blocks of {a.block_size}" if a.block_size else " by simple randomisation"
        lines.append(f"    allocation: fixed, {ratio}{blocks}")
    else:
        power = "n/(2N) (Thall-Wathen)" if a.power == "thall_wathen" else f"{a.power:g}"
        what = "Thompson sampling" if a.rule == "thompson" else f"proportional to Pr(best)^{power}"
        extra = [f"burn-in {a.burn_in} patients" if a.burn_in else "",
                 f"bounds [{a.min_prob:g}, {a.max_prob:g}]" if a.min_prob or a.max_prob < 1 else "",
                 _control_share(a.control_prob) if a.control_prob is not None else "",
                 "stratified by phenotype" if a.stratify_by_phenotype else ""]
        lines.append(f"    allocation: {what}" + "".join(f"; {e}" for e in extra if e))
    if looks.at_weeks is not None:
        lines.append(f"    interim looks at weeks {', '.join(f'{w:g}' for w in looks.at_weeks)}; final analysis when "
                     f"{looks.max_patients} patients reached the endpoint")
    else:
        lines.append(f"    looks when {', '.join(map(str, looks.at_patients))} patients reached the endpoint"
                     + (f" (randomised by then: {', '.join(map(str, looks.randomised_at_looks))})"
                        if looks.randomised_at_looks else ""))
    if bounds is not None:
        return lines + describe_boundaries(d, bounds, endpoint)
    if d.smart is not None:
        return lines[:1] + describe_smart(d, endpoint)
    if d.control and dec.on_superior == "new_control":
        better = endpoint.difference(dec.superiority_delta)
        lines.append(f"    each arm vs the current control (first '{d.control}'): an arm with Pr({better}) > "
                     f"{_thresholds(dec.superiority)} becomes the new control and the old control is dropped (adaptr); "
                     "the trial stops when one arm is left")
    elif d.controls:
        better = endpoint.difference(dec.superiority_delta)
        for control in d.control_arms:
            judged = [a for a, c in d.controls.items() if c == control]
            lines.append(f"    matched control '{control}': judges {', '.join(judged)} (they share its patients; no arm "
                         "is compared with another family's control)")
        left_out = [arm for arm in arms if arm not in d.controls and arm not in d.control_arms]
        if left_out:
            lines.append(f"    arms left out of this design (never randomised): {', '.join(left_out)}")
        lines.append(f"    each arm vs its own control: effective if Pr({better}) > {_thresholds(dec.superiority)}; an "
                     "effective arm stops enrolling; a control stops enrolling when its arms have all left; the trial "
                     "stops when no arm but the controls is left"
                     + ("; adaptive weights: Pr(arm beats its own control), each control at its share of its family"
                        if a.rule != "fixed" else ""))
    elif d.control:
        better = endpoint.difference(dec.superiority_delta)
        lines.append(f"    each arm vs control '{d.control}': effective if Pr({better}) > {_thresholds(dec.superiority)}; "
                     "an effective arm stops enrolling and the control stays the comparator; the trial stops when "
                     "no other arm is left")
    else:
        lines.append(f"    superiority: Pr(best) > {_thresholds(dec.superiority)}")
    if dec.inferiority is not None:
        lines.append(f"    drop as inferior: Pr({endpoint.difference(0) if d.main_control else 'best'}) < "
                     f"{_thresholds(dec.inferiority)}")
    first_only = " (against the first control only)"
    new_control = d.control and dec.on_superior == "new_control"
    if dec.futility:
        lines.append(f"    drop as futile: Pr({endpoint.difference(dec.futility.delta)}) < {dec.futility.threshold:g}"
                     + (first_only if new_control and dec.futility.only_first else ""))
    if dec.phenotype_futility:
        f = dec.phenotype_futility
        lines.append(f"    close an arm to a phenotype: Pr({endpoint.difference(f.delta)} in that phenotype) < {f.threshold:g}")
    if dec.equivalence:
        scope = "arm and control" if d.main_control else "all active arms"
        lines.append(f"    equivalence: Pr({scope} within {dec.equivalence.margin:g}) > {dec.equivalence.threshold:g}"
                     + (first_only if new_control and dec.equivalence.only_first else ""))
    if dec.harm:
        lines.append(f"    drop for harm (non-control arms): Pr(rate of {', '.join(dec.harm.events)} > {dec.harm.limit:g}) > "
                     f"{dec.harm.threshold:g}, Beta posterior of the randomised patients")
    if d.analysis.screen_failures != "observed":
        words = {"nonresponder": "counted as non-responders with no change (ITT)",
                 "excluded": "left out (implanted-only analysis)"}
        lines.append(f"    patients failing the screening trial: {words[d.analysis.screen_failures]}")
    strategies = " | ".join(dec.strategies) + (f" (preferences {', '.join(dec.selection_preferences)})"
                                               if dec.selection_preferences else "")
    comparator = dec.te_comp or d.main_control
    lines.append(f"    if no arm is superior, select: {strategies}"
                 + (f"; treatment effects vs '{comparator}'" if comparator else "")
                 + f"; estimates: posterior {d.analysis.estimate}s; analysis: {d.analysis.engine} engine, {d.analysis.prior} prior")
    a = d.analysis
    if a.longitudinal != "none":
        visits = ("weeks " + ", ".join(f"{w:g}" for w in a.longitudinal_visits) if a.longitudinal_visits is not None
                  else "every earlier visit")
        how = {"locf": "their last earlier score carried forward to the endpoint",
               "regression": "the endpoint predicted per arm from their last earlier score (regression learned "
                             "from completers, its uncertainty integrated)",
               "itp": "FACTS's integrated two-parameter time course (each arm's endpoint mean times a shape "
                      "(1 - exp(k t)) / (1 - exp(k T)) shared by the arms, k weighted on a grid; patient-level "
                      "random effects) fitted to every visit, pending patients' endpoints predicted from their visits",
               "mvn": "a per-arm multivariate normal of every visit and the endpoint (monotone-missing "
                      "factorisation), pending patients' endpoints predicted from all their earlier visits"}[a.longitudinal]
        lines.append(f"    interims add patients still before the endpoint ({visits}): {how}; "
                     "the final analysis uses observed endpoints only")
        if a.engine == "pymc" and a.longitudinal in ("itp", "mvn"):
            lines.append("    the PyMC engine fits that model at the visit level (patient effects integrated out; "
                         + {"mvn": "unstructured covariance per arm as in an MMRM, earlier visits with arm-by-visit "
                                   "means, phenotype and baseline in the endpoint's mean only",
                            "itp": "the shape's k a parameter, per-arm patient-effect and visit-noise SDs"}[a.longitudinal]
                         + ") under the engine's arm x phenotype prior of the endpoint means")
    if d.one_way_crossover is not None:
        x = d.one_way_crossover
        lines.append(f"    one-way crossover: after the primary endpoint the patients of '{d.control}' cross to "
                     f"'{x.to}'; at week {x.weeks:g} each arm is compared with '{d.control}' by randomised arm "
                     f"(Pr({endpoint.difference(x.delta)}) > {x.threshold:g}), with and without the crossover "
                     "on the same patients")
    if d.durability is not None:
        r = d.durability
        lines.append(f"    after the trial, an effective arm is also durable if Pr(better than '{d.control}' by "
                     f"{r.delta:g} at week {r.weeks:g}) > {r.threshold:g} (every randomised patient followed)")
    return lines


def describe_within(d: Design, arms: list[str]) -> list[str]:
    """A crossover or N-of-1 design: its sequences, periods and analysis (looks count complete patients)."""
    c = d.crossover or d.n_of_1
    off = f", then {c.washout_weeks:g} weeks of washout" if c.washout_weeks else " (no washout)"
    if d.crossover is not None:
        from ..compile import crossover_sequences

        rows = crossover_sequences(d, tuple(arms))
        kind = {"ab_ba": "AB/BA", "williams": "Williams"}.get(c.sequences, "given") if isinstance(c.sequences, str) \
            else "given"
        return [f"    crossover ({kind} sequences, randomised equally in blocks of {2 * len(rows)}): "
                + " | ".join("-".join(r) for r in rows),
                f"    {len(rows[0])} periods of {c.period_weeks:g} weeks of treatment{off}; a period's outcome is the "
                "NRS change at the visit ending its treatment; carry-over as the truth gives it",
                "    analysis: exact within-patient mixed model (patient, period and treatment effects; t posterior "
                "under a flat prior) of the patients who completed every period; looks count them"]
    treatments = c.treatments or arms
    engine = ("hierarchical model in PyMC (NUTS)" if d.analysis.engine == "pymc"
              else "normal approximation of the hierarchical model (exact t for the population effect)")
    return [f"    N-of-1 series: {c.blocks} blocks per patient, each giving {', '.join(treatments)} once in a random "
            f"order, {c.period_weeks:g} weeks each{off}",
            f"    analysis: {engine}: population effect vs '{d.control}' for the decisions; a patient's own effect "
            f"is detected when Pr(better than '{d.control}' for that patient) > {c.detect:g}; looks count patients "
            "who completed every period"]


def describe_smart(d: Design, endpoint: Endpoint) -> list[str]:
    """A SMART in words: its stages, regimes and tests."""
    m = d.smart
    n = d.looks.at_patients[-1]
    lines = [f"    SMART of {n} patients: stage 1 randomises {', '.join(m.stage1)} equally; at week "
             f"{m.response_weeks:g} a patient whose NRS fell by at least {m.response_reduction:.0%} of baseline "
             "responds and stays on the arm; non-responders are re-randomised equally:"]
    for arm in m.stage1:
        options = m.stage2[arm]
        lines.append(f"      after {arm}: " + (f"{', '.join(options)}" if len(options) > 1 else
                                                 f"{options[0]} (no re-randomisation)"))
    comparisons = len(m.regimes()) - 1
    level = m.alpha / comparisons if m.multiplicity == "bonferroni" and comparisons else m.alpha
    lines.append(f"    embedded regimes (stage-1 arm, then the non-responders' option): {', '.join(m.regimes())}")
    lines.append(f"    analysis at the final endpoint: each regime's inverse-probability-weighted mean (responders count "
                 f"in every regime of their arm) with robust SEs; each regime vs '{m.reference}': one-sided "
                 + ("t test (Welch-Satterthwaite df from effective sample sizes)" if m.test == "t" else "z test") + " at "
                 f"{level:.4g}" + (f" (Bonferroni, {m.alpha:g} over {comparisons})" if level != m.alpha else "")
                 + "; the best regime is the best estimated mean; patients are counted under their final treatment")
    return lines


def describe(s: Scenario) -> str:
    """Designs, arms and truths of a scenario in plain words."""
    pop, log = s.population, s.logistics
    plan = compile_scenario(s)
    lines = [f"Scenario {s.name}", *(["  " + s.description.strip()] if s.description else []), ""]
    lines.append(f"Endpoint: {plan.endpoint.describe()}, {log.endpoint_weeks:g} weeks after randomisation.")
    ramp = f" after a {log.accrual.ramp_up_weeks:g}-week ramp-up" if log.accrual.ramp_up_weeks else ""
    if s.patients is None:
        lines.append(f"Accrual {log.accrual.per_week:g} patients a week{ramp}; {log.dropout:.0%} lost before the endpoint.")
        nrs = pop.baseline_nrs
        baseline = (f"; baseline NRS {nrs.mean:g} (SD {nrs.sd:g}) within [{nrs.min:g}, {nrs.max:g}]"
                    if plan.endpoint.uses_pain_scores else "")
    else:
        p = s.patients
        lines.append(f"Accrual {log.accrual.per_week:g} patients a week{ramp}; dropout by arm, visit and pain "
                     f"(patients.dropout).")
        lines.append(f"Visit model: visits at weeks {', '.join(f'{w:g}' for w in p.visits)}; entry on measured NRS >= "
                     f"{p.pain.threshold:g} at screening and baseline ({p.pain.entry_on}), so regression to the mean "
                     f"emerges; effects are relative changes of pain read at NRS {p.reference_nrs:g}.")
        baseline = ""
    lines.append("Population: " + ", ".join(f"{k} {v.prevalence:.0%}" for k, v in pop.phenotypes.items()) + baseline + ".")
    lines += ["", f"Arms ({len(s.arms)}):"]
    for arm in s.arms:
        extra = [f"passes screening {arm.screening_pass:.0%}" if arm.screening_pass < 1 else "",
                 "adverse events " + ", ".join(f"{k} {v:.1%}" for k, v in arm.adverse_events.items()) if arm.adverse_events else ""]
        lines.append(f"  {arm.name} ({arm.kind.replace('_', ' ')})" + "".join(f"; {e}" for e in extra if e))
    lines += ["", f"Truths ({len(s.truths)}), with each arm's population-level true value:"]
    for (name, truth), values in zip(s.truths.items(), plan.true_values()):
        lines.append(f"  {name}: " + ", ".join(f"{a} {v:.3g}" for a, v in zip(s.arm_names, values)))
        if truth.description:
            lines.append(f"    {truth.description.strip()}")
        b = plan.truths[name].model.blinding
        if b is not None:
            lines.append("    blinding: Pr(believes active) " + ", ".join(f"{a} {p:.2f}" for a, p in
                                                                      zip(s.arm_names, b.believes_active))
                         + f"; expectation share {b.expectation_share:g} of the nonspecific part; "
                         + f"{b.dont_know:.0%} answer 'don't know'"
                         + ("; also run under perfect blinding on the same patients" if not b.perfect else ""))
    lines += ["", f"Designs ({len(s.designs)}):"]
    for name, design in s.designs.items():
        lines += describe_design(name, design, plan.endpoint, plan.designs[name].boundaries, s.arm_names)
    lines += ["", f"Simulation: {s.simulation.n_trials} trials per design and truth, seed {s.simulation.seed}."]
    return "\n".join(lines)
