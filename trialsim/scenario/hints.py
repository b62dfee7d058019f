"""'Did you mean ...?' for misspelt keys and names."""

from __future__ import annotations

import difflib


def closest(name: str, valid: list[str]) -> str | None:
    matches = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return matches[0] if matches else None
