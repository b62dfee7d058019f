"""The log density of a PyMC model with a leading block axis, compiled for batches.

`BatchedDensity` turns a model built by `pymc_model.build_model` into compiled
PyTensor functions of a parameter matrix (blocks, parameters) in PyMC's
unconstrained coordinates (log-Jacobians included) and data arrays (blocks,
arms, cells). Blocks are independent, so one call evaluates many trials, or
many points of one trial, at once. Nothing about the model is restated here:
the graphs come from ``model.logp(sum=False)`` and the model's ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace

ROWS_PER_CALL = 60_000  # blocks per compiled-function call (memory bound)
BROADCAST_REPEAT = 256  # from this many rows per data row, broadcast the data row




@dataclass(frozen=True)
class Layout:
    """Where each value variable sits in a flat parameter row (one block)."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    offsets: tuple[int, ...]
    size: int
    arm_cols: np.ndarray  # (arms, per-arm parameters) column indices
    arm_names: tuple[str, ...]  # value variable of every per-arm position
    shared_cols: np.ndarray  # (shared parameters,)

    def position(self, name: str) -> np.ndarray:
        """Positions within an arm's block of the per-arm variable `name`."""
        return np.flatnonzero(np.array(self.arm_names) == name)


def make_layout(model: pm.Model, n_arms: int) -> Layout:
    point = model.initial_point()
    names, shapes, offsets = [], [], []
    arm_cols, arm_names, shared_cols = [], [], []
    offset = 0
    for var in model.value_vars:
        shape = point[var.name].shape[1:]  # drop the block axis
        size = int(np.prod(shape))
        names.append(var.name)
        shapes.append(shape)
        offsets.append(offset)
        if shape == ():
            shared_cols.append(offset)
        elif shape[0] == n_arms:
            per_arm = size // n_arms
            arm_cols.append(offset + np.arange(size).reshape(n_arms, per_arm))
            arm_names += [var.name] * per_arm
        else:
            raise ValueError(f"{var.name}: block shape {shape} is neither scalar nor per arm")
        offset += size
    return Layout(
        tuple(names), tuple(shapes), tuple(offsets), offset,
        np.concatenate(arm_cols, axis=1), tuple(arm_names), np.array(shared_cols, dtype=int),
    )


class BatchedDensity:
    """Compiled per-block log density, gradient and cell effects of a PyMC model.

    Parameters come as rows of a matrix (blocks, parameters) in PyMC's
    unconstrained coordinates (log-Jacobians included), data as arrays
    (blocks, arms, cells). The log density is returned split into a per-arm
    part (blocks, arms) and a shared part (blocks,).

    Every method takes ``repeat``: data row j belongs to parameter rows
    j * repeat ... (j + 1) * repeat - 1. Large repeats (many draws of one
    trial) use functions compiled with a broadcastable data row instead of
    copying the data.
    """

    def __init__(self, model: pm.Model, n_arms: int, data_names: tuple[str, ...]):
        self.layout = make_layout(model, n_arms)
        self.data_names = data_names
        theta = pt.matrix("theta")
        arm_lp, shared_lp = self._split_terms(model.logp(sum=False), theta)
        alpha = model.replace_rvs_by_values([model["alpha"]])[0]
        self._rows, self._broadcast = {}, {}
        for variant, static in ((self._rows, None), (self._broadcast, 1)):
            data = [pt.tensor(name, dtype="float64", shape=(static, None, None)) for name in data_names]
            swap = self._replacements(model, theta, data)
            lp_a, lp_s, alp = graph_replace([arm_lp, shared_lp, alpha], swap, strict=False)
            inputs = [theta, *data]
            variant["logp"] = pytensor.function(inputs, [lp_a, lp_s], on_unused_input="ignore")
            variant["alpha"] = pytensor.function(inputs, alp, on_unused_input="ignore")
            if static is None:  # gradients are needed per block only (Newton)
                grad = pt.grad(lp_a.sum() + lp_s.sum(), theta)
                variant["logp_grad"] = pytensor.function(inputs, [lp_a, lp_s, grad], on_unused_input="ignore")
        self.initial = np.concatenate([np.ravel(v) for v in model.initial_point().values()])

    def _replacements(self, model, theta, data) -> dict:
        lay = self.layout
        blocks = theta.shape[0]
        swap = {}
        for var, offset, shape in zip(model.value_vars, lay.offsets, lay.shapes):
            size = int(np.prod(shape))
            swap[var] = theta[:, offset : offset + size].reshape((blocks, *shape))
        for name, tensor in zip(self.data_names, data):
            swap[model[name]] = tensor
        return swap

    @staticmethod
    def _split_terms(terms, theta):
        arm_terms = [t if t.ndim == 2 else t.sum(axis=tuple(range(2, t.ndim))) for t in terms if t.ndim >= 2]
        shared_terms = [t for t in terms if t.ndim == 1]
        zero = pt.zeros((theta.shape[0],))
        return pt.add(*arm_terms), (pt.add(*shared_terms) if shared_terms else zero)

    def logp(self, theta: np.ndarray, data: dict, repeat: int = 1) -> list[np.ndarray]:
        """[per-arm log density (rows, arms), shared part (rows,)]."""
        return self._evaluate("logp", theta, data, repeat)

    def logp_grad(self, theta: np.ndarray, data: dict, repeat: int = 1) -> list[np.ndarray]:
        """[per-arm log density, shared part, gradient (rows, P)]."""
        return self._evaluate("logp_grad", theta, data, repeat)

    def alpha(self, theta: np.ndarray, data: dict, repeat: int = 1) -> np.ndarray:
        """Cell effects on the link scale (rows, arms, cells)."""
        return self._evaluate("alpha", theta, data, repeat)

    def _evaluate(self, name: str, theta, data, repeat):
        n_rows = data["n"].shape[0]
        if repeat >= BROADCAST_REPEAT and name in self._broadcast:
            fn = self._broadcast[name]
            parts = [
                fn(theta[j * repeat : (j + 1) * repeat], *(data[d][j : j + 1] for d in self.data_names))
                for j in range(n_rows)
            ]
        else:
            fn = self._rows[name]
            per_call = max(1, ROWS_PER_CALL // repeat)  # bound the memory of repeated data
            parts = [
                fn(theta[s * repeat : (s + per_call) * repeat],
                   *(np.repeat(data[d][s : s + per_call], repeat, axis=0) for d in self.data_names))
                for s in range(0, n_rows, per_call)
            ]
        if len(parts) == 1:
            return parts[0]
        if isinstance(parts[0], list):
            return [np.concatenate(p) for p in zip(*parts)]
        return np.concatenate(parts)
