"""The one bridge from a validated scenario to the runtime plans.

`compile_scenario(scenario, overrides)` applies overrides from the command
line or the API (engine, trials, seed), validates the result with the same
rules as the file, and turns it into plain plan objects: the population and
cohort, the endpoint plug-in, each truth's effect arrays and each design's
look schedule, allocation, decisions and analysis. Nothing below this module
imports the scenario schema.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from . import endpoints
from .blinding import BELIEF_BY_KIND, BlindingPlan
from .cohort import CohortPlan
from .design import boundaries as gs
from .design.allocation import AllocationRule, matched_start, start_probabilities
from .design.boundaries import Boundaries
from .design.decisions import EXCLUDED, DecisionRule
from .design.crossover import CrossoverPlan, williams
from .design.dtr import Regimes
from .design.families import FamilyPlan
from .design.n_of_1 import NOf1Plan
from .design.one_way import OneWayCrossoverPlan, long_term_true_values
from .design.parallel import Durability, DesignPlan, TruthPlan
from .plan import TrialPlan
from .design.schedule import LookPlan
from .design.smart import SmartPlan
from .effects import EffectModel
from .endpoints import Endpoint
from .inference.engines import AnalysisPlan
from .inference.priors import FLAT, ConjugatePrior
from .population import Population, TruncNormal
from .scenario import Scenario, parse_scenario, scenario_hash, scenario_json
from .scenario.schema import Design, PatientsSpec, Smart, Truth
from .patients import DropoutModel, OdiModel, OpioidModel, PainModel
from .patients.effects import ArmArrays, ArmEffect, TimeCourse
from .patients.phenotype import screening_confusion
from .summarise.selection import SelectionPlan
from .visits import VisitEffects, VisitPlan, true_values as visit_true_values
from .ufuncs import special


@dataclass(frozen=True)
class Overrides:
    """Settings given outside the file (CLI options, API keywords); None keeps the file's."""

    engine: str | None = None  # every design's analysis.engine
    n_trials: int | None = None
    seed: int | None = None


def apply_overrides(scenario: Scenario, overrides: Overrides) -> Scenario:
    """The scenario with overrides applied, validated by the file's rules.

    Raises ScenarioError whose source names the override (e.g. "--engine exact").
    """
    if overrides.engine is None:
        return scenario
    data = scenario.model_dump(mode="json")
    for design in data["designs"].values():
        if design["analysis"]["engine"] != "frequentist":  # the override swaps Bayesian engines; tests stay tests
            design["analysis"]["engine"] = overrides.engine
    return parse_scenario(data, source=f"--engine {overrides.engine}")


def compile_scenario(scenario: Scenario, overrides: Overrides = Overrides()) -> TrialPlan:
    """A validated scenario (plus overrides) as runtime plans."""
    original = scenario
    scenario = apply_overrides(scenario, overrides)
    endpoint = endpoints.create(scenario.endpoint.type, scenario.endpoint.higher_is_better,
                                scenario.endpoint.responder_reduction)
    arms = tuple(scenario.arm_names)
    phenotypes = tuple(scenario.phenotype_names)
    events = tuple(sorted({e for arm in scenario.arms for e in arm.adverse_events}))
    screening = np.array([a.screening_pass for a in scenario.arms], dtype=float)
    visit_plan = compile_visits(scenario) if scenario.patients is not None else None
    designs = {name: compile_design(name, d, arms, len(phenotypes), endpoint, events, visit_plan)
               for name, d in scenario.designs.items()}
    log = scenario.logistics
    cohort = CohortPlan(
        population=compile_population(scenario), arms=arms,
        accrual_per_week=log.accrual.per_week, ramp_up_weeks=log.accrual.ramp_up_weeks, dropout=log.dropout,
        endpoint_weeks=log.endpoint_weeks, screening_pass=screening, adverse_events=events,
        adverse_rates=np.array([[arm.adverse_events.get(e, 0.0) for e in events] for arm in scenario.arms]).reshape(len(arms), -1),
        pain_scores=endpoint.uses_pain_scores, max_patients=max(d.n_max for d in designs.values()),
        visit=visit_plan,
    )
    kinds = tuple(a.kind for a in scenario.arms)
    truths = {name: TruthPlan(name, endpoint, compile_truth(t, arms, phenotypes, screening, kinds))
              for name, t in scenario.truths.items()}
    if cohort.visit is not None:
        prevalence = cohort.population.prevalence
        truths = {name: replace(t, model=replace(t.model, visit=compile_visit_truth(
            scenario.truths[name], scenario.patients, cohort.visit, arms, phenotypes, prevalence, screening,
            endpoint.responder_reduction))) for name, t in truths.items()}
    # an unblinded truth also runs under perfect blinding on the same patients (the bias unblinding causes)
    truths = {name: replace(t, blinded=replace(t, model=replace(t.model, blinding=t.model.blinding.blinded())))
              if t.model.blinding is not None and not t.model.blinding.perfect else t for name, t in truths.items()}
    cohort = replace(cohort, belief=any(t.model.blinding is not None for t in truths.values()))
    designs = with_family_truths(designs, truths, cohort, screening)
    sim = scenario.simulation
    return TrialPlan(
        name=scenario.name, arms=arms, phenotypes=phenotypes, adverse_events=events, endpoint=endpoint,
        cohort=cohort, truths=truths, designs=designs,
        n_trials=overrides.n_trials or sim.n_trials, seed=sim.seed if overrides.seed is None else overrides.seed,
        scenario_json=scenario_json(original), scenario_hash=scenario_hash(original),
        engine_override=overrides.engine or "",
    )


