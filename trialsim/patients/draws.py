"""Where the model's random numbers come from.

Every draw is addressed by a column (what it is for) and, optionally, a subset
of patients. `GeneratorDraws` serves them from a numpy Generator (in call
order); the simulator's counter-based streams serve the same columns by
address, so a patient's numbers never depend on other patients or on what else
was drawn.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Draws(Protocol):
    n: int

    def normal(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        """Standard normals of `column` for all patients (n,) or those at indices `where`."""

    def uniform(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        """Uniforms (0, 1) of `column`, as `normal`."""

    def normal_pair(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        """Two independent standard normals of `column` per patient, (n, 2) (one counter for both)."""

    def normal_quad(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        """Four independent standard normals of `column` per patient, (n, 4) (one counter for all)."""


class GeneratorDraws:
    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.rng, self.n = rng, n

    def normal(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        return self.rng.standard_normal(self.n if where is None else len(where))

    def uniform(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        return self.rng.random(self.n if where is None else len(where))

    def normal_pair(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        return self.rng.standard_normal((self.n if where is None else len(where), 2))

    def normal_quad(self, column: int, where: np.ndarray | None = None) -> np.ndarray:
        return self.rng.standard_normal((self.n if where is None else len(where), 4))


# Column layout of a patient's draws (one namespace; screening candidates use a block each)
ATTEMPT_COLUMNS = 2  # (screening level, screening error, trait, baseline fluctuation), baseline error
MAX_ATTEMPTS = 200  # candidates per entered patient before giving up (entry rate >= 1/200 expected)
ATTEMPTS_BASE = 0
VISIT_BASE = ATTEMPTS_BASE + ATTEMPT_COLUMNS * MAX_ATTEMPTS  # (fluctuation, error) of two visits per column
MAX_VISITS = 50
PATIENT_BASE = VISIT_BASE + 2 * MAX_VISITS  # phenotype, belief (blinding), screening trial, (unused), then PATIENT_QUADS
BELIEF = PATIENT_BASE + 1  # uniform: believes "active" under an arm when below its probability (trialsim.blinding)
PATIENT_QUADS = PATIENT_BASE + 4  # responsiveness, observed-phenotype, explant and dropout draws, four per column
ARM_BASE = PATIENT_BASE + 4 + MAX_VISITS  # per arm: response class, loss of response (2 per arm)
MAX_ARMS = 64
SECONDARY_BASE = ARM_BASE + 2 * MAX_ARMS  # ODI stable, ODI baseline, opioid user, dose, explant
SECONDARY_VISIT_BASE = SECONDARY_BASE + 8  # per visit: ODI, opioid noise (3 columns per visit, one unused)


def screening_uniform(u: np.ndarray, z: np.ndarray, rho: float) -> np.ndarray:
    """The screening trial's uniform correlated (Gaussian copula, rho) with the responsiveness z:
    negative z (more relief) gives smaller uniforms, so responsive patients pass more often."""
    if rho == 0.0:
        return u
    from ..ufuncs import special

    return special.ndtr(rho * z + np.sqrt(1.0 - rho * rho) * special.ndtri(np.clip(u, 1e-300, 1 - 1e-16)))


def patient_draws(draws: Draws, n_visits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(responsiveness z, observed-phenotype u, explant u, dropout u per visit (n, visits)) from
    four normals per counter (uniforms as their normal CDF): few draws for what the simulator needs."""
    from ..ufuncs import special

    z = np.concatenate([draws.normal_quad(PATIENT_QUADS + j) for j in range((n_visits + 3 + 3) // 4)], axis=1)
    u = special.ndtr(z[:, 1: 3 + n_visits])  # the quads' last normals may be unused
    return z[:, 0], u[:, 0], u[:, 1], u[:, 2: 2 + n_visits]
