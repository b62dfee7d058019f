"""trialsim: simulate Bayesian adaptive clinical trials in chronic low back pain."""

__version__ = "0.1.0"
