"""The scenario file's types and rules.

Pydantic models with `extra="forbid"`: every key is known, every value is
checked, and cross-field rules (prevalences sum to 1, looks increase, every
arm named in a truth or design exists) are checked here, once. The rest of
the package trusts a validated `Scenario`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator,
                      model_validator)

from ..design.schedule import LookPlan
from ..endpoints import ENDPOINTS
from ..summarise.selection import STRATEGIES

# Names become coordinates, CSV cells and file names: identifiers only, never read as missing
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_NAME_LENGTH = 64
# pandas' and R's default missing-value strings that a name could spell (compared case-insensitively)
MISSING_NAMES = {"null", "na", "nan", "none", "-nan", "nil"}


def shown(value: Any, limit: int = 60) -> str:
    """repr of a value for a message, cut to `limit` characters (a 20 MB string stays off stderr)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _name(value: str) -> str:
    if not value:
        raise ValueError("a name cannot be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"name {shown(value)} has {len(value)} characters; use at most {MAX_NAME_LENGTH}")
    if not NAME_PATTERN.match(value):
        raise ValueError(f"name {shown(value)} may hold only letters, digits, '_' and '-'")
    if value.lower() in MISSING_NAMES:
        raise ValueError(f"name {shown(value)} reads as a missing value in CSV files; choose another (e.g. 'no_effect')")
    return value


Name = Annotated[str, AfterValidator(_name)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
NrsChange = Annotated[float, Field(ge=-10.0, le=10.0)]  # a change on the 0-10 scale


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "<list>"
    if isinstance(value, dict):
        return "<mapping>"
    return "<text>" if isinstance(value, str) else "<number>"


def either(message: str, select: Callable[[Any], str | None] = _kind, **branches: Any) -> Any:
    """A union that picks its branch from the input (number, list, mapping, text), so a bad value
    gets the one error of the branch it meant, not one per branch. Tags are <...>: never a name."""
    tagged = tuple(Annotated[t, Tag(f"<{k}>")] for k, t in branches.items())
    return Annotated[Union[tagged], Discriminator(select, custom_error_type="kind", custom_error_message=message)]


PerLook = either("must be a probability or a list of them, one per look",
                 number=Probability, list=list[Probability])

ARM_KINDS = (
    "sham_implanted", "sham_noninvasive", "usual_care", "scs_conventional", "scs_10khz",
    "scs_closed_loop", "dbs_open_loop", "dbs_closed_loop", "rtms", "tdcs", "exercise",
    "walking", "custom",
)
DEFAULT_PHENOTYPES = {
    # SCS-candidate shares (Freynhagen 2006; Gudala 2017; docs/references.md)
    "nociceptive": 0.25, "neuropathic": 0.55, "nociplastic": 0.18, "inflammatory": 0.02,
}


class Strict(BaseModel):
    # strict: `true` is not a number nor "0.5" a probability; allow_inf_nan: every float finite
    # defer_build: each model's validator is built when first used (Scenario's covers the nested ones): ~25 ms less
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, defer_build=True)


class TruncatedNormal(Strict):
    """A truncated normal distribution of a baseline score."""

    mean: float
    sd: PositiveFloat
    min: float
    max: float

    @model_validator(mode="after")
    def _bounds(self) -> "TruncatedNormal":
        if not self.min < self.max:
            raise ValueError(f"min ({self.min:g}) must be below max ({self.max:g})")
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"mean ({self.mean:g}) must lie between min ({self.min:g}) and max ({self.max:g})")
        return self

    def check_scale(self, lo: float, hi: float, scale: str) -> "TruncatedNormal":
        if self.min < lo or self.max > hi:
            raise ValueError(f"the {scale} scale runs from {lo:g} to {hi:g}; min ({self.min:g}) and max "
                             f"({self.max:g}) must lie within it")
        return self


def _on_scale(field: str, lo: float, hi: float, scale: str) -> Any:
    """A field validator keeping a baseline distribution within its score's range."""
    def check(cls: type, v: TruncatedNormal | None) -> TruncatedNormal | None:
        return v if v is None else v.check_scale(lo, hi, scale)

    return field_validator(field)(classmethod(check))