def compile_population(s: Scenario) -> Population:
    pop = s.population

    def dist(d) -> TruncNormal:
        return TruncNormal(d.mean, d.sd, d.min, d.max)

    phenos = list(pop.phenotypes.values())
    return Population(
        phenotypes=tuple(pop.phenotypes), prevalence=np.array([p.prevalence for p in phenos]),
        baseline_nrs=tuple(dist(p.baseline_nrs or pop.baseline_nrs) for p in phenos),
        baseline_odi=tuple(dist(p.baseline_odi or pop.baseline_odi) for p in phenos),
    )


def compile_visits(s: Scenario) -> VisitPlan:
    spec = s.patients
    arms, phenotypes = s.arm_names, s.phenotype_names

    def per_arm(value: float | dict[str, float], default: float = 0.0) -> tuple[float, ...]:
        return tuple(value.get(a, default) for a in arms) if isinstance(value, dict) else (float(value),) * len(arms)

    d, o, m = spec.dropout, spec.opioids, spec.misclassification
    prevalence = np.array([p.prevalence for p in s.population.phenotypes.values()])
    confusion = None if m is None else tuple(map(tuple, screening_confusion(
        prevalence, phenotypes.index(m.positive), m.sensitivity, m.specificity)))
    return VisitPlan(
        visits=tuple(spec.visits), primary=spec.visits.index(s.logistics.endpoint_weeks),
        reference_nrs=spec.reference_nrs, pain=PainModel(**spec.pain.model_dump()),
        odi=OdiModel(**spec.odi.model_dump()),
        opioids=OpioidModel(share_on_opioids=o.share_on_opioids, log_mme_median=float(np.log(o.median_mme)),
                            log_mme_sd=o.log_mme_sd, elasticity=o.elasticity, noise_sd=o.noise_sd,
                            stop_below=o.stop_below, reduction=o.reduction),
        dropout=DropoutModel(loss_by_52_weeks=per_arm(d.loss_by_52_weeks, 0.08), odds_ratio_per_point=d.odds_ratio_per_point,
                             mechanism=d.mechanism, explant_by_12_weeks=per_arm(d.explant_by_12_weeks)),
        confusion=confusion, trial_nonspecific_sd=spec.trial_nonspecific_sd,
        # the cohort keeps latent pain up to the latest durability visit of any design
        kept=max([spec.visits.index(w) + 1 for d in s.designs.values()
                  for w in later_weeks(d) + sequence_visit_weeks(d, tuple(arms))], default=0),
        screening_correlation=spec.screening_correlation,
    )


def later_weeks(d: Design) -> list[float]:
    """Visits after the primary one a design analyses (the cohort keeps latent pain up to them)."""
    return [x.weeks for x in (d.durability, d.one_way_crossover) if x is not None]


