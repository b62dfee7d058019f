"""Virtual CLBP patients over visits: a pure model (numpy in, numpy out).

scale       latent log pain <-> measured 0-10 NRS (integer by default)
pain        latent pain over visits, entry on a measured score (regression to the mean)
effects     per-arm nonspecific and specific effects over time, responder mixtures
secondary   ODI and opioid use
dropout     informative dropout, explants, analysis populations
phenotype   true and observed (misclassified) phenotypes
model       one cohort: everything above, potential outcomes under every arm
presets     published-figure parameter sets (sham, industry SCS)
"""

from .dropout import DropoutModel, analysed_change, analysed_responder
from .effects import ArmEffect, TimeCourse
from .model import PatientModel, VirtualPatients, simulate_patients
from .pain import PainModel
from .secondary import OdiModel, OpioidModel

__all__ = [
    "ArmEffect", "DropoutModel", "OdiModel", "OpioidModel", "PainModel", "PatientModel", "TimeCourse",
    "VirtualPatients", "analysed_change", "analysed_responder", "simulate_patients",
]
