"""Conjugate priors of the exact engine (a light module: the schema layer and endpoints use it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConjugatePrior:
    """Prior on the internal (higher-is-better) scale.

    Binary: Beta(a, b) on the rate. Continuous: normal-gamma with mean `mean`
    worth `n0` patients, precision ~ Gamma(shape, rate).
    """

    a: float = 1.0
    b: float = 1.0
    mean: float = 0.0
    n0: float = 0.0
    shape: float = -0.5
    rate: float = 0.0


FLAT = ConjugatePrior()