def compile_visit_truth(truth: Truth, spec: PatientsSpec, plan: VisitPlan, arms: tuple[str, ...],
                        phenotypes: tuple[str, ...], prevalence: np.ndarray, screening: np.ndarray,
                        responder_reduction: float) -> VisitEffects:
    """A truth's NRS changes as relative changes of pain at the reference score, per arm."""
    ref = spec.reference_nrs
    c = spec.nonspecific_course
    course = TimeCourse(c.onset_weeks, c.half_life_weeks, c.persistent, c.decay_from_weeks)
    effects = []
    for name in arms:
        at = truth.arms[name]
        shift = float(np.log((ref + (at.nonspecific or 0.0)) / ref))
        if at.responder_share is not None:
            share = tuple(_per_phenotype(at.responder_share, phenotypes))
            effect = tuple(np.log1p(_per_phenotype(at.responder_change, phenotypes)))
        else:  # no mixture: everyone screened in gets the specific change
            share = (1.0,)
            total = ref + (at.nonspecific or 0.0) + _per_phenotype(at.specific, phenotypes)
            effect = tuple(np.log(np.maximum(total, 1e-3) / ref) - shift)
        effects.append(ArmEffect(
            nonspecific=shift, nonspecific_sd=spec.nonspecific_sd if at.nonspecific_sd is None else at.nonspecific_sd,
            nonspecific_course=course, responder_share=share, responder_effect=effect,
            specific_onset_weeks=spec.specific_onset_weeks, loss_half_life_weeks=at.loss_median_weeks,
        ))
    effects = tuple(effects)
    change, responder = visit_true_values(plan, effects, prevalence, screening, responder_reduction)
    carry = [truth.arms[name].carryover for name in arms]
    return VisitEffects(effects, ArmArrays.of(effects, len(phenotypes)), change, responder,
                        carry_share=tuple(c.share if c else 0.0 for c in carry),
                        carry_half_life=tuple(c.half_life_weeks or np.inf if c else np.inf for c in carry))


def _per_phenotype(value: float | dict[str, float] | None, phenotypes: tuple[str, ...]) -> np.ndarray:
    if value is None:
        return np.zeros(len(phenotypes))
    if isinstance(value, dict):
        return np.array([value.get(p, 0.0) for p in phenotypes], dtype=float)
    return np.full(len(phenotypes), float(value))


def compile_blinding(truth: Truth, arms: tuple[str, ...], kinds: tuple[str, ...]) -> BlindingPlan | None:
    b = truth.blinding
    if b is None:
        return None
    p = np.array([b.believes_active.get(a, BELIEF_BY_KIND[k]) for a, k in zip(arms, kinds)], float)
    return BlindingPlan(p, b.expectation_share, b.dont_know)


def compile_truth(truth: Truth, arms: tuple[str, ...], phenotypes: tuple[str, ...], screening: np.ndarray,
                  kinds: tuple[str, ...] | None = None) -> EffectModel:
    given = [truth.arms[a] for a in arms]
    return EffectModel(
        nonspecific=np.array([a.nonspecific or 0.0 for a in given], dtype=float),
        specific=np.array([_per_phenotype(a.specific, phenotypes) for a in given]),
        sd=np.array([a.sd or truth.sd for a in given], dtype=float),
        rate=np.array([_per_phenotype(a.rate, phenotypes) for a in given]),
        mean=np.array([_per_phenotype(a.mean, phenotypes) for a in given]),
        screening_pass=screening,
        blinding=compile_blinding(truth, arms, kinds or ("custom",) * len(arms)),
    )


def compile_design(name: str, design: Design, arms: tuple[str, ...], n_phenotypes: int, endpoint: Endpoint,
                   events: tuple[str, ...] = (), visits: VisitPlan | None = None) -> DesignPlan:
    looks = design.looks
    look_plan = looks.plan()
    control = arms.index(design.main_control) if design.main_control else None
    comparator = compile_comparators(design, arms)
    allocation = compile_allocation(design, arms, control, comparator)
    bounds = compile_boundaries(design, allocation, look_plan)
    return DesignPlan(
        name=name, looks=look_plan, allocation=allocation,
        decisions=compile_decisions(design, control, look_plan.n_looks, bounds, comparator, events),
        analysis=compile_analysis(design, endpoint, len(arms), n_phenotypes, visits), control=design.main_control,
        selection=compile_selection(design, arms), boundaries=bounds,
        family=compile_family(design, arms, endpoint, visits),
        durability=None if design.durability is None or visits is None else Durability(
            visits.visits.index(design.durability.weeks), design.durability.weeks, design.durability.threshold,
            design.durability.delta),
    )


