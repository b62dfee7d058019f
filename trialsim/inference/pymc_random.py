"""Random numbers for a batch of trials: one generator for the batch, or one per trial.

With one generator per trial, trial i's draws depend only on its own
generator, so results do not change with how trials are chunked (the design's
reproducible streams). Every array drawn here has the trials as first axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TrialRandom:
    """Draws arrays (trials, ...) from a batch generator or per-trial generators."""

    def __init__(self, rng: np.random.Generator | Sequence[np.random.Generator], n_trials: int):
        if isinstance(rng, np.random.Generator):
            self._batch, self._trials = rng, None
        else:
            self._batch, self._trials = None, list(rng)
            if len(self._trials) != n_trials:
                raise ValueError(f"{len(self._trials)} generators for {n_trials} trials")
            if not all(isinstance(g, np.random.Generator) for g in self._trials):
                raise TypeError("rng must be a numpy Generator or a sequence of them, one per trial")
        self.n_trials = n_trials

    def take(self, start: int, stop: int) -> "TrialRandom":
        """The generators of trials start..stop-1 (the batch generator itself if shared)."""
        if self._trials is None:
            return TrialRandom(self._batch, stop - start)
        return TrialRandom(self._trials[start:stop], stop - start)

    def _draw(self, method: str, shape: tuple[int, ...], *args, **kwargs) -> np.ndarray:
        if self._trials is None:
            return getattr(self._batch, method)(*args, size=shape, **kwargs)
        return np.stack([getattr(g, method)(*args, size=shape[1:], **kwargs) for g in self._trials])

    def standard_normal(self, shape, dtype=np.float64) -> np.ndarray:
        return self._draw("standard_normal", shape, dtype=dtype)

    def random(self, shape) -> np.ndarray:
        return self._draw("random", shape)

    def standard_exponential(self, shape) -> np.ndarray:
        return self._draw("standard_exponential", shape)

    def chisquare(self, df: float, shape) -> np.ndarray:
        return self._draw("chisquare", shape, df)

    def permuted(self, x: np.ndarray) -> np.ndarray:
        """Each trial's rows shuffled along the last axis, independently."""
        if self._trials is None:
            return self._batch.permuted(x, axis=-1)
        return np.stack([g.permuted(xi, axis=-1) for g, xi in zip(self._trials, x)])

    def seeds(self) -> np.ndarray:
        """One integer seed per trial (for samplers that take a seed)."""
        if self._trials is None:
            return self._batch.integers(2**31, size=self.n_trials)
        return np.array([g.integers(2**31) for g in self._trials])
