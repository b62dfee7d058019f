"""When each trial's looks happen, in patients analysed and patients randomised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LookPlan:
    """Looks by patients with the endpoint (`at_patients`, optionally `randomised_at_looks`),
    or by calendar weeks (`at_weeks`) with a final analysis at `max_patients`."""

    at_patients: tuple[int, ...] | None = None
    randomised_at_looks: tuple[int, ...] | None = None
    at_weeks: tuple[float, ...] | None = None
    max_patients: int | None = None

    @property
    def n_looks(self) -> int:
        return len(self.at_patients) if self.at_patients is not None else len(self.at_weeks) + 1

    @property
    def n_max(self) -> int:
        return self.at_patients[-1] if self.at_patients is not None else self.max_patients


@dataclass(frozen=True)
class Schedule:
    """Per trial and look: patients with the endpoint reached, and patients randomised."""

    analysed: np.ndarray  # (trials, looks)
    randomised: np.ndarray  # (trials, looks)
    final: np.ndarray  # (trials,) index of the look that is the trial's final analysis


def _count_by(arrivals: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each trial, how many arrivals are at or before each time, (trials, times).

    One broadcast comparison for the chunk (exact, whatever the trial's neighbours).
    """
    return (arrivals[:, None, :] <= times[:, :, None]).sum(axis=2)


def look_schedule(looks: LookPlan, arrival_week: np.ndarray, endpoint_weeks: float) -> Schedule:
    """When each trial's looks happen, in patients.

    Looks by patient count happen when that many have reached the endpoint;
    everyone who arrived by then has been randomised (follow-up lag), unless
    randomised_at_looks gives the counts. Calendar looks count who has reached
    the endpoint and who has arrived by that week; the final analysis comes once
    max_patients have reached the endpoint.
    """
    n_max = looks.n_max
    arrivals = arrival_week[:, :n_max]
    n_trials = arrivals.shape[0]
    if looks.at_patients is not None:
        analysed = np.broadcast_to(np.asarray(looks.at_patients), (n_trials, looks.n_looks))
        if looks.randomised_at_looks is not None:
            randomised = np.broadcast_to(np.asarray(looks.randomised_at_looks), analysed.shape)
        else:
            randomised = _count_by(arrivals, arrivals[:, analysed[0] - 1] + endpoint_weeks)
    else:
        weeks = np.append(looks.at_weeks, np.inf)
        analysed = np.minimum(_count_by(arrivals + endpoint_weeks, np.broadcast_to(weeks, (n_trials, len(weeks)))), n_max)
        randomised = _count_by(arrivals, np.broadcast_to(weeks, analysed.shape))
    randomised = np.clip(randomised, analysed, n_max)
    final = (analysed >= n_max).argmax(axis=1)  # the first look with everyone followed up
    randomised = np.where(np.arange(looks.n_looks) >= final[:, None], n_max, randomised)
    return Schedule(np.ascontiguousarray(analysed), randomised, final)