def compile_family(design: Design, arms: tuple[str, ...], endpoint: Endpoint,
                   visits: VisitPlan | None) -> FamilyPlan | None:
    """The plan of a design family other than parallel groups (design/families.py); None for parallel groups.
    True values that depend on the truths are added by `with_family_truths`."""
    if design.smart is not None:
        return compile_smart(design.smart, arms, visits)
    if design.one_way_crossover is not None:
        x = design.one_way_crossover
        return OneWayCrossoverPlan(to=arms.index(x.to), visit=visits.visits.index(x.weeks), weeks=x.weeks,
                                   switch_weeks=visits.visits[visits.primary], threshold=x.threshold, delta=x.delta)
    c = design.crossover
    if c is not None:
        treatments = family_treatments(design, arms)
        sequences = np.array([[arms.index(a) for a in row] for row in crossover_sequences(design, arms)], np.int64)
        return CrossoverPlan(sequences, tuple(arms.index(a) for a in treatments), c.period_weeks, c.washout_weeks,
                             tuple(visits.visits.index(w) for w in sequence_visit_weeks(design, arms)))
    s = design.n_of_1
    if s is not None:
        return NOf1Plan(tuple(arms.index(a) for a in family_treatments(design, arms)), s.blocks, s.period_weeks,
                        s.washout_weeks, tuple(visits.visits.index(w) for w in sequence_visit_weeks(design, arms)),
                        s.detect, design.analysis.engine)
    return None


def family_treatments(design: Design, arms: tuple[str, ...]) -> list[str] | None:
    """The arms a within-patient design gives, its control first (None: a parallel design)."""
    block = design.crossover or design.n_of_1
    if block is None:
        return None
    given = block.treatments or list(arms)
    if design.crossover is not None and not isinstance(block.sequences, str):
        given = list(dict.fromkeys(a for row in block.sequences for a in row))
    return [design.control] + [a for a in given if a != design.control]


def crossover_sequences(design: Design, arms: tuple[str, ...]) -> list[list[str]]:
    """The sequences of a crossover design as arm names."""
    c = design.crossover
    if not isinstance(c.sequences, str):
        return [list(row) for row in c.sequences]
    treatments = family_treatments(design, arms)
    return [[treatments[i] for i in row] for row in williams(len(treatments))]


def sequence_visit_weeks(design: Design, arms: tuple[str, ...]) -> list[float]:
    """The visit weeks a within-patient design's outcomes need (patients.visits must hold them)."""
    c = design.crossover or design.n_of_1
    if c is None:
        return []
    if design.n_of_1 is not None:
        n_periods = c.blocks * len(family_treatments(design, arms))
    else:
        n_periods = len(crossover_sequences(design, arms)[0])
    return [p * (c.period_weeks + c.washout_weeks) + c.period_weeks for p in range(n_periods)]


def compile_smart(m: Smart, arms: tuple[str, ...], visits: VisitPlan) -> SmartPlan:
    stage1 = tuple(arms.index(a) for a in m.stage1)
    options = {arms.index(a): tuple(arms.index(o) for o in m.stage2[a]) for a in m.stage1}
    regimes = Regimes.of(arms, stage1, options)
    comparisons = len(regimes) - 1
    return SmartPlan(regimes=regimes, stage1=stage1, options=options,
                     response_visit=visits.visits.index(m.response_weeks), response_weeks=m.response_weeks,
                     response_reduction=m.response_reduction, final_visit=visits.primary,
                     reference=regimes.names.index(m.reference),
                     alpha=m.alpha / comparisons if m.multiplicity == "bonferroni" and comparisons else m.alpha,
                     small_sample=m.test == "t")


def with_family_truths(designs: dict[str, DesignPlan], truths: dict[str, TruthPlan], cohort: CohortPlan,
                       screening: np.ndarray) -> dict[str, DesignPlan]:
    """Design families whose metrics need true values under each truth (regime values, long-term values)."""
    out = {}
    for name, d in designs.items():
        f = d.family
        if isinstance(f, SmartPlan):
            f = f.with_true_values(cohort, truths)
        elif isinstance(f, OneWayCrossoverPlan):
            f = replace(f, true_values={t: long_term_true_values(f, cohort.visit, truth, cohort.population.prevalence,
                                                                 screening) for t, truth in truths.items()})
        out[name] = replace(d, family=f) if f is not d.family else d
    return out


