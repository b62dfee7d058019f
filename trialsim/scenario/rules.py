"""Rules that span several parts of a scenario, checked after the types.

Each check yields `(path, message)` pairs so that every problem in a file is
reported at once, with the path of the field to fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from .hints import closest
from .schema import Design, Scenario, Target, Truth
from .within_rules import check_within

Problem = tuple[str, str]

TRUTH_FIELD_WORDS = {
    "nonspecific": "the mean change in NRS shared with sham, e.g. -2.2",
    "specific": "the extra change in NRS for patients who pass screening",
    "rate": "the event rate, e.g. 0.25",
    "mean": "the outcome's mean",
}

IMPLANTED_KINDS = {"sham_implanted", "scs_conventional", "scs_10khz", "scs_closed_loop", "dbs_open_loop", "dbs_closed_loop"}


def check_scenario(s: Scenario) -> list[Problem]:
    """Every cross-field problem of a type-valid scenario."""
    problems: list[Problem] = []
    names = s.arm_names
    if len(names) < 2:
        problems.append(("arms", "a trial needs at least 2 arms"))
    if not names:
        return problems  # every truth and design would repeat "unknown arm"
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append((f"arms[{i}].name", f"arm name '{name}' is used twice"))
    for i, arm in enumerate(s.arms):
        if arm.screening_pass < 1.0 and arm.kind not in IMPLANTED_KINDS | {"custom"}:
            problems.append((f"arms[{i}].screening_pass", f"screening applies to implanted arms; kind '{arm.kind}' has none"))
    if not s.truths:
        problems.append(("truths", "at least one truth is needed"))
    if not s.designs:
        problems.append(("designs", "at least one design is needed"))
    for tname, truth in s.truths.items():
        problems += list(_check_truth(s, f"truths.{tname}", truth))
    for dname, design in s.designs.items():
        problems += list(_check_design(s, f"designs.{dname}", design))
    for tname, target in s.targets.items():
        problems += list(_check_target(s, f"targets.{tname}", tname, target))
    problems += list(_check_patients(s))
    return problems


def _check_target(s: Scenario, path: str, name: str, target: Target) -> Iterator[Problem]:
    from ..summarise.glossary import ALIASES, known

    metric = target.metric or name
    if not known(metric):
        where = f"{path}.metric" if target.metric else path
        yield where, (f"unknown metric '{metric}'; name an OC metric (e.g. prob_any_effective, size_mean) "
                      f"or one of {', '.join(ALIASES)}" + ("" if target.metric else ", or give metric:"))
    for truth in target.truths:
        if truth not in s.truths:
            yield f"{path}.truth", _unknown("truth", truth, list(s.truths))
    for design in target.designs or []:
        if design not in s.designs:
            yield f"{path}.designs", _unknown("design", design, list(s.designs))


VISIT_FIELDS = ("responder_share", "responder_change", "loss_median_weeks", "nonspecific_sd", "carryover")


def _check_patients(s: Scenario) -> Iterator[Problem]:
    """The visit model: its visits, per-arm settings and the truths' visit-only fields."""
    spec = s.patients
    for tname, truth in s.truths.items():
        for arm, at in truth.arms.items():
            p = f"truths.{tname}.arms.{arm}"
            given = [f for f in VISIT_FIELDS if getattr(at, f) is not None]
            if given and spec is None:
                yield f"{p}.{given[0]}", "applies to the visit model only: add a 'patients' block"
            if given and not s.endpoint.plugin.uses_pain_scores:
                yield f"{p}.{given[0]}", f"applies to NRS endpoints; '{s.endpoint.type}' has no pain scores"
            if (at.responder_share is None) != (at.responder_change is None):
                yield p, "give responder_share and responder_change together"
            if at.responder_share is not None and at.specific not in (None, 0.0):
                yield f"{p}.specific", "with a responder mixture the specific part is the responders' change; drop 'specific'"
            for field in ("responder_share", "responder_change"):
                value = getattr(at, field)
                for ph in value if isinstance(value, dict) else ():
                    if ph not in s.phenotype_names:
                        yield f"{p}.{field}.{ph}", _unknown("phenotype", ph, s.phenotype_names)
            changes = at.responder_change if isinstance(at.responder_change, dict) else {"": at.responder_change}
            if any(c is not None and c <= -1 for c in changes.values()):
                yield f"{p}.responder_change", "a relative change of pain must be above -1 (-1 would be no pain at all)"
            if spec is not None and at.nonspecific is not None and at.nonspecific <= -spec.reference_nrs:
                yield f"{p}.nonspecific", f"a change of {at.nonspecific} from {spec.reference_nrs} leaves no pain; keep it above {-spec.reference_nrs}"
    if spec is None:
        for dname, design in s.designs.items():
            if design.analysis.missing != "complete_case":
                yield f"designs.{dname}.analysis.missing", "applies to the visit model's dropout: add a 'patients' block"
            if design.analysis.longitudinal != "none":
                yield f"designs.{dname}.analysis.longitudinal", "uses the visit model's earlier visits: add a 'patients' block"
            if design.durability is not None:
                yield f"designs.{dname}.durability", "uses the visit model's later visits: add a 'patients' block"
            if design.analysis.screen_failures != "observed":
                yield f"designs.{dname}.analysis.screen_failures", "applies to the visit model: add a 'patients' block"
        return
    for dname, design in s.designs.items():
        yield from _check_longitudinal(f"designs.{dname}.analysis", design.analysis, s, spec.visits)
        d = design.durability
        if d is not None:
            if d.weeks not in spec.visits or d.weeks <= s.logistics.endpoint_weeks:
                yield f"designs.{dname}.durability.weeks", f"week {d.weeks:g} is not a visit (patients.visits) after the endpoint"
            if design.controls is not None:
                yield f"designs.{dname}.durability", ("is judged against one control; not available with matched "
                                                      "controls (designs.X.controls): give the design a control")
            elif design.control is None:
                yield f"designs.{dname}.durability", "is judged against the control: give the design a control"
            if s.endpoint.plugin.family != "normal":
                yield f"designs.{dname}.durability", f"applies to a continuous endpoint; '{s.endpoint.type}' is a rate"
    if not s.endpoint.plugin.uses_pain_scores:
        yield "patients", f"the visit model generates pain scores; endpoint type '{s.endpoint.type}' does not use them"
    if s.logistics.endpoint_weeks not in spec.visits:
        yield "patients.visits", f"the primary endpoint week {s.logistics.endpoint_weeks:g} (logistics.endpoint_weeks) must be a visit"
    for field in ("loss_by_52_weeks", "explant_by_12_weeks"):
        value = getattr(spec.dropout, field)
        for arm in value if isinstance(value, dict) else ():
            if arm not in s.arm_names:
                yield f"patients.dropout.{field}.{arm}", _unknown("arm", arm, s.arm_names)
    if s.logistics.dropout > 0:
        yield "logistics.dropout", "with the visit model, dropout is set in patients.dropout (by arm, visit and pain); set this to 0"
    m = spec.misclassification
    if m is not None and m.positive not in s.phenotype_names:
        yield "patients.misclassification.positive", _unknown("phenotype", m.positive, s.phenotype_names)


