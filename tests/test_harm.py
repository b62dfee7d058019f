"""Adverse events in decisions: the harm stopping rule."""

from __future__ import annotations

import numpy as np
from scipy import stats

from trialsim.design.decisions import DecisionRule, drop_harmful
from trialsim.design.state import ArmFate, TrialState


def _rule(control: int | None = 0) -> DecisionRule:
    return DecisionRule(control=control, superiority=np.full(1, 0.975), superiority_delta=0.0, inferiority=None,
                        futility=None, phenotype_futility=None, equivalence=None, selection="none",
                        harm=((0,), 0.08, 0.9))


def test_an_arm_is_dropped_exactly_when_its_beta_posterior_puts_more_than_the_threshold_above_the_limit():
    n = np.array([[100.0, 100.0, 100.0, 100.0]])
    events = np.array([[30.0, 14.0, 9.0, 3.0]])
    state = TrialState.start(1, 4, 1, 0)
    drop_harmful(_rule(), state, np.array([0]), n, events, look=2)
    above = stats.beta.sf(0.08, 1 + events, 1 + n - events)[0]
    expected = (above > 0.9) & (np.arange(4) != 0)  # the control is never judged
    assert ((state.fate[0] == ArmFate.HARMFUL) == expected).all()
    assert expected[1] and not expected[2]  # 14/100 is harmful, 9/100 not (Pr above 8% ~ 0.69)
    assert state.fate_look[0, 1] == 2 and state.fate[0, 0] == ArmFate.ACTIVE


def test_without_a_control_every_arm_is_judged():
    state = TrialState.start(1, 2, 1, None)
    drop_harmful(_rule(None), state, np.array([0]), np.array([[50.0, 50.0]]), np.array([[20.0, 1.0]]), look=0)
    assert state.fate[0].tolist() == [ArmFate.HARMFUL, ArmFate.ACTIVE]
