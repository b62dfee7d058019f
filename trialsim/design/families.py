"""Which loop runs a design: parallel groups unless the design names another family.

A design family (crossover, SMART, N-of-1, ...) compiles to a plan object that
sits in `DesignPlan.family` and knows how to run itself on the same cohort and
truth as every other design of the scenario, so that comparisons stay paired.
Adding a family: its own module under design/ with a plan class that follows
`FamilyPlan`, an optional block in the scenario schema, and one branch in
compile.compile_family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from .parallel import DesignPlan, DesignResult, Observer, TruthPlan, run_design

if TYPE_CHECKING:
    from ..cohort import Cohort
    from ..inference.base import Inference


class FamilyPlan(Protocol):
    """A compiled non-parallel design family."""

    name: str  # the family's name as the scenario spells it (e.g. "crossover")

    def run(self, design: DesignPlan, cohort: "Cohort", truth: TruthPlan, infer: "Inference",
            observer: Observer | None = None) -> DesignResult: ...


def run_any(design: DesignPlan, cohort: "Cohort", truth: TruthPlan, infer: "Inference",
            observer: Observer | None = None) -> DesignResult:
    """Run a design of any family on every trial of the cohort under one truth."""
    if design.family is None:
        return run_design(design, cohort, truth, infer, observer)
    return design.family.run(design, cohort, truth, infer, observer)
