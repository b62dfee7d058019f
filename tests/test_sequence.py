"""Treatment sequences (patients/sequence.py, Cohort.sequence_outcomes): the layer of within-patient designs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from trialsim.cohort import Cohort
from trialsim.compile import compile_scenario
from trialsim.patients.effects import ArmArrays, ArmEffect, element_shift
from trialsim.patients.sequence import Periods, sequence_shift

from .conftest import scenario_dict, subset


@pytest.fixture(scope="module")
def plan():
    """The bundled five-arm trial (dropout by arm and last score, explants, misclassification), keeping every
    visit (4, 12, 26, 52 weeks) in the cohort."""
    p = compile_scenario(subset(scenario_dict(), truths=["industry"], designs=["fixed_equal"]))
    return replace(p, cohort=replace(p.cohort, visit=replace(p.cohort.visit, kept=4)))


def _cohort(plan, trials=np.arange(3), n=80):
    cohort = Cohort(plan.cohort, plan.seed, trials)
    cohort.reach(np.arange(len(trials)), np.full(len(trials), n))
    return cohort


def test_one_period_sequence_is_the_parallel_design_bit_for_bit(plan):
    cohort, n = _cohort(plan), 80
    model, primary = plan.truths["industry"].model, plan.cohort.visit.primary
    rows, patients = np.repeat(np.arange(3), n), np.tile(np.arange(n), 3)
    for a in range(len(plan.arms)):
        arm = np.full(rows.shape, a)
        y, responder, gone = cohort.outcomes(plan.endpoint, model, rows, patients, arm)
        change, resp, seen = cohort.sequence_outcomes(plan.endpoint, model, rows, patients, arm[:, None],
                                                      Periods((0.0,)), (primary,))
        np.testing.assert_array_equal(change[:, 0], y)
        np.testing.assert_array_equal(resp[:, 0], responder)
        np.testing.assert_array_equal(~seen[:, 0], gone)
        assert gone.any() or a > 0  # dropout is exercised (sham loses 10% by a year)


def test_later_visits_of_a_one_period_sequence_are_the_durability_visits(plan):
    cohort, n = _cohort(plan), 80
    model = plan.truths["industry"].model
    arm = np.tile(np.arange(n) % len(plan.arms), (3, 1))
    y, seen = cohort.later_visit(plan.endpoint, model, np.arange(3), arm, 3)
    change, _, followed = cohort.sequence_outcomes(plan.endpoint, model, np.arange(3)[:, None], np.arange(n)[None, :],
                                                   arm[..., None], Periods((0.0,)), (3,))
    np.testing.assert_array_equal(change[..., 0], y)
    np.testing.assert_array_equal(followed[..., 0], seen)


def test_a_sequence_is_the_same_patient_in_its_first_period(plan):
    """Crossing over at week 26 changes nothing before week 26 (visits 4 and 12)."""
    cohort, n = _cohort(plan), 80
    model = plan.truths["industry"].model
    rows, patients = np.arange(3)[:, None], np.arange(n)[None, :]
    one = cohort.sequence_outcomes(plan.endpoint, model, rows, patients, np.array([[[1]]]), Periods((0.0,)), (0, 1, 2))
    two = cohort.sequence_outcomes(plan.endpoint, model, rows, patients, np.array([[[1, 0]]]),
                                   Periods((0.0, 20.0), carry_share=(0.0,) * 5), (0, 1, 2))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a[..., :2], b[..., :2])
    assert not np.array_equal(one[0][..., 2], two[0][..., 2])  # the second period is on sham


def test_visits_beyond_the_kept_ones_are_refused():
    p = compile_scenario(subset(scenario_dict(), truths=["industry"], designs=["fixed_equal"]))
    cohort = _cohort(p, n=10)
    with pytest.raises(ValueError, match="raise VisitPlan.kept"):
        cohort.sequence_outcomes(p.endpoint, p.truths["industry"].model, np.zeros(1, int), np.zeros(1, int),
                                 np.zeros((1, 1), int), Periods((0.0,)), (3,))


# --- the pure layer -------------------------------------------------------------------------------------

ACTIVE = ArmEffect(nonspecific=-0.2, responder_share=1.0, responder_effect=-0.5)
SHAM = ArmEffect(nonspecific=-0.2)
ARRAYS = ArmArrays.of((SHAM, ACTIVE), 1)


def _shift(periods, week, arms):
    arms = np.asarray(arms)[None, :]
    ones = np.ones(arms.shape)
    return sequence_shift(ARRAYS, periods, week, arms, np.zeros(1, int), np.zeros(1), 0.5 * ones, 0.5 * ones,
                          ones.astype(bool))[0]


def test_carry_over_adds_a_share_of_the_previous_specific_shift():
    no_washout = Periods((0.0, 12.0), carry_share=(0.0, 0.4))
    assert _shift(no_washout, 20.0, [1, 0]) == pytest.approx(-0.2 + 0.4 * -0.5)  # A then sham: carried
    assert _shift(no_washout, 20.0, [0, 1]) == pytest.approx(-0.2 - 0.5)  # sham carries nothing
    assert _shift(no_washout, 6.0, [1, 0]) == pytest.approx(-0.7)  # first period: the parallel shift
    ref, _ = element_shift(ARRAYS, 6.0, np.array([1]), np.zeros(1, int), np.zeros(1), np.full(1, 0.5),
                           np.full(1, 0.5), np.ones(1, bool))
    assert _shift(Periods((0.0,)), 6.0, [1]) == ref[0]


def test_carry_over_decays_through_the_washout_with_its_half_life():
    p = Periods((0.0, 16.0), weeks=12.0, carry_share=(0.0, 0.4), carry_half_life=(1.0, 2.0))
    assert p.period_at(14.0) == (0, True)
    assert _shift(p, 14.0, [1, 0]) == pytest.approx(-0.2 + 0.4 * -0.5 * 0.5)  # one half-life into the washout
    assert _shift(p, 20.0, [1, 0]) == pytest.approx(-0.2 + 0.4 * -0.5 * 0.5 ** 4)  # 8 weeks after stopping


def test_period_shift_and_specific_restart():
    p = Periods((0.0, 12.0), period_shift=(0.0, 0.1))
    assert _shift(p, 20.0, [0, 1]) == pytest.approx(-0.2 - 0.5 + 0.1)
    slow = ArmArrays.of((SHAM, replace(ACTIVE, specific_onset_weeks=4.0)), 1)
    arms = np.array([[0, 1]])
    half, ones = np.full(arms.shape, 0.5), np.ones(arms.shape, bool)
    # two weeks into the active period: half the onset, whatever the trial week
    got = sequence_shift(slow, Periods((0.0, 12.0)), 14.0, arms, np.zeros(1, int), np.zeros(1), half, half, ones)
    assert got[0] == pytest.approx(-0.2 - 0.25)


@pytest.mark.parametrize("starts, weeks", [((1.0,), None), ((0.0, 0.0), None), ((0.0, 10.0), 12.0)])
def test_bad_periods_are_refused(starts, weeks):
    with pytest.raises(ValueError):
        Periods(starts, weeks)
