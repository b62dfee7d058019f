"""The compiled plan of a run: what compile.py produces and everything below it consumes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .cohort import CohortPlan
from .design.parallel import DesignPlan, TruthPlan
from .endpoints import Endpoint


@dataclass(frozen=True)
class TrialPlan:
    """Everything a run needs, compiled; plus the scenario's JSON for provenance."""

    name: str
    arms: tuple[str, ...]
    phenotypes: tuple[str, ...]
    adverse_events: tuple[str, ...]
    endpoint: Endpoint
    cohort: CohortPlan
    truths: dict[str, TruthPlan]
    designs: dict[str, DesignPlan]
    n_trials: int
    seed: int
    scenario_json: str
    scenario_hash: str
    engine_override: str = ""

    def true_values(self) -> np.ndarray:
        """(truths, arms) population-level true values on the endpoint's scale."""
        return np.stack([t.endpoint.true_values(t.model, self.cohort.population) for t in self.truths.values()])

    def restricted(self, truths: list[str] | None = None, designs: list[str] | None = None) -> "TrialPlan":
        """The same plan with a subset of truths and designs (patients unchanged: same streams)."""
        return replace(self, truths={k: v for k, v in self.truths.items() if not truths or k in truths},
                       designs={k: v for k, v in self.designs.items() if not designs or k in designs})
