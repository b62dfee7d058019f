"""Modes and block-structured Hessians of a `BatchedDensity`, per block.

Gradients come from the compiled PyMC model; Hessians are central differences
of those gradients. Arms are independent given the shared parameters (beta,
s), so the Hessian has per-arm blocks, arm x shared blocks and a shared block,
and perturbing one position in every arm at once yields every arm's column:
2 x (per-arm parameters + shared parameters) gradient evaluations in all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .pymc_density import BatchedDensity

FD_STEP = 1e-5  # central-difference step for Hessians from gradients
NEWTON_MAX_ITER = 60
NEWTON_TOL = 1e-9  # predicted increase of the log density at convergence


@dataclass
class Hessian:
    """Block-structured Hessian: per arm, arm x shared, shared x shared."""

    arm: np.ndarray  # (blocks, arms, m, m)
    cross: np.ndarray  # (blocks, arms, m, s)
    shared: np.ndarray  # (blocks, s, s)

    def full(self) -> np.ndarray:
        b, a, m, _ = self.arm.shape
        s = self.shared.shape[-1]
        out = np.zeros((b, a * m + s, a * m + s))
        for k in range(a):
            blk = slice(k * m, (k + 1) * m)
            out[:, blk, blk] = self.arm[:, k]
            out[:, blk, a * m :] = self.cross[:, k]
            out[:, a * m :, blk] = np.swapaxes(self.cross[:, k], 1, 2)
        out[:, a * m :, a * m :] = self.shared
        return out


def structured_hessian(
    density: BatchedDensity, theta: np.ndarray, data: dict, arm_cols: np.ndarray, shared_cols: np.ndarray
) -> Hessian:
    """Hessian over the free columns by central differences of the compiled gradient.

    Perturbing position j of every arm at once is enough: given the shared
    parameters, an arm's gradient does not depend on another arm's parameters.
    """
    m, s = arm_cols.shape[1], len(shared_cols)
    directions = [arm_cols[:, j] for j in range(m)] + [shared_cols[[j]] for j in range(s)]
    n_dir, blocks = len(directions), theta.shape[0]
    stacked = np.repeat(theta[None], 2 * n_dir, axis=0)  # (2 dirs, blocks, P)
    for d, cols in enumerate(directions):
        stacked[2 * d][:, cols] += FD_STEP
        stacked[2 * d + 1][:, cols] -= FD_STEP
    # rows ordered block-major so data rows repeat contiguously
    rows = stacked.transpose(1, 0, 2).reshape(blocks * 2 * n_dir, -1)
    grad = density.logp_grad(rows, data, repeat=2 * n_dir)[2].reshape(blocks, n_dir, 2, -1)
    resp = (grad[:, :, 0] - grad[:, :, 1]) / (2 * FD_STEP)  # (blocks, dirs, P)
    arm = resp[:, :m][:, :, arm_cols].transpose(0, 2, 3, 1)  # (blocks, arms, i, j)
    cross = resp[:, m:][:, :, arm_cols].transpose(0, 2, 3, 1)  # (blocks, arms, i, k)
    shared = resp[:, m:][:, :, shared_cols]  # (blocks, k, l)
    return Hessian(sym(arm), cross, sym(shared))


def sym(h: np.ndarray) -> np.ndarray:
    """Symmetric part of square matrices (last two axes)."""
    return 0.5 * (h + np.swapaxes(h, -1, -2))


@numba.njit(cache=True)
def _cholesky_solve(a, b):  # pragma: no cover - numba
    """Per matrix: solve a x = b by Cholesky; ok[i] False where a[i] is not positive definite."""
    n_b, m = b.shape
    x = np.zeros((n_b, m))
    ok = np.ones(n_b, dtype=np.bool_)
    low = np.zeros((m, m))
    y = np.zeros(m)
    for i in range(n_b):
        for r in range(m):
            for c in range(r + 1):
                acc = a[i, r, c]
                for k in range(c):
                    acc -= low[r, k] * low[c, k]
                if r == c:
                    if not acc > 0.0:
                        ok[i] = False
                        break
                    low[r, r] = np.sqrt(acc)
                else:
                    low[r, c] = acc / low[c, c]
            if not ok[i]:
                break
        if not ok[i]:
            continue
        for r in range(m):
            acc = b[i, r]
            for k in range(r):
                acc -= low[r, k] * y[k]
            y[r] = acc / low[r, r]
        for r in range(m - 1, -1, -1):
            acc = y[r]
            for k in range(r + 1, m):
                acc -= low[k, r] * x[i, k]
            x[i, r] = acc / low[r, r]
    return x, ok


def _newton_step(neg_h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve (-H) step = g per block; where -H is not positive definite, its
    eigenvalues are floored (absolute values) so the step still ascends.
    Each block's step depends on that block only."""
    step, ok = _cholesky_solve(np.ascontiguousarray(neg_h), np.ascontiguousarray(g))
    if not ok.all():
        bad = ~ok
        w, v = np.linalg.eigh(neg_h[bad])
        floor = np.maximum(np.abs(w).max(axis=-1, keepdims=True) * 1e-10, 1e-10)
        w = np.where(w > floor, w, np.maximum(np.abs(w), floor))
        step[bad] = np.einsum("bij,bj->bi", v, np.einsum("bji,bj->bi", v, g[bad]) / w)
    return step


