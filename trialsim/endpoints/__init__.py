"""Endpoints as plug-ins: one file per endpoint, registered here by one line each."""

from __future__ import annotations

from .base import Endpoint, Patients
from .binary import Binary
from .continuous import Continuous
from .nrs_change import NrsChange
from .responder import Responder

ENDPOINTS: dict[str, type[Endpoint]] = {e.name: e for e in (NrsChange, Responder, Binary, Continuous)}


def create(name: str, higher_is_better: bool | None = None, responder_reduction: float = 0.5) -> Endpoint:
    """The endpoint `name` with its direction (the endpoint's default when None) and responder threshold."""
    cls = ENDPOINTS[name]
    direction = cls.default_higher_is_better if higher_is_better is None else higher_is_better
    return cls(higher_is_better=direction, responder_reduction=responder_reduction)


__all__ = ["ENDPOINTS", "Endpoint", "Patients", "create"]