def _nrs(mean: float, sd: float) -> TruncatedNormal:
    return TruncatedNormal(mean=mean, sd=sd, min=0.0, max=10.0)


class Phenotype(Strict):
    prevalence: Probability
    baseline_nrs: TruncatedNormal | None = None  # None: the population's
    baseline_odi: TruncatedNormal | None = None

    _nrs_scale = _on_scale("baseline_nrs", 0.0, 10.0, "NRS")
    _odi_scale = _on_scale("baseline_odi", 0.0, 100.0, "ODI")


class Population(Strict):
    phenotypes: dict[Name, Phenotype] = Field(
        default_factory=lambda: {k: Phenotype(prevalence=v) for k, v in DEFAULT_PHENOTYPES.items()}
    )
    # Neuromodulation candidates: mean 7.5-8.4, entry NRS >= 6 (SCS RCTs; docs/references.md)
    baseline_nrs: TruncatedNormal = Field(default_factory=lambda: TruncatedNormal(mean=7.6, sd=1.2, min=6.0, max=10.0))
    # Typical mean ODI 45-55 at SCS trial entry (EVOKE/DISTINCT; docs/references.md)
    baseline_odi: TruncatedNormal = Field(default_factory=lambda: TruncatedNormal(mean=50.0, sd=12.0, min=0.0, max=100.0))

    _nrs_scale = _on_scale("baseline_nrs", 0.0, 10.0, "NRS")
    _odi_scale = _on_scale("baseline_odi", 0.0, 100.0, "ODI")

    @field_validator("phenotypes")
    @classmethod
    def _prevalences(cls, v: dict[str, Phenotype]) -> dict[str, Phenotype]:
        if not v:
            raise ValueError("at least one phenotype is needed")
        total = sum(p.prevalence for p in v.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"prevalences sum to {total:g}; they must sum to 1")
        return v


class Accrual(Strict):
    per_week: PositiveFloat
    ramp_up_weeks: NonNegativeFloat = 0.0  # linear ramp from 0 to per_week


class Logistics(Strict):
    accrual: Accrual = Field(default_factory=lambda: Accrual(per_week=5.0))
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0  # lost before the endpoint; 1 would leave no data
    endpoint_weeks: NonNegativeFloat = 12.0


class Arm(Strict):
    name: Name
    kind: Literal[ARM_KINDS] = "custom"  # type: ignore[valid-type]
    description: str = ""
    screening_pass: Probability = 1.0  # implanted arms: Pr(passing the screening trial)
    adverse_events: dict[Name, Probability] = Field(default_factory=dict)


class Endpoint(Strict):
    type: str = "nrs_change"  # a registered endpoint plug-in (trialsim/endpoints)
    responder_reduction: Probability = 0.5  # responder: >= this share of baseline NRS
    higher_is_better: bool | None = None  # endpoints whose direction the scenario chooses (binary, continuous)

    @field_validator("type")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in ENDPOINTS:
            raise ValueError(f"unknown endpoint type '{v}'; choose from {', '.join(ENDPOINTS)}")
        return v

    @model_validator(mode="after")
    def _direction(self) -> "Endpoint":
        if self.higher_is_better is not None and ENDPOINTS[self.type].fixed_direction:
            free = ", ".join(n for n, e in ENDPOINTS.items() if not e.fixed_direction)
            raise ValueError(f"higher_is_better applies to endpoint types {free}; '{self.type}' has a fixed direction")
        return self

    @property
    def plugin(self) -> type:
        return ENDPOINTS[self.type]


PerPhenotype = either("must be an NRS change or a mapping of phenotype to NRS change",
                      number=NrsChange, mapping=dict[Name, NrsChange])


class Carryover(Strict):
    """What is left of an arm's specific effect when its treatment stops (visit model, within-patient
    designs: trialsim/patients/sequence.py): a share, halving every half_life_weeks (None: no decay)."""

    share: Probability
    half_life_weeks: PositiveFloat | None = None


