"""The endpoint protocol: what the simulator asks of an endpoint.

An endpoint turns a truth (`EffectModel`) and the patients' draws into
outcomes on its own scale, gives each arm's true population value, declares
the conjugate family its analysis uses (Beta for rates, normal for means:
the exact engine's posterior and the PyMC likelihood) and its direction, and
supplies the words `describe` prints. Inside the engine every outcome is on
the internal "higher is better" scale: `to_internal` is the only place where
the direction flips (priors included).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ..effects import EffectModel
from ..inference.priors import ConjugatePrior
from ..population import Population


@dataclass(frozen=True)
class Patients:
    """The draws outcomes depend on, one element per (trial, patient) asked for."""

    arm: np.ndarray  # arm index
    phenotype: np.ndarray
    baseline_nrs: np.ndarray
    passed_screening: np.ndarray  # bool: passed the screening trial of `arm`
    draw: np.ndarray  # the outcome draw under `arm` (standard normal or uniform, see Endpoint.draw)


@dataclass(frozen=True)
class Endpoint:
    name: ClassVar[str]
    family: ClassVar[str]  # "beta" (rates) or "normal" (means): the conjugate family and PyMC likelihood
    draw: ClassVar[str]  # "normal" or "uniform": what each patient's outcome draw is
    truth_fields: ClassVar[tuple[str, ...]]  # the ArmTruth fields a truth must give
    default_higher_is_better: ClassVar[bool]
    fixed_direction: ClassVar[bool] = True  # False: the scenario chooses higher_is_better
    uses_pain_scores: ClassVar[bool] = True  # baseline NRS drawn and used as covariate
    has_responders: ClassVar[bool] = True
    unit: ClassVar[str] = ""

    higher_is_better: bool
    responder_reduction: float = 0.5  # share of baseline NRS defining a responder

    @property
    def binary(self) -> bool:
        return self.family == "beta"

    # -- scale -------------------------------------------------------------
    def to_internal(self, values: np.ndarray) -> np.ndarray:
        """Endpoint scale -> higher-is-better scale (an involution: it also maps back)."""
        if self.higher_is_better:
            return values
        return 1 - values if self.binary else -values

    from_internal = to_internal

    def internal_prior(self, prior: ConjugatePrior) -> ConjugatePrior:
        """A conjugate prior given on the endpoint's scale, on the internal scale."""
        if self.higher_is_better:
            return prior
        # Beta on p is Beta(b, a) on 1 - p; the normal mean flips sign
        return replace(prior, a=prior.b, b=prior.a) if self.binary else replace(prior, mean=-prior.mean)

    # -- generation ----------------------------------------------------------
    def outcomes(self, model: EffectModel, patients: Patients) -> tuple[np.ndarray, np.ndarray]:
        """(outcome on the endpoint's scale, responder) for each element of `patients`."""
        raise NotImplementedError

    def visit_outcomes(self, change: np.ndarray, responder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(outcome, responder) from the visit model's change in NRS and responder status."""
        raise NotImplementedError(f"endpoint '{self.name}' does not use the visit model")

    def true_values(self, model: EffectModel, population: Population) -> np.ndarray:
        """Population-level true value of each arm on the endpoint's scale, (arms,)."""
        raise NotImplementedError

    # -- words -------------------------------------------------------------
    def describe(self) -> str:
        raise NotImplementedError

    def difference(self, delta: float, other: str = "control") -> str:
        """'arm - other beyond delta' in the endpoint's direction, e.g. 'arm - control < -0.5 NRS points'."""
        unit = f" {self.unit}" if self.unit else ""
        if self.higher_is_better:
            return f"arm - {other} > {delta:g}{unit}"
        return f"arm - {other} < {-delta + 0.0:g}{unit}"  # + 0.0: no "-0"

    def better(self) -> str:
        return "higher" if self.higher_is_better else "lower"
