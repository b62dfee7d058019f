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
    """

    def __init__(self, model: pm.Model, n_arms: int, data_names: tuple[str, ...]):
        self.layout = make_layout(model, n_arms)
        self.data_names = data_names
        theta = pt.matrix("theta")
        data = [pt.tensor3(name) for name in data_names]
        swap = self._replacements(model, theta, data)
        arm_lp, shared_lp = self._split_terms(model.logp(sum=False), theta)
        arm_lp, shared_lp, alpha = graph_replace(
            [arm_lp, shared_lp, model.replace_rvs_by_values([model["alpha"]])[0]], swap, strict=False
        )
        grad = pt.grad(arm_lp.sum() + shared_lp.sum(), theta)
        inputs = [theta, *data]
        self._logp = pytensor.function(inputs, [arm_lp, shared_lp], on_unused_input="ignore")
        self._logp_grad = pytensor.function(inputs, [arm_lp, shared_lp, grad], on_unused_input="ignore")
        self._alpha = pytensor.function(inputs, alpha, on_unused_input="ignore")
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

    def _call(self, fn, theta: np.ndarray, data: dict[str, np.ndarray], repeat: int = 1):
        """Evaluate `fn` on rows of theta; data rows are each repeated `repeat` times."""
        args = [np.repeat(data[name], repeat, axis=0) if repeat > 1 else data[name] for name in self.data_names]
        return fn(theta, *args)

    def logp(self, theta, data, repeat=1):
        return self._chunked(self._logp, theta, data, repeat)

    def logp_grad(self, theta, data, repeat=1):
        return self._chunked(self._logp_grad, theta, data, repeat)

    def alpha(self, theta, data, repeat=1):
        return self._chunked(self._alpha, theta, data, repeat)

    def _chunked(self, fn, theta, data, repeat):
        """Bound memory: call `fn` on slices of whole data rows."""
        rows_per = max(1, ROWS_PER_CALL // repeat)
        n_rows = data["n"].shape[0]
        if n_rows <= rows_per:
            return self._call(fn, theta, data, repeat)
        parts = []
        for start in range(0, n_rows, rows_per):
            stop = min(start + rows_per, n_rows)
            sub = {k: v[start:stop] for k, v in data.items()}
            parts.append(self._call(fn, theta[start * repeat : stop * repeat], sub, repeat))
        if isinstance(parts[0], list):
            return [np.concatenate(p) for p in zip(*parts)]
        return np.concatenate(parts)


