"""The per-trial state of a batch of trials during a look loop."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Stop(IntEnum):
    RUNNING = 0
    SUPERIORITY = 1
    EQUIVALENCE = 2
    FUTILITY = 3
    MAX = 4


class ArmFate(IntEnum):
    ACTIVE = 0
    EFFECTIVE = 1
    INFERIOR = 2
    FUTILE = 3
    EQUIVALENT = 4


@dataclass
class TrialState:
    """Mutable per-trial state of a batch of trials during the look loop."""

    fate: np.ndarray  # (trials, arms) ArmFate
    stop: np.ndarray  # (trials,) Stop
    stop_look: np.ndarray  # (trials,) index of the deciding look
    superior: np.ndarray  # (trials,) arm declared superior (no control, new_control), -1 if none
    closed: np.ndarray  # (trials, phenotypes, arms) arm closed to a phenotype (enrichment)
    control: np.ndarray  # (trials,) the current control, -1 without one
    fate_look: np.ndarray  # (trials, arms) the look that decided the arm's fate, -1 while active
    control_changed: np.ndarray  # (trials,) the control was replaced (new_control)

    @classmethod
    def start(cls, n_trials: int, n_arms: int, n_phenotypes: int = 1, control: int | None = None) -> "TrialState":
        return cls(np.zeros((n_trials, n_arms), np.int8), np.zeros(n_trials, np.int8),
                   np.full(n_trials, -1, np.int16), np.full(n_trials, -1, np.int16),
                   np.zeros((n_trials, n_phenotypes, n_arms), bool),
                   np.full(n_trials, -1 if control is None else control, np.int16),
                   np.full((n_trials, n_arms), -1, np.int16), np.zeros(n_trials, bool))

    @property
    def active(self) -> np.ndarray:
        return self.fate == ArmFate.ACTIVE

    @property
    def running(self) -> np.ndarray:
        return self.stop == Stop.RUNNING