class ArmTruth(Strict):
    """One arm's true effect. NRS endpoints: mean change in NRS (negative is
    improvement) = nonspecific + specific (specific only for patients who pass
    screening). Binary endpoints: `rate` of the event. Continuous endpoints:
    the outcome's `mean` and `sd`."""

    nonspecific: NrsChange | None = None
    specific: PerPhenotype = 0.0
    sd: PositiveFloat | None = None
    rate: Optional[either("must be a rate or a mapping of phenotype to rate",  # noqa: UP007
                          number=Probability, mapping=dict[Name, Probability])] = None
    mean: Optional[either("must be a number or a mapping of phenotype to number",  # noqa: UP007
                          number=float, mapping=dict[Name, float])] = None
    # visit model only (a `patients` block): a responder / non-responder mixture of the specific part
    responder_share: Optional[either("must be a share or a mapping of phenotype to share",  # noqa: UP007
                                     number=Probability, mapping=dict[Name, Probability])] = None
    responder_change: Optional[PerPhenotype] = None  # noqa: UP007 - responders' relative change of pain, e.g. -0.64
    loss_median_weeks: PositiveFloat | None = None  # responders' median time to losing the response; None: durable
    nonspecific_sd: NonNegativeFloat | None = None  # between-patient SD of the nonspecific part (log pain ratio)
    carryover: Carryover | None = None  # within-patient designs: carry-over into the next period (visit model)


class Blinding(Strict):
    """Who believes they are on active treatment, and what that does (visit model only).

    A patient believes "active" with the arm's probability (arms not listed: their kind's default,
    trialsim/blinding.py, docs/references.md). The expectation share of an arm's nonspecific part
    is doubled for believers and lost for the others, so the truth's figures hold under perfect
    blinding (probability 0.5 in every arm). At the end of the trial a share answers "don't know";
    the rest guess what they believe (Bang's blinding index, Bang 2004)."""

    believes_active: dict[str, Probability] = Field(default_factory=dict)
    expectation_share: Probability = 0.4  # share of the nonspecific part that is expectation (assumption, L)
    dont_know: Probability = 0.0


class Truth(Strict):
    description: str = ""
    sd: PositiveFloat = 2.5  # SD of change in NRS, 2.0-2.7 (pooled; docs/references.md)
    arms: dict[Name, ArmTruth]
    blinding: Blinding | None = None  # None: perfect blinding


ControlShare = Literal["sqrt", "sqrt-based", "sqrt-based start", "sqrt-based fixed", "match"]
SELECTION_STRATEGIES = STRATEGIES  # adaptr's select_strategy names, defined with the selection code
SelectionStrategy = Literal[SELECTION_STRATEGIES]  # type: ignore[valid-type]


class Allocation(Strict):
    rule: Literal["fixed", "pr_best", "thompson"] = "fixed"
    ratio: dict[Name, PositiveFloat] | None = None  # fixed: relative allocation, default equal
    block_size: Annotated[int, Field(ge=1)] | None = None  # fixed: permuted blocks
    power: either("must be a number or 'thall_wathen'",  # pr_best ** power
                  number=NonNegativeFloat, text=Literal["thall_wathen"]) = 1.0
    burn_in: Annotated[int, Field(ge=0)] = 0  # patients randomised equally before adapting
    min_prob: Probability = 0.0
    max_prob: Probability = 1.0
    # control share (adaptr's control_prob_fixed): a number; one per number of active non-control
    # arms, from all down to 1; "sqrt-based" (alias "sqrt"), "sqrt-based start", "sqrt-based fixed"
    # or "match". Applies from the first patient and follows the control when it changes.
    control_prob: Optional[either("must be a probability, a list of them, or one of 'sqrt', 'sqrt-based', "  # noqa: UP007
                                  "'sqrt-based start', 'sqrt-based fixed', 'match'",
                                  number=Probability, list=list[Probability], text=ControlShare)] = None
    stratify_by_phenotype: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> "Allocation":
        if self.min_prob > self.max_prob:
            raise ValueError(f"min_prob ({self.min_prob}) exceeds max_prob ({self.max_prob})")
        if self.block_size is not None and self.rule != "fixed":
            raise ValueError("block_size applies to rule 'fixed' only")
        return self