def compile_comparators(design: Design, arms: tuple[str, ...]) -> np.ndarray | None:
    """Matched controls: each arm's comparator index, -1 for the comparators; None with one control.
    A within-patient design leaves out (EXCLUDED) the arms it does not give."""
    used = family_treatments(design, arms)
    if used is not None and len(used) < len(arms):
        return np.array([-1 if a == design.control else arms.index(design.control) if a in used else EXCLUDED
                         for a in arms], np.int64)
    if not design.controls:
        return None
    controls = set(design.controls.values())
    return np.array([arms.index(design.controls[a]) if a in design.controls else (-1 if a in controls else EXCLUDED)
                     for a in arms], np.int64)


def compile_selection(design: Design, arms: tuple[str, ...]) -> SelectionPlan:
    d = design.decisions
    comparator = d.te_comp or design.main_control
    return SelectionPlan(strategies=tuple(d.strategies), preferences=tuple(arms.index(a) for a in d.selection_preferences),
                         select_last_arm=d.select_last_arm, te_comp=arms.index(comparator) if comparator else None,
                         estimate=design.analysis.estimate)


@functools.lru_cache(maxsize=64)
def _bounds(t: tuple[float, ...], alpha: float, spending: str, param: float | None, multiplicity: str,
            shares: tuple[float, ...], control_share: float, futility: tuple | None) -> Boundaries:
    """Boundaries of m arms vs a control with planned shares of patients (cached: the same design compiles
    once per process, whatever calibrate or describe ask)."""
    t_arr, m = np.array(t), len(shares)
    corr = gs.dunnett_correlation(np.array(shares), control_share)
    if multiplicity == "dunnett":
        per, efficacy = alpha, gs.dunnett_group_sequential(t_arr, alpha, corr, spending, param)
    else:  # Bonferroni: each comparison at alpha / m with its own boundaries
        per = alpha / m
        efficacy = gs.efficacy_bounds(t_arr, per, spending, param)
    futile = np.full(len(t), -np.inf)
    words = (f"{'one look' if len(t) == 1 else gs.spending_words(spending, param) + ' alpha spending'}, "
             f"one-sided alpha {alpha:g}"
             + (f" over {m} comparisons ({multiplicity})" if m > 1 else ""))
    if futility is not None:
        beta, f_spending, f_param, effect = futility
        # drift of one comparison at full information: effect * sqrt(n_a n_c / (n_a + n_c)) with n_max folded
        # into `effect`; the first arm's share stands for all (one futility boundary per look)
        theta = effect * np.sqrt(shares[0] * control_share / (shares[0] + control_share))
        futile = gs.futility_bounds(t_arr, efficacy, theta, beta, f_spending, f_param)
        words += f"; non-binding futility: {gs.spending_words(f_spending, f_param)} beta spending, beta {beta:g}"
    return Boundaries(t_arr, efficacy, futile, alpha, per, words)


def compile_boundaries(design: Design, allocation: AllocationRule, looks: LookPlan) -> Boundaries | None:
    """The group-sequential boundaries of a frequentist design (None for Bayesian designs)."""
    b = design.decisions.boundaries
    if b is None:
        return None
    control = allocation.control
    shares = tuple(float(v) for i, v in enumerate(allocation.start) if i != control)
    n_max = looks.n_max
    t = tuple(n / n_max for n in looks.at_patients)
    futility = None
    if b.futility is not None:
        f = b.futility
        # the drift scales with sqrt(n_max): the boundaries are planned on the design's full sample size
        futility = (f.beta, f.spending, f.parameter, f.effect_size * float(np.sqrt(n_max)))
    return _bounds(t, b.alpha, b.spending, b.parameter, b.multiplicity, shares, float(allocation.start[control]),
                   futility)