def pd_covariance(neg_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(covariance, Cholesky factor) from negative Hessians, eigenvalues floored
    where they are not positive (a usable proposal scale; the caller flags it)."""
    w, v = np.linalg.eigh(sym(neg_h))
    floor = np.maximum(np.abs(w).max(axis=-1, keepdims=True) * 1e-8, 1e-8)
    cov = sym(np.einsum("...ij,...j,...kj->...ik", v, 1.0 / np.maximum(w, floor), v))
    return cov, np.linalg.cholesky(cov)


@dataclass
class Mode:
    """A mode per block with the Hessian there."""

    theta: np.ndarray  # (blocks, P)
    lp_arm: np.ndarray  # (blocks, arms) per-arm log density at the mode
    hessian: Hessian
    converged: np.ndarray  # (blocks,) bool: Newton decrement small and -H positive definite


def newton_mode(
    density: BatchedDensity, theta: np.ndarray, data: dict, arm_cols: np.ndarray, shared_cols: np.ndarray
) -> Mode:
    """Maximise the log density over the columns arm_cols and shared_cols per block
    (other columns held fixed) by Newton steps with backtracking."""
    free = np.concatenate([arm_cols.ravel(), shared_cols])
    lp_arm, lp_shared, grad = density.logp_grad(theta, data)
    for iteration in range(NEWTON_MAX_ITER + 1):
        hess = structured_hessian(density, theta, data, arm_cols, shared_cols)
        g = grad[:, free]
        step = _structured_step(hess, g, len(shared_cols))
        gain = np.einsum("bi,bi->b", g, step)  # predicted increase
        done = gain < NEWTON_TOL
        if done.all() or iteration == NEWTON_MAX_ITER:
            break
        theta, lp_arm, lp_shared, grad = _line_search(
            density, theta, data, free, step, gain, (lp_arm, lp_shared, grad), done
        )
    neg_h = -hess.full() if len(shared_cols) else -hess.arm
    positive = np.all(np.linalg.eigvalsh(neg_h) > 0, axis=-1)
    positive = positive if len(shared_cols) else positive.all(axis=-1)
    return Mode(theta, lp_arm, hess, done & positive)


def _structured_step(hess: Hessian, g: np.ndarray, n_shared: int) -> np.ndarray:
    if n_shared:
        return _newton_step(-hess.full(), g)
    blocks, arms, m = hess.arm.shape[:3]  # block diagonal: one small solve per arm
    return _newton_step(-hess.arm.reshape(-1, m, m), g.reshape(-1, m)).reshape(blocks, arms * m)


def _line_search(density, theta, data, free, step, gain, state, done):
    """Backtracking (Armijo) on the blocks still moving; returns the new theta and state."""
    lp_arm, lp_shared, grad = (x.copy() for x in state)
    current = lp_arm.sum(axis=1) + lp_shared
    t = np.ones(theta.shape[0])
    todo = ~done
    new_theta = theta.copy()
    for _ in range(40):
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        trial = theta[idx].copy()
        trial[:, free] += t[idx, None] * step[idx]
        res = density.logp_grad(trial, {k: v[idx] for k, v in data.items()})
        value = res[0].sum(axis=1) + res[1]
        ok = np.isfinite(value) & (value >= current[idx] + 1e-4 * t[idx] * gain[idx])
        good = idx[ok]
        new_theta[good] = trial[ok]
        lp_arm[good], lp_shared[good], grad[good] = res[0][ok], res[1][ok], res[2][ok]
        t[idx[~ok]] *= 0.5
        todo[good] = False
    return new_theta, lp_arm, lp_shared, grad
