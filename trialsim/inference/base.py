"""What every inference engine receives and returns.

The engine hands an inference engine the data of a look as sufficient
statistics per trial x arm x phenotype (`LookData`), always on the internal
"higher is better" scale (the engine flips lower-is-better outcomes before
they get here). The inference engine returns a `Posterior`: an object that
answers the questions decisions and allocation ask, vectorised over trials.

Two implementations exist: `exact.GridPosterior` (conjugate posteriors,
probabilities by quadrature, no Monte Carlo noise) and `DrawsPosterior`
below (any engine that produces posterior draws of the per-arm parameter,
such as the PyMC models).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from .visit_data import VisitStats


@dataclass(frozen=True)
class LookData:
    """Sufficient statistics of the outcome data available at one look.

    Every array has shape (trials, arms, phenotypes). `y` is the outcome on
    the internal scale (higher is better; 0/1 for binary endpoints), `x` the
    baseline NRS (for covariate-adjusted models).
    """

    n: np.ndarray
    sum_y: np.ndarray
    sum_y2: np.ndarray
    sum_x: np.ndarray
    sum_x2: np.ndarray
    sum_xy: np.ndarray
    binary: bool
    prevalence: np.ndarray  # (phenotypes,) population shares, for marginal effects
    # the patients' visits, for a visit-level model (inference/pymc_visits.py); None for the others
    visits: "VisitStats | None" = None

    def with_visits(self, visits: "VisitStats") -> "LookData":
        return replace(self, visits=visits)

    def per_arm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, sum_y, sum_y2) pooled over phenotypes, each (trials, arms)."""
        return self.n.sum(-1), self.sum_y.sum(-1), self.sum_y2.sum(-1)

    def by_phenotype(self) -> "LookData":
        """Each trial x phenotype as its own 'trial' with one phenotype (trials * phenotypes rows)."""
        b, k, p = self.n.shape

        def split(v: np.ndarray) -> np.ndarray:
            return v.transpose(0, 2, 1).reshape(b * p, k, 1)

        return LookData(split(self.n), split(self.sum_y), split(self.sum_y2), split(self.sum_x), split(self.sum_x2),
                        split(self.sum_xy), self.binary, np.ones(1))

    def take(self, trials: np.ndarray) -> "LookData":
        """The same statistics for a subset of trials (index or mask)."""
        return LookData(
            self.n[trials], self.sum_y[trials], self.sum_y2[trials], self.sum_x[trials],
            self.sum_x2[trials], self.sum_xy[trials], self.binary, self.prevalence,
            None if self.visits is None else self.visits.take(trials),
        )


class Posterior(Protocol):
    """Posterior of the per-arm parameter theta (trials x arms), higher is better.

    `active` masks are (trials, arms) booleans; arms outside the mask are
    ignored and get probability 0 where a per-arm probability is returned.
    `control` is an integer array (trials,) of the comparator arm index.
    """

    def mean(self) -> np.ndarray:
        """Posterior mean of theta, (trials, arms)."""

    def proper(self, active: np.ndarray) -> np.ndarray:
        """(trials,) True where every active arm has a proper posterior (enough data for the prior)."""

    def take(self, rows: np.ndarray) -> "Posterior":
        """The posterior of a subset of trials (index or mask)."""

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        """Pr(arm k has the largest theta among active arms), (trials, arms)."""

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        """Pr(theta_k - theta_control > delta), (trials, arms)."""

    def prob_all_equivalent(self, active: np.ndarray, margin: float) -> np.ndarray:
        """Pr(max - min of theta over active arms < margin), (trials,)."""

    def all_equivalent(self, active: np.ndarray, margin: float, threshold: float) -> np.ndarray:
        """(trials,) whether prob_all_equivalent(active, margin) > threshold (a decision may need no integral)."""

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        """Pr(|theta_k - theta_control| < margin), (trials, arms)."""

    def sample(self, rng: np.random.Generator, n_draws: int) -> np.ndarray:
        """Draws of theta, (trials, draws, arms) (for saving and plotting; decisions never use them)."""


class Inference:
    """An inference engine as the look loop uses it.

    Called with (data, global trial indices, relevant arms) it returns a
    `Posterior`. It counts, per trial, its model fits and the fits whose
    diagnostics flag a problem (`fit_counts`), for the records.
    """

    def __init__(self) -> None:
        self.fits: dict[int, int] = {}
        self.problems: dict[int, int] = {}

    def fit_counts(self, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fits, flagged fits) per trial."""
        return (np.array([self.fits.get(int(t), 0) for t in trials], np.int32),
                np.array([self.problems.get(int(t), 0) for t in trials], np.int32))

    def count_fit(self, trial: int, problem: bool) -> None:
        """Record one model fit of a trial, and whether its diagnostics flagged a problem."""
        self.fits[trial] = self.fits.get(trial, 0) + 1
        self.problems[trial] = self.problems.get(trial, 0) + int(problem)

    def __call__(self, data: LookData, trials: np.ndarray, relevant: np.ndarray) -> Posterior:
        raise NotImplementedError

    def by_phenotype(self, post: Posterior, data: LookData, trials: np.ndarray, active: np.ndarray) -> Posterior:
        """The posterior of each trial x phenotype as one row (trials * phenotypes rows).

        `post` is this engine's posterior of `data`. The default analyses each
        phenotype's data alone; models with phenotype cells override it.
        """
        n_pheno = data.n.shape[2]
        return self(data.by_phenotype(), np.repeat(trials, n_pheno), np.repeat(active, n_pheno, axis=0))


@dataclass(frozen=True)
class DrawsPosterior:
    """A `Posterior` from draws of theta with shape (trials, draws, arms)."""

    draws: np.ndarray

    def mean(self) -> np.ndarray:
        return self.draws.mean(axis=1)

    def median(self) -> np.ndarray:
        return np.median(self.draws, axis=1)

    def proper(self, active: np.ndarray) -> np.ndarray:
        return np.ones(active.shape[0], bool)

    def take(self, rows: np.ndarray) -> "DrawsPosterior":
        return DrawsPosterior(self.draws[rows])

    def prob_best(self, active: np.ndarray) -> np.ndarray:
        masked = np.where(active[:, None, :], self.draws, -np.inf)
        best = masked.argmax(axis=2)  # (trials, draws)
        n_arms = self.draws.shape[2]
        counts = (best[:, :, None] == np.arange(n_arms)).mean(axis=1)
        return np.where(active, counts, 0.0)

    def _control_draws(self, control: np.ndarray) -> np.ndarray:
        return np.take_along_axis(self.draws, control[:, None, None], axis=2)

    def prob_better(self, control: np.ndarray, delta: float) -> np.ndarray:
        return (self.draws - self._control_draws(control) > delta).mean(axis=1)

    def prob_all_equivalent(self, active: np.ndarray, margin: float) -> np.ndarray:
        hi = np.where(active[:, None, :], self.draws, -np.inf).max(axis=2)
        lo = np.where(active[:, None, :], self.draws, np.inf).min(axis=2)
        return (hi - lo < margin).mean(axis=1)

    def all_equivalent(self, active: np.ndarray, margin: float, threshold: float) -> np.ndarray:
        return self.prob_all_equivalent(active, margin) > threshold

    def prob_equivalent_to(self, control: np.ndarray, margin: float) -> np.ndarray:
        return (np.abs(self.draws - self._control_draws(control)) < margin).mean(axis=1)

    def sample(self, rng: np.random.Generator, n_draws: int) -> np.ndarray:
        return self.draws
