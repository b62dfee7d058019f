"""The compiled population: phenotypes, their shares and baseline-score distributions (no schema)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TruncNormal:
    """A normal distribution truncated to [min, max]."""

    mean: float
    sd: float
    min: float
    max: float

    def nodes(self, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Legendre nodes and weights (weights sum to 1)."""
        x, w = np.polynomial.legendre.leggauss(n)
        nodes = self.min + (x + 1) * (self.max - self.min) / 2
        dens = np.exp(-0.5 * ((nodes - self.mean) / self.sd) ** 2) * w
        return nodes, dens / dens.sum()


def truncnorm_from_uniform(u: np.ndarray, dists: tuple[TruncNormal, ...], index: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws: u[i] under dists[index[i]]."""
    from .ufuncs import special  # imported when first needed: validating a file does not need it

    mean = np.array([d.mean for d in dists])[index]
    sd = np.array([d.sd for d in dists])[index]
    lo = special.ndtr((np.array([d.min for d in dists])[index] - mean) / sd)
    hi = special.ndtr((np.array([d.max for d in dists])[index] - mean) / sd)
    return mean + sd * special.ndtri(lo + u * (hi - lo))


@dataclass(frozen=True)
class Population:
    phenotypes: tuple[str, ...]
    prevalence: np.ndarray  # (phenotypes,)
    baseline_nrs: tuple[TruncNormal, ...]  # per phenotype
    baseline_odi: tuple[TruncNormal, ...]

    def phenotype_of(self, u: np.ndarray) -> np.ndarray:
        """Phenotype index by inverse CDF (adding threshold indicators beats a search for a handful)."""
        out = np.zeros(u.shape, np.int16)
        for threshold in np.cumsum(self.prevalence)[:-1]:
            out += u >= threshold
        return out