class Looks(Strict):
    """When the analyses happen: either when given numbers of patients have reached
    the endpoint (`at_patients`, the last being the maximum sample size), or at
    calendar times (`at_weeks` since the first randomisation) with a final analysis
    once `max_patients` have reached the endpoint."""

    at_patients: list[Annotated[int, Field(ge=1)]] | None = None
    randomised_at_looks: list[Annotated[int, Field(ge=1)]] | None = None
    at_weeks: list[PositiveFloat] | None = None
    max_patients: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Looks":
        if (self.at_patients is None) == (self.at_weeks is None):
            raise ValueError("give either at_patients or at_weeks")
        if self.at_weeks is not None:
            if self.max_patients is None:
                raise ValueError("at_weeks needs max_patients (the sample size of the final analysis)")
            if self.randomised_at_looks is not None:
                raise ValueError("randomised_at_looks goes with at_patients; calendar looks follow accrual")
            if any(b <= a for a, b in zip(self.at_weeks, self.at_weeks[1:])):
                raise ValueError(f"at_weeks must increase strictly, got {self.at_weeks}")
            return self
        if self.max_patients is not None:
            raise ValueError("max_patients goes with at_weeks; with at_patients the last look is the maximum")
        seq = self.at_patients
        if any(b <= a for a, b in zip(seq, seq[1:])):
            raise ValueError(f"at_patients must increase strictly, got {seq}")
        r = self.randomised_at_looks
        if r is not None and any(b < a for a, b in zip(r, r[1:])):
            raise ValueError(f"randomised_at_looks must not decrease, got {r}")
        if r is not None:
            if len(r) != len(self.at_patients):
                raise ValueError("randomised_at_looks needs one entry per look in at_patients")
            if any(ri < ni for ri, ni in zip(r, self.at_patients)):
                raise ValueError("randomised_at_looks cannot be below at_patients at the same look")
            if r[-1] != self.at_patients[-1]:
                raise ValueError("the last randomised_at_looks must equal the last at_patients (everyone analysed)")
        return self

    def plan(self) -> LookPlan:
        """The compiled look schedule (which counts the looks and the maximum sample size)."""
        def tup(v: list | None) -> tuple | None:
            return None if v is None else tuple(v)

        return LookPlan(tup(self.at_patients), tup(self.randomised_at_looks), tup(self.at_weeks), self.max_patients)

    @property
    def n_looks(self) -> int:
        return self.plan().n_looks

    @property
    def n_max(self) -> int:
        return self.plan().n_max


class Futility(Strict):
    threshold: Probability
    delta: float = 0.0  # futile if Pr(arm - control > delta) < threshold
    # on_superior new_control: judge futility against the first control only (adaptr's futility_only_first)
    only_first: bool = True


class Equivalence(Strict):
    threshold: Probability
    margin: PositiveFloat
    # on_superior new_control: judge equivalence against the first control only (adaptr's equivalence_only_first)
    only_first: bool = True


SPENDING_FUNCTIONS = ("obf", "pocock", "hsd", "power")


class BetaSpending(Strict):
    """Non-binding futility boundaries spending the type II error `beta` under the design alternative."""

    beta: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    spending: Literal[SPENDING_FUNCTIONS] = "obf"  # type: ignore[valid-type]
    parameter: float | None = None  # hsd: gamma (default -4); power: rho (default 3)
    # the design alternative per patient: (arm - control) / SD for means, / sqrt(pbar (1 - pbar)) for rates
    effect_size: PositiveFloat


class GroupSequential(Strict):
    """Frequentist efficacy boundaries (analysis.engine: frequentist): each arm vs the control,
    one-sided family-wise level `alpha` spent over the looks (Lan & DeMets 1983). One look is the
    fixed-sample test."""

    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.025
    spending: Literal[SPENDING_FUNCTIONS] = "obf"  # type: ignore[valid-type]
    parameter: float | None = None  # hsd: gamma (default -4); power: rho (default 3)
    multiplicity: Literal["dunnett", "bonferroni"] = "dunnett"
    futility: BetaSpending | None = None