def _check_longitudinal(p: str, a, s: Scenario, visits: list[float]) -> Iterator[Problem]:
    """analysis.longitudinal: a continuous endpoint, complete cases, earlier visits of the visit model."""
    if a.longitudinal == "none":
        if a.longitudinal_visits is not None:
            yield f"{p}.longitudinal_visits", "applies with analysis.longitudinal locf, regression, itp or mvn"
        return
    if s.endpoint.plugin.family != "normal":
        yield f"{p}.longitudinal", f"models a continuous endpoint; '{s.endpoint.type}' is a rate"
    if a.missing != "complete_case":
        yield f"{p}.longitudinal", "needs analysis.missing: complete_case (completers teach the model)"
    if a.engine == "frequentist":
        yield f"{p}.longitudinal", "is built into the exact and pymc engines (their interim statistics), not the frequentist one"
    for week in a.longitudinal_visits or ():
        if week not in visits or week >= s.logistics.endpoint_weeks:
            yield f"{p}.longitudinal_visits", f"week {week:g} is not a visit (patients.visits) before the endpoint"


def _unknown(kind: str, name: str, valid: list[str]) -> str:
    hint = closest(name, valid)
    return f"unknown {kind} '{name}'" + (f" (did you mean '{hint}'?)" if hint else f"; valid: {', '.join(valid)}")


def _every_arm_once(path: str, given: dict, names: list[str], missing: str) -> Iterator[Problem]:
    """A mapping keyed by arm must name known arms and every arm."""
    for arm in given:
        if arm not in names:
            yield f"{path}.{arm}", _unknown("arm", arm, names)
    for arm in names:
        if arm not in given:
            yield path, f"arm '{arm}' has no {missing}"