def compile_allocation(design: Design, arms: tuple[str, ...], control: int | None,
                       comparator: np.ndarray | None = None) -> AllocationRule:
    a, k = design.allocation, len(arms)
    ratio = np.array([(a.ratio or {}).get(name, 1.0) for name in arms], dtype=float) if a.rule == "fixed" else None
    control_prob = "sqrt-based" if a.control_prob == "sqrt" else a.control_prob
    if comparator is not None:
        if ratio is not None:
            ratio = np.where(comparator == EXCLUDED, 0.0, ratio)
        start = ratio / ratio.sum() if ratio is not None else matched_start(comparator, control_prob)
        return AllocationRule(adaptive=a.rule != "fixed", start=start, power=None if a.power == "thall_wathen" else
                              (1.0 if a.rule == "thompson" else float(a.power)), min_prob=a.min_prob,
                              max_prob=a.max_prob, control=control, control_prob=control_prob, burn_in=a.burn_in,
                              stratified=a.stratify_by_phenotype, block_size=a.block_size, comparator=comparator)
    power: float | None = None if a.power == "thall_wathen" else (1.0 if a.rule == "thompson" else float(a.power))
    return AllocationRule(
        adaptive=a.rule != "fixed", start=start_probabilities(k, control, control_prob, ratio), power=power,
        min_prob=a.min_prob, max_prob=a.max_prob, control=control,
        control_prob=tuple(control_prob) if isinstance(control_prob, list) else control_prob, burn_in=a.burn_in,
        stratified=a.stratify_by_phenotype, block_size=a.block_size,
    )


def compile_decisions(design: Design, control: int | None, n_looks: int, bounds: Boundaries | None = None,
                      comparator: np.ndarray | None = None, events: tuple[str, ...] = ()) -> DecisionRule:
    d = design.decisions

    def per_look(value: float | list[float] | None) -> np.ndarray | None:
        return None if value is None else np.broadcast_to(np.asarray(value, float), (n_looks,)).copy()

    if bounds is not None:
        # the frequentist engine's Pr(better) is 1 - p: Z >= c_k <=> 1 - p > Phi(c_k); futility Z < b_k the same way
        # (dropped arms are marked inferior: "Pr(arm > control)" < Phi(b_k))
        return DecisionRule(control=control, superiority=special.ndtr(bounds.efficacy), superiority_delta=0.0,
                            inferiority=special.ndtr(bounds.futility) if np.isfinite(bounds.futility).any() else None,
                            futility=None, phenotype_futility=None, equivalence=None, selection=d.strategies[0])

    return DecisionRule(
        control=control,
        superiority=per_look(d.superiority),
        superiority_delta=d.superiority_delta,
        inferiority=per_look(d.inferiority),
        futility=(d.futility.threshold, d.futility.delta) if d.futility else None,
        phenotype_futility=(d.phenotype_futility.threshold, d.phenotype_futility.delta) if d.phenotype_futility else None,
        equivalence=(d.equivalence.threshold, d.equivalence.margin) if d.equivalence else None,
        selection=d.strategies[0],
        on_superior=d.on_superior,
        equivalence_only_first=d.equivalence.only_first if d.equivalence else True,
        futility_only_first=d.futility.only_first if d.futility else True,
        comparator=comparator,
        harm=(tuple(events.index(e) for e in d.harm.events), d.harm.limit, d.harm.threshold) if d.harm else None,
    )


def compile_analysis(design: Design, endpoint: Endpoint, n_arms: int, n_phenotypes: int,
                     visits: VisitPlan | None = None) -> AnalysisPlan:
    prior = design.analysis.prior
    kind = getattr(prior, "type", None)
    if kind == "beta":
        conjugate = endpoint.internal_prior(ConjugatePrior(a=prior.a, b=prior.b))
    elif kind == "normal_gamma":
        conjugate = endpoint.internal_prior(ConjugatePrior(mean=prior.mean, n0=prior.n0, shape=prior.shape, rate=prior.rate))
    else:
        conjugate = FLAT
    preset = prior if isinstance(prior, str) and prior != "flat" else "exact"
    return AnalysisPlan(engine=design.analysis.engine, conjugate=conjugate, preset=preset, binary=endpoint.binary,
                        n_arms=n_arms, n_phenotypes=n_phenotypes, variance=design.analysis.variance,
                        missing=design.analysis.missing, screen_failures=design.analysis.screen_failures,
                        longitudinal=design.analysis.longitudinal,
                        early_visits=early_visits(design, visits))


def early_visits(design: Design, visits: VisitPlan | None) -> tuple[int, ...]:
    """Indices (into the visit model's visits) of the earlier visits a longitudinal design uses."""
    if visits is None or design.analysis.longitudinal == "none":
        return ()
    chosen = design.analysis.longitudinal_visits
    return tuple(i for i, week in enumerate(visits.visits[: visits.primary]) if chosen is None or week in chosen)