class Harm(Strict):
    """Drop an arm at a look when Pr(its adverse-event rate > limit) > threshold, from a Beta(1 + events,
    1 + patients - events) posterior of the randomised patients with any of `events`. Controls are not judged."""

    events: list[str] = Field(min_length=1)
    limit: Probability
    threshold: Probability = 0.9


class Decisions(Strict):
    superiority: PerLook = 0.975
    superiority_delta: float = 0.0  # vs control: Pr(arm - control > delta)
    inferiority: PerLook | None = None
    futility: Futility | None = None
    equivalence: Equivalence | None = None
    # enrichment: close an arm to one phenotype when Pr(arm - control > delta in that phenotype) < threshold
    phenotype_futility: Futility | None = None
    # designs with a control, when an arm beats it: "graduate" (it stops enrolling as effective; the
    # control stays the comparator) or "new_control" (adaptr: it becomes the control, the old one is dropped)
    on_superior: Literal["graduate", "new_control"] = "graduate"
    # arm selection when no arm is superior (adaptr's select_strategy); a list reports every strategy,
    # the first one under the plain metric names
    selection: either("must be a selection strategy or a list of them",
                      text=SelectionStrategy, list=list[SelectionStrategy]) = "control if available"
    selection_preferences: list[str] = Field(default_factory=list)  # for "list" and "list or best"
    select_last_arm: bool = False
    te_comp: str | None = None  # treatment-effect comparator; default: the (first) control
    harm: Harm | None = None  # adverse events in decisions: a harm stopping rule per arm

    @property
    def strategies(self) -> list[str]:
        return [self.selection] if isinstance(self.selection, str) else list(self.selection)
    boundaries: GroupSequential | None = None  # frequentist designs: z / t tests against group-sequential boundaries


class BetaPrior(Strict):
    """Beta(a, b) prior on each arm's event or responder rate (exact engine)."""

    type: Literal["beta"]
    a: PositiveFloat = 1.0
    b: PositiveFloat = 1.0


class NormalGammaPrior(Strict):
    """Normal-gamma prior on each arm's mean change in NRS (exact engine): the mean
    is worth `n0` patients; precision ~ Gamma(shape, rate)."""

    type: Literal["normal_gamma"]
    mean: float = 0.0
    n0: NonNegativeFloat = 0.0
    shape: PositiveFloat = 1.0
    rate: PositiveFloat = 1.0