def _check_truth(s: Scenario, path: str, truth: Truth) -> Iterator[Problem]:
    names, phenos = s.arm_names, s.phenotype_names
    if truth.blinding is not None:
        if s.patients is None:
            yield f"{path}.blinding", "the blinding model acts on the visit model's nonspecific part: add a 'patients' block"
        for arm in truth.blinding.believes_active:
            if arm not in names:
                yield f"{path}.blinding.believes_active.{arm}", _unknown("arm", arm, names)
    yield from _every_arm_once(f"{path}.arms", truth.arms, names, "truth; give every arm an effect")
    kind = s.endpoint.type
    needed = s.endpoint.plugin.truth_fields
    for arm, at in truth.arms.items():
        p = f"{path}.arms.{arm}"
        for field in needed:
            if getattr(at, field) is None:
                yield f"{p}.{field}", f"missing: endpoint type '{kind}' needs '{field}' ({TRUTH_FIELD_WORDS[field]})"
        for field, words in TRUTH_FIELD_WORDS.items():
            given = getattr(at, field) not in (None, 0.0) if field == "specific" else getattr(at, field) is not None
            owner = "nonspecific" if field == "specific" else field
            if given and owner not in needed:
                yield f"{p}.{field}", f"'{field}' does not apply to endpoint type '{kind}'; give {', '.join(needed)}"
        for field in ("specific", "rate", "mean"):
            value = getattr(at, field)
            if isinstance(value, dict):
                for ph in value:
                    if ph not in phenos:
                        yield f"{p}.{field}.{ph}", _unknown("phenotype", ph, phenos)


def _per_look(value: float | list[float] | None, n_looks: int) -> list[float] | None:
    if value is None or isinstance(value, list) and len(value) != n_looks:
        return None  # absent, or already reported as the wrong length
    return value if isinstance(value, list) else [value] * n_looks


def _check_thresholds(path: str, d: Design, n_looks: int) -> Iterator[Problem]:
    """Thresholds that would let one arm be both superior and inferior (or futile) at a look."""
    dec = d.decisions
    superiority = _per_look(dec.superiority, n_looks)
    inferiority = _per_look(dec.inferiority, n_looks)
    if superiority is None:
        return
    if inferiority is not None:
        clash = [j for j in range(n_looks) if inferiority[j] >= superiority[j]]
        if clash:
            j = clash[0]
            yield (f"{path}.inferiority", f"inferiority ({inferiority[j]:g}) must be below superiority "
                                          f"({superiority[j]:g}) at look {j + 1}")
    if dec.futility is not None and dec.futility.threshold >= min(superiority):
        yield (f"{path}.futility.threshold", f"the futility threshold ({dec.futility.threshold:g}) must be below "
                                             f"superiority ({min(superiority):g})")


