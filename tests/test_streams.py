"""Named random streams: counter-based draws, independent by purpose."""

from __future__ import annotations

import copy

import numba
import numpy as np

from trialsim.api import plan_for
from trialsim.cohort import Cohort
from trialsim.rng import Stream, block, draws_at, philox4x32, stream_key
from trialsim.scenario import parse_scenario

from .conftest import scenario_dict

# Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter[4], key[2] -> output[4]
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@numba.njit
def _philox(c, k):
    return philox4x32(c[0], c[1], c[2], c[3], k[0], k[1])


def test_philox_matches_the_random123_known_answers():
    for counter, key, expected in KAT:
        got = _philox(np.array(counter, np.uint64), np.array(key, np.uint64))
        assert tuple(int(x) for x in got) == expected


def test_draws_are_uniform_and_normal():
    key = stream_key(3, Stream.OUTCOMES, "scs")
    n_trials, n_patients = 200, 1000
    u = block(key, np.arange(n_trials), 0, n_patients)
    z = block(key, np.arange(n_trials), 0, n_patients, normal=True)
    n = u.size
    # moments within 5 standard errors of their exact values
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # neighbouring patients and trials are uncorrelated
    for a, b in ((u[:, :-1], u[:, 1:]), (u[:-1], u[1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)
    # random access equals the block, whatever the order asked
    rows, cols = np.random.default_rng(0).integers(0, [n_trials, n_patients], size=(500, 2)).T
    np.testing.assert_array_equal(draws_at(key, 0, rows, cols, normal=True), z[rows, cols])


def test_adding_an_arm_or_an_event_type_changes_no_other_draw():
    data = scenario_dict()
    bigger = copy.deepcopy(data)
    # a new arm in the middle of the list, with a new adverse-event type
    bigger["arms"].insert(2, {"name": "tdcs", "kind": "tdcs", "adverse_events": {"skin_irritation": 0.1}})
    bigger["arms"][1]["adverse_events"]["seroma"] = 0.02
    for truth in bigger["truths"].values():
        truth["arms"]["tdcs"] = {"nonspecific": -1.0}
    for design in bigger["designs"].values():
        ratio = design.get("allocation", {}).get("ratio")
        if ratio:
            ratio["tdcs"] = 1
    design = next(iter(data["designs"]))
    bigger["designs"][design].get("allocation", {}).pop("block_size", None)
    small, large = plan_for(parse_scenario(data)), plan_for(parse_scenario(bigger))
    trials = np.arange(7, 37)
    a, b = Cohort(small.cohort, 11, trials), Cohort(large.cohort, 11, trials)
    n = small.cohort.max_patients
    for c in (a, b):
        c.reach(np.arange(len(trials)), n)
    for name in ("arrival_week", "phenotype", "baseline_nrs", "dropout", "u_screen", "u_randomise"):
        np.testing.assert_array_equal(getattr(a, name)[:, :n], getattr(b, name)[:, :n], err_msg=name)
    rows, patients = np.meshgrid(np.arange(len(trials)), np.arange(n), indexing="ij")
    for truth in small.truths:
        for k, arm in enumerate(small.arms):
            ya = a.outcomes(small.endpoint, small.truths[truth].model, rows, patients, k)
            yb = b.outcomes(large.endpoint, large.truths[truth].model, rows, patients, large.arms.index(arm))
            np.testing.assert_array_equal(ya[0], yb[0], err_msg=f"{truth}/{arm}")
    # adverse events of existing types under existing arms are unchanged too
    for k, arm in enumerate(small.arms):
        events_a = a.adverse_events(rows, patients, k)
        events_b = b.adverse_events(rows, patients, large.arms.index(arm))
        for j, event in enumerate(small.adverse_events):
            np.testing.assert_array_equal(events_a[..., j], events_b[..., large.adverse_events.index(event)])