def _prior_type(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"<{kind}>" if kind in ("beta", "normal_gamma") else None


class Analysis(Strict):
    engine: Literal["exact", "pymc", "frequentist"] = "exact"
    variance: Literal["pooled", "unpooled"] = "pooled"  # frequentist engine: SE of the difference
    # point estimate for rmse/mae/idp: posterior mean, or median (adaptr's robust = TRUE)
    estimate: Literal["mean", "median"] = "mean"
    # presets (flat for exact; vague/sceptical/informative for pymc) or an explicit conjugate prior
    prior: either("must be a preset (flat, vague, sceptical, informative) or a mapping with type beta or normal_gamma",
                  text=Literal["flat", "vague", "sceptical", "informative"],
                  mapping=either("a prior's type must be 'beta' or 'normal_gamma'", _prior_type,
                                 beta=BetaPrior, normal_gamma=NormalGammaPrior)) = "flat"
    # visit model: patients lost before the endpoint are left out (complete case), carried forward from
    # their last visit (locf; baseline if none) or counted as non-responders with no change (SCS trials)
    missing: Literal["complete_case", "locf", "nonresponder"] = "complete_case"
    # visit model, randomisation before the screening trial: patients who fail it (never implanted) are
    # analysed as observed (intention to treat), as non-responders with no change (ITT), or left out
    # (implanted-only); sham patients go through the same screening procedure
    screen_failures: Literal["observed", "nonresponder", "excluded"] = "observed"
    # interim analyses with the pending patients' earlier visits (design/longitudinal.py): none (only
    # patients with the endpoint), locf (their last earlier visit as the endpoint; a naive reference),
    # regression (per-arm regression of the endpoint on the last earlier visit, learned from completers),
    # itp (FACTS's integrated two-parameter time course, one shape for every arm) or mvn (per-arm
    # multivariate normal of every visit, monotone-missing factorisation)
    longitudinal: Literal["none", "locf", "regression", "itp", "mvn"] = "none"
    # the earlier visits (weeks, a subset of patients.visits before the endpoint) the interims may use;
    # None = all of them
    longitudinal_visits: list[float] | None = None


class Durability(Strict):
    """A secondary decision at a later visit (visit model): an arm effective at the primary endpoint
    is also durable when Pr(arm - control > delta at `weeks`) > threshold, from every randomised
    patient followed to `weeks` (complete cases), after the trial."""

    weeks: PositiveFloat = 52.0
    threshold: float = Field(0.975, gt=0, lt=1)
    delta: float = 0.0


class Crossover(Strict):
    """A crossover design (trialsim/design/crossover.py, visit model): each patient gets a sequence of
    the treatments over periods of `period_weeks` of treatment, each followed by `washout_weeks`
    without; a period's outcome is the NRS change at the visit ending its treatment. Sequences:
    'ab_ba' (two treatments), 'williams' (balanced for first-order carry-over) or a list of sequences
    of arm names, each holding the same treatments as often (e.g. [[sham, scs, scs, sham], ...]).
    Looks count patients who completed every period; the analysis is the exact within-patient
    mixed model (period and treatment effects, patient effects)."""

    treatments: list[Name] | None = None  # the arms in the design (default: every arm); holds the control
    sequences: either("must be 'ab_ba', 'williams' or a list of sequences (lists of arm names)",
                      text=Literal["ab_ba", "williams"], list=list[list[Name]]) = "williams"
    period_weeks: PositiveFloat = 12.0
    washout_weeks: NonNegativeFloat = 0.0


class NOf1(Strict):
    """An N-of-1 series (trialsim/design/n_of_1.py, visit model): every patient receives `blocks` blocks
    holding each treatment once for `period_weeks` (then `washout_weeks`), in a random order per block;
    a period's outcome is the NRS change at the visit ending its treatment. A hierarchical model
    (analysis.engine pymc; exact: its normal approximation) gives the population effect of each
    treatment vs the control (the decisions) and each patient's own effect: detected when
    Pr(own effect better than the control) > `detect`."""

    treatments: list[Name] | None = None  # the arms in the series (default: every arm); holds the control
    blocks: Annotated[int, Field(ge=2)] = 2  # two or more: within-patient variation needs repeats
    period_weeks: PositiveFloat = 6.0
    washout_weeks: NonNegativeFloat = 0.0
    detect: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9


class Smart(Strict):
    """A two-stage SMART (design/smart.py; Murphy 2005, Nahum-Shani 2012): patients are randomised
    equally among `stage1` arms; at `response_weeks` a responder (NRS reduced by at least
    `response_reduction` of baseline) stays on the arm, a non-responder is re-randomised equally among
    the `stage2` options of their stage-1 arm (an option may be the same arm: no switch). Each
    (stage-1 arm, option) pair is an embedded regime, named `<arm>_then_<option>`; the final endpoint
    is the primary one (logistics.endpoint_weeks). Each regime is tested against `reference` (one-sided
    tests of the weighted means' difference over its robust SE, level `alpha`, Bonferroni over the
    comparisons unless multiplicity is none)."""

    stage1: list[Name] = Field(min_length=2)
    response_weeks: PositiveFloat = 12.0
    response_reduction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.3  # >= 30%: moderate (IMMPACT)
    stage2: dict[Name, list[Name]]
    reference: str
    alpha: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.025
    multiplicity: Literal["bonferroni", "none"] = "bonferroni"
    # reference distribution of the tests: t on Welch-Satterthwaite degrees of freedom from each regime's
    # effective sample size (small samples), or z (the large-sample Wald test)
    test: Literal["t", "z"] = "t"

    def regimes(self) -> list[str]:
        """The embedded regimes' names, in order (stage-1 arm, then option)."""
        from ..design.dtr import regime_name

        return [regime_name(a, o) for a in self.stage1 for o in self.stage2.get(a, [])]


class OneWayCrossover(Strict):
    """After the primary endpoint the control's patients cross to arm `to` (ReActiv8-B, Gilligan 2021):
    the primary comparison stays randomised; the long-term comparison of each arm with the control at
    `weeks` (every randomised patient followed, by randomised arm) mixes arms. Reported with and without
    the crossover on the same patients: "better than the control by delta at `weeks`" when
    Pr > threshold."""

    to: Name
    weeks: PositiveFloat = 52.0
    threshold: float = Field(0.975, gt=0, lt=1)
    delta: float = 0.0


class Design(Strict):
    description: str = ""
    control: str | None = None
    # matched controls (Katz 2021): each active arm -> its own comparator, e.g. {scs: sham_implanted,
    # rtms: sham_rtms, exercise: usual_care}; arms sharing a comparator share its patients
    controls: dict[str, str] | None = None
    allocation: Allocation = Field(default_factory=Allocation)
    looks: Looks
    decisions: Decisions = Field(default_factory=Decisions)
    analysis: Analysis = Field(default_factory=Analysis)
    durability: Durability | None = None  # "effective at 3 months and durable at 12" (visit model, a control)
    crossover: Crossover | None = None  # a crossover design instead of parallel groups (visit model)
    n_of_1: NOf1 | None = None  # an N-of-1 series instead of parallel groups (visit model)
    smart: Smart | None = None  # a sequential multiple-assignment randomised trial instead of parallel groups
    one_way_crossover: OneWayCrossover | None = None  # the control crosses to an active arm after the endpoint

    @property
    def main_control(self) -> str | None:
        """The control (the first comparator of a matched-control design)."""
        if self.controls:
            return next(iter(self.controls.values()))
        return self.control

    @property
    def control_arms(self) -> list[str]:
        """Every comparator, first seen first."""
        if self.controls:
            return list(dict.fromkeys(self.controls.values()))
        return [self.control] if self.control else []


class PainSpec(Strict):
    """Latent pain over visits (trialsim/patients/pain.py); defaults solved from published
    figures (docs/references.md): entered baseline mean 7.6, implanted-sham change -2.2 and a
    baseline-follow-up correlation of 0.45 at 12 weeks."""

    logit_mean: float = -0.523
    trait_sd: PositiveFloat = 1.4785
    occasion_sd: NonNegativeFloat = 0.2
    occasion_rho12: Probability = 0.5
    error_sd: NonNegativeFloat = 0.11  # SEM 0.72 NRS points (Childs 2005)
    threshold: Annotated[float, Field(ge=0.0, le=10.0)] = 6.0
    entry_on: Literal["screening", "baseline", "both"] = "both"
    screening_week: Annotated[float, Field(lt=0.0)] = -2.0
    integer: bool = True


class CourseSpec(Strict):
    """Time course of the nonspecific part: onset, plateau, then a share fades (Strijkers 2021)."""

    onset_weeks: NonNegativeFloat = 2.0
    decay_from_weeks: NonNegativeFloat | None = 12.0
    half_life_weeks: PositiveFloat | None = 26.0
    persistent: Probability = 0.5


class OdiSpec(Strict):
    mean: Annotated[float, Field(ge=0.0, le=100.0)] = 50.0  # EVOKE/DISTINCT entry, 45-55
    sd: PositiveFloat = 12.0
    corr_nrs: Probability = 0.5  # 0.45-0.63 in CLBP samples (docs/references.md)
    stable_share: Probability = 0.6


class OpioidSpec(Strict):
    share_on_opioids: Probability = 0.6  # assumption (L)
    median_mme: PositiveFloat = 60.0  # assumption (L)
    log_mme_sd: NonNegativeFloat = 0.8
    elasticity: float = 1.0
    noise_sd: NonNegativeFloat = 0.5
    stop_below: NonNegativeFloat = 5.0
    reduction: Probability = 0.5


PerArmProbability = either("must be a probability or a mapping of arm to probability",
                           number=Probability, mapping=dict[Name, Probability])


class DropoutSpec(Strict):
    loss_by_52_weeks: PerArmProbability = 0.08  # 5-10% by 12 months (SCS RCTs)
    odds_ratio_per_point: PositiveFloat = 1.0  # per NRS point of pain; 1: completely at random
    mechanism: Literal["mar", "mnar"] = "mar"
    explant_by_12_weeks: PerArmProbability = 0.0  # SCS: about 0.5-1% within 3 months


class MisclassificationSpec(Strict):
    """A screening tool for one phenotype (painDETECT for neuropathic: Freynhagen 2006)."""

    positive: str = "neuropathic"
    sensitivity: Probability = 0.85
    specificity: Probability = 0.80


class PatientsSpec(Strict):
    """The visit model of virtual patients (trialsim/patients). Truths' NRS changes are read at
    `reference_nrs` and applied as relative changes of pain at the primary visit
    (logistics.endpoint_weeks, which must be one of the visits)."""

    visits: list[PositiveFloat] = Field(default_factory=lambda: [4.0, 12.0, 26.0, 52.0])
    reference_nrs: Annotated[float, Field(gt=0.0, le=10.0)] = 7.6
    pain: PainSpec = Field(default_factory=PainSpec)
    nonspecific_course: CourseSpec = Field(default_factory=CourseSpec)
    nonspecific_sd: NonNegativeFloat = 0.1691  # solved with the pain model (implanted sham)
    specific_onset_weeks: NonNegativeFloat = 2.0
    trial_nonspecific_sd: NonNegativeFloat = 0.0  # between-trial SD of the nonspecific part (assurance)
    # correlation of the screening trial's result with the patient's nonspecific responsiveness: passing
    # predicts response only imperfectly (TRIAL-STIM, Eldabe 2020); 0: passing is independent of prognosis
    screening_correlation: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    odi: OdiSpec = Field(default_factory=OdiSpec)
    opioids: OpioidSpec = Field(default_factory=OpioidSpec)
    dropout: DropoutSpec = Field(default_factory=DropoutSpec)
    misclassification: MisclassificationSpec | None = None

    @field_validator("visits")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("at least one visit is needed")
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError(f"visits must increase strictly, got {v}")
        return v


class Simulation(Strict):
    n_trials: Annotated[int, Field(ge=1)] = 1000
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 20261127


class Target(Strict):
    """A bound an operating characteristic must meet under one or more truths,
    e.g. the family-wise error at most 0.025 under the null truth. `metric`
    defaults to the target's name; `fwer` and `power` mean prob_any_effective
    for designs with a control and prob_superior for the others."""

    metric: str | None = None
    truth: either("must be a truth name or a list of them", text=str, list=list[str])
    min: float | None = None
    max: float | None = None
    designs: list[str] | None = None  # None: every design

    @model_validator(mode="after")
    def _bound(self) -> "Target":
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) exceeds max ({self.max})")
        return self

    @property
    def truths(self) -> list[str]:
        return [self.truth] if isinstance(self.truth, str) else list(self.truth)


class Scenario(Strict):
    name: Name
    description: str = ""
    population: Population = Field(default_factory=Population)
    logistics: Logistics = Field(default_factory=Logistics)
    arms: list[Arm]
    endpoint: Endpoint = Field(default_factory=Endpoint)
    truths: dict[Name, Truth]
    designs: dict[Name, Design]
    simulation: Simulation = Field(default_factory=Simulation)
    targets: dict[Name, Target] = Field(default_factory=dict)  # judge designs; not part of the scenario hash
    patients: PatientsSpec | None = None  # the visit model; None: one visit, change = nonspecific + specific + sd z

    @property
    def arm_names(self) -> list[str]:
        return [a.name for a in self.arms]

    @property
    def phenotype_names(self) -> list[str]:
        return list(self.population.phenotypes)