def _check_design(s: Scenario, path: str, d: Design) -> Iterator[Problem]:
    names = s.arm_names
    if d.control is not None and d.control not in names:
        yield f"{path}.control", _unknown("arm", d.control, names)
    a = d.allocation
    if a.ratio is not None:
        yield from _every_arm_once(f"{path}.allocation.ratio", a.ratio, names, "ratio; give every arm one")
        if a.rule != "fixed":
            yield f"{path}.allocation.ratio", "ratio applies to rule 'fixed'; adaptive rules start equal"
    k = len(names)
    if k == 0:
        return  # reported once for the scenario ("at least 2 arms"); the checks below divide by k
    if a.block_size is not None:
        used = names if not d.controls else [n for n in names if n in d.controls or n in d.controls.values()]
        ratio = [(a.ratio or {}).get(n, 1.0) for n in used]
        per_block = [r / sum(ratio) * a.block_size for r in ratio]
        if any(abs(c - round(c)) > 1e-9 for c in per_block):
            yield (f"{path}.allocation.block_size",
                   f"a block of {a.block_size} cannot hold the ratio {':'.join(f'{r:g}' for r in ratio)} in whole patients; "
                   f"use a multiple of {sum(ratio):g}")
    if a.min_prob * k > 1 + 1e-9:
        yield f"{path}.allocation.min_prob", f"{a.min_prob} x {k} arms exceeds 1; lower it below {1 / k:.3f}"
    if a.max_prob * k < 1 - 1e-9:
        yield f"{path}.allocation.max_prob", f"{a.max_prob} x {k} arms is below 1; raise it above {1 / k:.3f}"
    yield from _check_matched_controls(path, d, names)
    if a.control_prob is not None and d.main_control is None:
        yield f"{path}.allocation.control_prob", "needs a control arm: set design.control"
    if a.rule == "fixed" and (a.burn_in or a.min_prob or a.max_prob < 1 or a.control_prob is not None):
        yield f"{path}.allocation", "burn_in, min_prob, max_prob and control_prob apply to adaptive rules; use ratio for fixed"
    n_looks = d.looks.n_looks
    dec = d.decisions
    for field in ("superiority", "inferiority"):
        value = getattr(dec, field)
        if isinstance(value, list) and len(value) != n_looks:
            yield f"{path}.decisions.{field}", f"{len(value)} thresholds for {n_looks} looks; give one per look or a single value"
    for field in ("futility", "phenotype_futility"):
        if getattr(dec, field) is not None and d.main_control is None:
            yield f"{path}.decisions.{field}", f"{field} is judged against a control: set design.control"
    yield from _check_thresholds(f"{path}.decisions", d, n_looks)
    yield from _check_control_rules(path, d, names)
    if dec.harm is not None:
        events = sorted({e for arm in s.arms for e in arm.adverse_events})
        for i, e in enumerate(dec.harm.events):
            if e not in events:
                yield f"{path}.decisions.harm.events[{i}]", _unknown("adverse event", e, events)
        if dec.on_superior == "new_control":
            yield f"{path}.decisions.harm", "the harm rule applies to designs without a control or with on_superior 'graduate'"
    prior = d.analysis.prior
    if d.analysis.engine == "exact" and prior in ("vague", "sceptical", "informative"):
        yield f"{path}.analysis.prior", f"preset '{prior}' belongs to engine 'pymc'; the exact engine takes 'flat' or a conjugate prior"
    if d.analysis.engine == "pymc" and not isinstance(prior, str):
        yield f"{path}.analysis.prior", "engine 'pymc' takes a preset: flat, vague, sceptical or informative"
    kind = getattr(prior, "type", None)
    family = s.endpoint.plugin.family
    if kind == "beta" and family != "beta":
        yield f"{path}.analysis.prior", f"a beta prior needs an endpoint of rates; use normal_gamma for '{s.endpoint.type}'"
    if kind == "normal_gamma" and family != "normal":
        yield f"{path}.analysis.prior", f"a normal_gamma prior needs an endpoint of means; use beta for '{s.endpoint.type}'"
    if a.burn_in > d.looks.n_max:
        yield f"{path}.allocation.burn_in", "burn_in exceeds the maximum sample size"
    yield from _check_frequentist(path, d)
    yield from _check_smart(s, path, d)
    yield from _check_one_way_crossover(s, path, d)
    yield from check_within(s, path, d)


def _check_smart(s: Scenario, path: str, d: Design) -> Iterator[Problem]:
    """A SMART: known arms, options for every stage-1 arm, a response visit before the endpoint, one look,
    and none of the parallel-group settings it would ignore."""
    m = d.smart
    if m is None:
        return
    p, names = f"{path}.smart", s.arm_names
    for i, arm in enumerate(m.stage1):
        if arm not in names:
            yield f"{p}.stage1[{i}]", _unknown("arm", arm, names)
        elif arm in m.stage1[:i]:
            yield f"{p}.stage1[{i}]", f"arm '{arm}' is listed twice"
    for arm, options in m.stage2.items():
        if arm not in m.stage1:
            yield f"{p}.stage2.{arm}", _unknown("stage-1 arm", arm, m.stage1)
        if not options:
            yield f"{p}.stage2.{arm}", f"give at least one option (['{arm}'] keeps non-responders on it)"
        for i, option in enumerate(options):
            if option not in names:
                yield f"{p}.stage2.{arm}[{i}]", _unknown("arm", option, names)
            elif option in options[:i]:
                yield f"{p}.stage2.{arm}[{i}]", f"option '{option}' is listed twice"
    missing = [arm for arm in m.stage1 if arm not in m.stage2]
    for arm in missing:
        yield f"{p}.stage2", f"stage-1 arm '{arm}' has no stage-2 options; give {arm}: [{arm}] to keep its non-responders on it"
    regimes = m.regimes()
    if m.reference not in regimes and not missing:  # a missing arm's regimes are reported above
        yield f"{p}.reference", _unknown("regime", m.reference, regimes)
    if s.patients is None:
        yield p, "response is read at a visit of the visit model: add a 'patients' block"
    else:
        if m.response_weeks not in s.patients.visits or m.response_weeks >= s.logistics.endpoint_weeks:
            yield f"{p}.response_weeks", (f"week {m.response_weeks:g} is not a visit (patients.visits) before the "
                                          f"final endpoint (logistics.endpoint_weeks {s.logistics.endpoint_weeks:g})")
    if not s.endpoint.plugin.uses_pain_scores:
        yield p, f"response is a reduction of NRS; endpoint type '{s.endpoint.type}' has no pain scores"
    if d.looks.at_patients is None or len(d.looks.at_patients) != 1:
        yield f"{path}.looks", "a SMART has one analysis: give looks {at_patients: [N]} (interim looks are not available)"
    if d.control is not None or d.controls is not None:
        yield f"{path}.control" if d.control is not None else f"{path}.controls", \
            "a SMART compares regimes with smart.reference; remove the control"
    defaults = type(d).model_fields
    for field, words in (("allocation", "stage-1 arms and stage-2 options are randomised equally"),
                         ("decisions", "regimes are tested against smart.reference at smart.alpha"),
                         ("durability", "not available with a SMART"), ("one_way_crossover", "not available with a SMART")):
        if getattr(d, field) != (defaults[field].get_default(call_default_factory=True)):
            yield f"{path}.{field}", f"applies to parallel-group designs; {words}: remove it"
    a = d.analysis
    for field in ("missing", "screen_failures", "longitudinal"):
        if getattr(a, field) != type(a).model_fields[field].default:
            yield f"{path}.analysis.{field}", "a SMART analyses complete cases by weighting (no imputation): remove it"


