"""Parameter sets from published figures (derivations in docs/references.md).

Shifts are on the latent log-pain scale. The implanted sham and the pain model
were solved together (calibrate.py) for the figures of trials and pooled
analyses; the SCS mixtures were then solved for their trials' responder rates
with the sham's nonspecific part kept, so the specific part is what the device
adds to an implanted sham.
"""

from __future__ import annotations

from .effects import ArmEffect, TimeCourse
from .phenotype import screening_confusion

# Placebo effects in CLBP are short-term only (Strijkers 2021): half of the
# nonspecific part (placebo, context) fades after 12 weeks with a half-life of
# 26 weeks; the other half (natural course) stays. Full within 2 weeks.
# The split and the half-life are assumptions (low certainty).
NONSPECIFIC_COURSE = TimeCourse(onset_weeks=2.0, decay_from_weeks=12.0, half_life_weeks=26.0, persistent=0.5)

# Implanted sham: mean change -2.2 NRS at 12 weeks (sham arms of implanted-device
# trials; docs/references.md), between-patient SD solved with the pain model.
IMPLANTED_SHAM = ArmEffect(nonspecific=-0.3429, nonspecific_sd=0.1691, nonspecific_course=NONSPECIFIC_COURSE)


def with_mixture(share: float, effect: float, loss_half_life_weeks: float | None = None) -> ArmEffect:
    """An implanted device arm: the implanted sham's nonspecific part plus a responder class."""
    return ArmEffect(
        nonspecific=IMPLANTED_SHAM.nonspecific, nonspecific_sd=IMPLANTED_SHAM.nonspecific_sd,
        nonspecific_course=NONSPECIFIC_COURSE, responder_share=share, responder_effect=effect,
        specific_onset_weeks=2.0, loss_half_life_weeks=loss_half_life_weeks,
    )


# SENZA-RCT (Kapural 2015): 10 kHz SCS, back-pain >= 50% responders 84.5% at 3 months,
# mean back pain 7.4 -> 2.5 (a third of baseline), among implanted patients.
SCS_10KHZ_INDUSTRY = with_mixture(share=0.8179, effect=-1.0216)  # 64% less pain in responders
# EVOKE (Mekhail 2020; 2022; 36-month report): >= 50% responders closed vs open loop
# 82.3% vs 60.3% at 3 months, 77.6% vs 49.3% at 36 months; responders' effect as SENZA's.
# Solved medians to losing the response: 3,532 weeks closed loop (nearly durable), 982 weeks open loop;
# the fading placebo part accounts for the rest of the waning.
SCS_CLOSED_LOOP_INDUSTRY = with_mixture(share=0.7952, effect=-1.0216, loss_half_life_weeks=3531.5)
SCS_OPEN_LOOP_INDUSTRY = with_mixture(share=0.5386, effect=-1.0216, loss_half_life_weeks=982.0)

# painDETECT (Freynhagen 2006): sensitivity 85%, specificity 80% for neuropathic pain.
PAINDETECT_SENSITIVITY, PAINDETECT_SPECIFICITY = 0.85, 0.80
# SCS-candidate phenotype shares: nociceptive, neuropathic, nociplastic, inflammatory (docs/references.md)
SCS_CANDIDATE_PREVALENCE = (0.25, 0.55, 0.18, 0.02)


def paindetect_confusion(prevalence: tuple[float, ...] = SCS_CANDIDATE_PREVALENCE, neuropathic: int = 1):
    return screening_confusion(prevalence, neuropathic, PAINDETECT_SENSITIVITY, PAINDETECT_SPECIFICITY)
