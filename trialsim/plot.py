"""Plots of a run (`trialsim.plot.stopping("results/clbp_sham_multiarm")`); see trialsim.report.plots."""

from .report.plots import allocation, arms, convergence, ecdfs, forest, png, results, stopping, sweep_curve

__all__ = ["allocation", "arms", "convergence", "ecdfs", "forest", "png", "results", "stopping", "sweep_curve"]