def _check_one_way_crossover(s: Scenario, path: str, d: Design) -> Iterator[Problem]:
    """A one-way crossover: one control, an active arm to cross to, a long-term visit after the endpoint."""
    x = d.one_way_crossover
    if x is None:
        return
    p = f"{path}.one_way_crossover"
    if x.to not in s.arm_names:
        yield f"{p}.to", _unknown("arm", x.to, s.arm_names)
    elif x.to == d.control:
        yield f"{p}.to", f"'{x.to}' is the control; name the active arm its patients cross to"
    if d.control is None:
        yield p, "the control's patients cross over: give the design one control (not matched controls)"
    if s.patients is None:
        yield p, "the long-term visit is a visit of the visit model: add a 'patients' block"
    elif x.weeks not in s.patients.visits or x.weeks <= s.logistics.endpoint_weeks:
        yield f"{p}.weeks", f"week {x.weeks:g} is not a visit (patients.visits) after the endpoint"
    if s.endpoint.plugin.family != "normal":
        yield p, f"compares means at the long-term visit; '{s.endpoint.type}' is a rate"
    if d.analysis.screen_failures != "observed":
        yield f"{path}.analysis.screen_failures", ("crossed-over patients are analysed as observed; "
                                                  "a one-way crossover needs screen_failures: observed")


BAYESIAN_DECISIONS = ("superiority", "superiority_delta", "inferiority", "futility", "equivalence", "phenotype_futility")


def _check_frequentist(path: str, d: Design) -> Iterator[Problem]:
    """A frequentist design: tests against group-sequential boundaries planned on the information fractions."""
    frequentist = d.analysis.engine == "frequentist"
    if d.analysis.variance != "pooled" and not frequentist:
        yield f"{path}.analysis.variance", "variance applies to engine 'frequentist'"
    if frequentist and d.analysis.prior != "flat":
        yield f"{path}.analysis.prior", "engine 'frequentist' takes no prior"
    if d.decisions.boundaries is None:
        if frequentist:
            yield f"{path}.decisions.boundaries", "engine 'frequentist' needs boundaries, e.g. {spending: obf, alpha: 0.025}"
        return
    where = f"{path}.decisions.boundaries"
    if not frequentist:
        yield f"{path}.analysis.engine", "decisions.boundaries are tested by engine 'frequentist'; set analysis.engine: frequentist"
    if d.control is None:
        yield f"{path}.control", "boundaries test each arm against one control: set design.control (not controls)"
    if d.decisions.harm is not None:
        yield f"{path}.decisions.harm", "the harm rule belongs to Bayesian designs; boundaries decide efficacy only"
    if d.allocation.rule != "fixed":
        yield f"{path}.allocation.rule", "boundaries are planned on fixed allocation (information fractions); use rule 'fixed'"
    if d.decisions.on_superior != "graduate":
        yield f"{path}.decisions.on_superior", "boundaries test each arm against one fixed control: use 'graduate'"
    if d.looks.at_patients is None:
        yield f"{path}.looks", "boundaries need looks at_patients (planned information fractions), not at_weeks"
    for field in BAYESIAN_DECISIONS:  # compared with the defaults: a dumped and re-read scenario stays valid
        if getattr(d.decisions, field) != type(d.decisions).model_fields[field].default:
            yield f"{path}.decisions.{field}", f"{field} is a Bayesian threshold; with boundaries the tests decide"
    for b, sub in ((d.decisions.boundaries, where), (d.decisions.boundaries.futility, f"{where}.futility")):
        if b is not None and b.parameter is not None and b.spending not in ("hsd", "power"):
            yield f"{sub}.parameter", f"spending '{b.spending}' takes no parameter (hsd: gamma, power: rho)"
        if b is not None and b.spending == "power" and b.parameter is not None and b.parameter <= 0:
            yield f"{sub}.parameter", "the power spending function needs rho > 0"


def _check_matched_controls(path: str, d: Design, names: list[str]) -> Iterator[Problem]:
    """Matched controls: every arm is judged against its own comparator, is one, or is left out."""
    if d.controls is None:
        return
    p = f"{path}.controls"
    if d.control is not None:
        yield f"{path}.control", "give either control (one comparator) or controls (one per arm), not both"
    for arm, comparator in d.controls.items():
        if arm not in names:
            yield f"{p}.{arm}", _unknown("arm", arm, names)
        if comparator not in names:
            yield f"{p}.{arm}", _unknown("arm", comparator, names)
        if comparator in d.controls:
            yield f"{p}.{arm}", f"'{comparator}' is a comparator and is itself judged against a control"
    if d.decisions.on_superior != "graduate":
        yield f"{path}.decisions.on_superior", "matched controls judge each arm against its own comparator: use 'graduate'"
    if d.decisions.phenotype_futility is not None:
        yield f"{path}.decisions.phenotype_futility", "enrichment is not available with matched controls"
    a = d.allocation
    if a.stratify_by_phenotype and a.rule != "fixed":
        yield f"{path}.allocation.stratify_by_phenotype", "adaptive allocation with matched controls is not stratified"
    if isinstance(a.control_prob, list) or a.control_prob in ("sqrt-based start", "sqrt-based fixed"):
        yield (f"{path}.allocation.control_prob", "with matched controls give each control's share of its family: "
               "a number, 'sqrt-based' or 'match'")
    if a.rule != "fixed" and a.control_prob is None:
        yield f"{path}.allocation.control_prob", "adaptive matched controls need each control's share: a number, 'sqrt-based' or 'match'"


def _check_control_rules(path: str, d: Design, names: list[str]) -> Iterator[Problem]:
    """The new-control rule, control shares and selection strategies."""
    dec, a = d.decisions, d.allocation
    if dec.on_superior == "new_control" and d.main_control is None:
        yield f"{path}.decisions.on_superior", "'new_control' replaces a control: set design.control"
    if isinstance(a.control_prob, list) and len(a.control_prob) != len(names) - 1:
        yield (f"{path}.allocation.control_prob",
               f"a list gives the control share for {len(names) - 1} down to 1 active non-control arms: "
               f"{len(names) - 1} values, got {len(a.control_prob)}")
    for i, strategy in enumerate(dec.strategies):
        where = f"{path}.decisions.selection" + (f"[{i}]" if isinstance(dec.selection, list) else "")
        if strategy in ("control", "final control", "control or best") and d.main_control is None:
            yield where, f"strategy '{strategy}' needs a control: set design.control"
        if strategy.startswith("list") and not dec.selection_preferences:
            yield where, f"strategy '{strategy}' needs decisions.selection_preferences (arms in order of preference)"
    if len(set(dec.strategies)) != len(dec.strategies):
        yield f"{path}.decisions.selection", "a strategy is listed twice"
    for i, arm in enumerate(dec.selection_preferences):
        if arm not in names:
            yield f"{path}.decisions.selection_preferences[{i}]", _unknown("arm", arm, names)
    if dec.te_comp is not None and dec.te_comp not in names:
        yield f"{path}.decisions.te_comp", _unknown("arm", dec.te_comp, names)
    if dec.select_last_arm and d.main_control is None:
        yield f"{path}.decisions.select_last_arm", "select_last_arm applies to designs with a control"
    if d.analysis.estimate == "median" and d.analysis.engine != "exact":
        yield f"{path}.analysis.estimate", "posterior medians come from the exact engine; use 'mean' with pymc"
