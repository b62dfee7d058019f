"""Fast path for the PyMC arm x phenotype models: nested Laplace + importance sampling.

For a batch of trials at once (every step vectorised over trials):

1. Joint mode of the model's log density in PyMC's unconstrained coordinates
   by damped Newton; gradients from the compiled PyMC model, Hessians by
   central differences of those gradients. The Hessian is block structured
   (arms are independent given the shared parameters beta and s), so every
   arm's block comes from the same few perturbed gradient evaluations.
2. With partial pooling, an INLA-style step per arm: on a grid of
   log sigma[a], the conditional mode and Hessian of the arm's other
   parameters (shared ones held at the joint mode) give the Laplace marginal
   of log sigma and a Gaussian for the rest at every grid point. This follows
   the funnel that a single Gaussian cannot.
3. A proposal built from those pieces: shared parameters from the joint
   Laplace Gaussian; per arm log sigma from the grid (uniform within cells,
   exponential tails beyond the grid), then (mu, alpha) from the nearest grid
   point's Gaussian, shifted linearly with the shared draw; multivariate t
   rather than Gaussian everywhere so the proposal's tails are heavier than
   the target's.
4. Importance weights against the exact log density of the PyMC model,
   Pareto smoothed (PSIS); the Pareto k is the approximation's own error
   check and the weights' ESS is reported. Posterior draws are a resample.
   When no parameter is shared across arms (responder endpoint) the posterior
   factorises over arms and every arm is weighted and resampled on its own.

Nothing is fitted by hand: priors and likelihood come only from the PyMC model.
"""

from __future__ import annotations

from dataclasses import dataclass

import arviz as az
import numba
import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace
from scipy import special

FD_STEP = 1e-5  # central-difference step for Hessians from gradients
NEWTON_MAX_ITER = 60
NEWTON_TOL = 1e-9  # predicted increase of the log density at convergence
T_DF = 1000.0
ROWS_PER_CALL = 60_000  # blocks per compiled-function call (memory bound)


# --------------------------------------------------------------------------
# The model's log density, batched over independent blocks
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Newton with a block-structured Hessian
# --------------------------------------------------------------------------


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
    return Hessian(_sym(arm), cross, _sym(shared))


def _sym(h: np.ndarray) -> np.ndarray:
    return 0.5 * (h + np.swapaxes(h, -1, -2))


def _total(lp) -> np.ndarray:
    return lp[0].sum(axis=1) + lp[1]


def _newton_step(neg_h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve (-H) step = g with eigenvalues floored so the step ascends."""
    w, v = np.linalg.eigh(neg_h)
    floor = np.maximum(np.abs(w).max(axis=-1, keepdims=True) * 1e-10, 1e-10)
    w = np.where(w > floor, w, np.maximum(np.abs(w), floor))
    return np.einsum("bij,bj->bi", v, np.einsum("bji,bj->bi", v, g) / w)


@dataclass
class Mode:
    theta: np.ndarray  # (blocks, P)
    lp_arm: np.ndarray  # (blocks, arms)
    hessian: Hessian
    converged: np.ndarray  # (blocks,) bool


def newton_mode(
    density: BatchedDensity, theta: np.ndarray, data: dict, arm_cols: np.ndarray, shared_cols: np.ndarray
) -> Mode:
    """Maximise the log density over the free columns (others held fixed), per block."""
    theta = theta.copy()
    free = np.concatenate([arm_cols.ravel(), shared_cols])
    done = np.zeros(theta.shape[0], bool)
    lp_arm, lp_shared, grad = density.logp_grad(theta, data)
    for _ in range(NEWTON_MAX_ITER):
        hess = structured_hessian(density, theta, data, arm_cols, shared_cols)
        g = grad[:, free]
        if len(shared_cols):
            step = _newton_step(-hess.full(), g)
        else:  # block diagonal: one small solve per arm
            blocks, arms, m = hess.arm.shape[:3]
            step = _newton_step(-hess.arm.reshape(-1, m, m), g.reshape(-1, m)).reshape(blocks, arms * m)
        gain = np.einsum("bi,bi->b", g, step)
        done = gain < NEWTON_TOL
        if done.all():
            break
        theta, (lp_arm, lp_shared, grad) = _line_search(density, theta, data, free, step, gain, lp_arm.copy(), lp_shared.copy(), grad.copy(), done)
    hess = structured_hessian(density, theta, data, arm_cols, shared_cols)
    neg_h = -hess.full() if len(shared_cols) else -hess.arm
    neg_ok = np.all(np.linalg.eigvalsh(neg_h) > 0, axis=-1)
    neg_ok = neg_ok if len(shared_cols) else neg_ok.all(axis=-1)
    return Mode(theta, lp_arm, hess, done & neg_ok)


def _line_search(density, theta, data, free, step, gain, lp_arm, lp_shared, grad, done):
    """Backtracking (Armijo) on the blocks still moving."""
    current = lp_arm.sum(axis=1) + lp_shared
    t = np.where(done, 0.0, 1.0)
    todo = ~done
    new_theta = theta.copy()
    for _ in range(40):
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        trial = theta[idx].copy()
        trial[:, free] += t[idx, None] * step[idx]
        sub = {k: v[idx] for k, v in data.items()}
        res = density.logp_grad(trial, sub)
        value = res[0].sum(axis=1) + res[1]
        ok = np.isfinite(value) & (value >= current[idx] + 1e-4 * t[idx] * gain[idx])
        good = idx[ok]
        new_theta[good] = trial[ok]
        lp_arm[good], lp_shared[good], grad[good] = res[0][ok], res[1][ok], res[2][ok]
        t[idx[~ok]] *= 0.5
        todo[good] = False
    return new_theta, (lp_arm, lp_shared, grad)


# --------------------------------------------------------------------------
# Proposal pieces
# --------------------------------------------------------------------------


def _t_log_density(maha: np.ndarray, log_det: np.ndarray, d: int) -> np.ndarray:
    """Log density of a d-variate t with squared Mahalanobis distance `maha`."""
    return (
        special.gammaln((T_DF + d) / 2) - special.gammaln(T_DF / 2) - d / 2 * np.log(T_DF * np.pi)
        - log_det - (T_DF + d) / 2 * np.log1p(maha / T_DF)
    )


@numba.njit(cache=True)
def _affine_draws(mean, chol, shift, piece, dev, e, scale):  # pragma: no cover - numba
    """x[t, i, a] = mean[t, a, k] + shift[t, a, k] @ dev[t, i] + chol[t, a, k] @ e[t, i, a] * scale[t, i, a]
    with k = piece[t, i, a]; loops instead of gathering a matrix per draw."""
    n_t, n_i, n_a, m = e.shape
    n_s = dev.shape[2]
    x = np.empty(e.shape)
    for t in range(n_t):
        for i in range(n_i):
            for a in range(n_a):
                k = piece[t, i, a]
                for r in range(m):
                    acc = mean[t, a, k, r]
                    for c in range(n_s):
                        acc += shift[t, a, k, r, c] * dev[t, i, c]
                    z = 0.0
                    for c in range(r + 1):
                        z += chol[t, a, k, r, c] * e[t, i, a, c]
                    x[t, i, a, r] = acc + z * scale[t, i, a]
    return x


def mvt_mixture_draw(rng, mean, chol, shift, piece, dev):
    """Per trial, draw and arm: a multivariate t around component `piece`.

    mean (T, A, K, m), chol (T, A, K, m, m) lower, shift (T, A, K, m, s),
    piece (T, n, A) int, dev (T, n, s) shared deviations shifting the mean.
    Returns x (T, n, A, m) and log q (T, n, A).
    """
    n_t, n, n_a = piece.shape
    m = mean.shape[-1]
    e = rng.standard_normal((n_t, n, n_a, m))
    w = rng.chisquare(T_DF, size=(n_t, n, n_a)) / T_DF
    x = _affine_draws(mean, chol, shift, piece, dev, e, 1.0 / np.sqrt(w))
    log_det = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)  # (T, A, K)
    log_det = np.take_along_axis(log_det, piece.transpose(0, 2, 1), axis=2).transpose(0, 2, 1)
    maha = np.einsum("tnam,tnam->tna", e, e) / w
    return x, _t_log_density(maha, log_det, m)


def _inv_chol(neg_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(covariance, its Cholesky factor) from a negative Hessian."""
    cov = np.linalg.inv(neg_h)
    cov = _sym(cov)
    return cov, np.linalg.cholesky(cov)


@dataclass
class SigmaGrid:
    """Per block and arm: a piecewise density over log sigma with tails, plus
    the conditional Gaussian of the arm's other parameters at each grid point."""

    u: np.ndarray  # (K,) grid of log sigma (cell centres)
    h: float
    log_mass: np.ndarray  # (blocks, arms, K + 2): cells, then left and right tail
    rate: np.ndarray  # (blocks, arms, 2): exponential tail rates (> 0)
    mean: np.ndarray  # (blocks, arms, K, m) centred coordinates
    chol: np.ndarray  # (blocks, arms, K, m, m)
    shift: np.ndarray  # (blocks, arms, K, m, s): d mean / d shared
    converged: np.ndarray  # (blocks,)

    def tail_mass(self) -> np.ndarray:
        """(blocks,) largest mass any arm leaves beyond the grid."""
        return np.exp(special.logsumexp(self.log_mass[..., -2:], axis=-1)).max(axis=-1)


def _log_marginal_on_grid(lp_arm: np.ndarray, neg_h: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised log masses of cells and tails, and tail rates, from Laplace at grid points.

    lp_arm, neg_h: (blocks, arms, K[, m, m]).
    """
    log_pi = lp_arm - 0.5 * np.linalg.slogdet(neg_h)[1]
    # exponential tails continuing the end slopes (at least as heavy as e^{+-0.5 u})
    left = np.clip((log_pi[..., 1] - log_pi[..., 0]) / h, 0.5, 5.0)
    right = np.clip((log_pi[..., -2] - log_pi[..., -1]) / h, 0.5, 50.0)
    log_cells = log_pi + np.log(h)
    log_left = log_pi[..., 0] - left * h / 2 - np.log(left)
    log_right = log_pi[..., -1] - right * h / 2 - np.log(right)
    log_mass = np.concatenate([log_cells, log_left[..., None], log_right[..., None]], axis=-1)
    log_mass -= special.logsumexp(log_mass, axis=-1, keepdims=True)
    return log_mass, np.stack([left, right], axis=-1)


# --------------------------------------------------------------------------
# The fast path
# --------------------------------------------------------------------------


class FastPath:
    """Nested Laplace proposal + PSIS for a PyMC model built by `pymc_model.build_model`."""

    def __init__(
        self,
        model: pm.Model,
        n_arms: int,
        data_names: tuple[str, ...],
        prior,
        *,
        grid_step: float = 0.25,
        grid_below: float = 6.0,
        grid_above: float = 2.5,
        proposal_factor: float = 2.0,
        trial_chunk: int = 25,
    ):
        self.density = BatchedDensity(model, n_arms, data_names)
        lay = self.density.layout
        self.n_arms = n_arms
        self.proposal_factor = proposal_factor
        self.trial_chunk = trial_chunk
        self.has_grid = "sigma_log__" in lay.arm_names
        if self.has_grid:
            centre = np.log(prior.sigma_scale)
            self.grid = np.arange(centre - grid_below, centre + grid_above + 1e-9, grid_step)
            self.grid_step = grid_step
            self.pos_u = lay.position("sigma_log__")[0]
            self.pos_latent = np.array([p for p in range(lay.arm_cols.shape[1]) if p != self.pos_u])
            self.pos_mu_in_latent = self._latent_index("mu")
            self.pos_z_in_latent = self._latent_index("z")

    def _latent_index(self, name: str) -> np.ndarray:
        names = np.array(self.density.layout.arm_names)[self.pos_latent]
        return np.flatnonzero(names == name)

    # -- public ------------------------------------------------------------
    def fit(self, data: dict[str, np.ndarray], draws: int, rng: np.random.Generator):
        """(alpha draws (trials, draws, arms, cells), diagnostics dict of (trials,))."""
        n_trials = data["n"].shape[0]
        alphas, diags = [], []
        for start in range(0, n_trials, self.trial_chunk):
            sub = {k: v[start : start + self.trial_chunk] for k, v in data.items()}
            alpha, diag = self._fit_chunk(sub, draws, rng)
            alphas.append(alpha)
            diags.append(diag)
        return np.concatenate(alphas), {k: np.concatenate([d[k] for d in diags]) for k in diags[0]}

    # -- steps ---------------------------------------------------------------
    def _fit_chunk(self, data: dict, draws: int, rng: np.random.Generator):
        lay = self.density.layout
        n_trials = data["n"].shape[0]
        theta0 = np.repeat(self.density.initial[None], n_trials, axis=0)
        joint = newton_mode(self.density, theta0, data, lay.arm_cols, lay.shared_cols)
        grid = self._sigma_grid(joint, data) if self.has_grid else None
        n_prop = int(np.ceil(self.proposal_factor * draws))
        theta, logq_arm, logq_shared = self._propose(joint, grid, n_prop, rng)
        lp_arm, lp_shared = self.density.logp(theta.reshape(n_trials * n_prop, -1), data, repeat=n_prop)
        lp_arm = lp_arm.reshape(n_trials, n_prop, -1)
        lp_shared = lp_shared.reshape(n_trials, n_prop)
        if len(lay.shared_cols) == 0:  # posterior factorises over arms
            logw = (lp_arm - logq_arm).transpose(0, 2, 1)  # (trials, arms, n_prop)
        else:
            logw = (lp_arm.sum(-1) + lp_shared - logq_arm.sum(-1) - logq_shared)[:, None, :]
        index, khat, ess = psis_resample(logw, draws, rng)
        theta = self._gather(theta, index)
        alpha = self.density.alpha(theta.reshape(n_trials * draws, -1), data, repeat=draws)
        alpha = alpha.reshape(n_trials, draws, *alpha.shape[1:])
        converged = joint.converged & (grid.converged if grid is not None else True)
        tail = grid.tail_mass() if grid is not None else np.zeros(n_trials)
        return alpha, fast_diagnostics(khat, ess, converged, tail)

    def _sigma_grid(self, joint: Mode, data: dict) -> SigmaGrid:
        """Conditional Laplace of each arm's (mu, z) at every log sigma of the grid."""
        lay = self.density.layout
        n_trials, k = joint.theta.shape[0], len(self.grid)
        theta = np.repeat(joint.theta[:, None], k, axis=1)  # (trials, K, P)
        theta[:, :, lay.arm_cols[:, self.pos_u]] = self.grid[None, :, None]
        theta = theta.reshape(n_trials * k, -1)
        # start the latent part from the prior centre: the conditional is near Gaussian
        theta[:, lay.arm_cols[:, self.pos_latent]] = self.density.initial[lay.arm_cols[:, self.pos_latent]]
        sub = {name: np.repeat(v, k, axis=0) for name, v in data.items()}
        latent_cols = lay.arm_cols[:, self.pos_latent]
        cond = newton_mode(self.density, theta, sub, latent_cols, np.array([], int))
        cross = structured_hessian(self.density, cond.theta, sub, latent_cols, lay.shared_cols).cross
        neg_h = -cond.hessian.arm  # (trials*K, arms, m, m)
        shape = (n_trials, k, self.n_arms)
        log_mass, rate = _log_marginal_on_grid(
            cond.lp_arm.reshape(shape).transpose(0, 2, 1),
            neg_h.reshape(*shape, *neg_h.shape[-2:]).transpose(0, 2, 1, 3, 4),
            self.grid_step,
        )
        mean, chol, shift = self._centred_gaussians(cond.theta[:, latent_cols], neg_h, cross)
        to_grid = lambda a: a.reshape(n_trials, k, *a.shape[1:]).swapaxes(1, 2)  # noqa: E731
        converged = cond.converged.reshape(n_trials, k).all(axis=1)
        return SigmaGrid(self.grid, self.grid_step, log_mass, rate, to_grid(mean), to_grid(chol), to_grid(shift), converged)

    def _centred_map(self, sigma: np.ndarray) -> np.ndarray:
        """Matrices M with (mu, alpha) = M (mu, z): alpha_f = mu + sigma z_f. sigma (...)."""
        m = len(self.pos_latent)
        mat = np.broadcast_to(np.eye(m), sigma.shape + (m, m)).copy()
        rows = self.pos_z_in_latent
        mat[..., rows, rows] = sigma[..., None]
        mat[..., rows, self.pos_mu_in_latent[0]] = 1.0
        return mat

    def _centred_gaussians(self, mode, neg_h, cross):
        """Gaussians at the grid points in centred coordinates (mu, alpha)."""
        sigma = np.exp(np.repeat(self.grid[None, :], mode.shape[0] // len(self.grid), axis=0).ravel())
        mat = self._centred_map(np.repeat(sigma[:, None], self.n_arms, axis=1))  # (rows, arms, m, m)
        cov = np.linalg.inv(neg_h)
        mean = np.einsum("raij,raj->rai", mat, mode)
        cov_c = _sym(mat @ cov @ np.swapaxes(mat, -1, -2))
        shift = mat @ (cov @ cross)  # d mode / d shared = (-H)^-1 H_as
        return mean, np.linalg.cholesky(cov_c), shift

    # -- proposal ------------------------------------------------------------
    def _propose(self, joint: Mode, grid: SigmaGrid | None, n: int, rng: np.random.Generator):
        """(theta (trials, n, P), log q per arm (trials, n, arms), log q shared (trials, n))."""
        lay = self.density.layout
        n_trials, n_shared = joint.theta.shape[0], len(lay.shared_cols)
        theta = np.repeat(joint.theta[:, None], n, axis=1)
        shared_dev = np.zeros((n_trials, n, n_shared))
        logq_shared = np.zeros((n_trials, n))
        if n_shared:
            cov = np.linalg.inv(-joint.hessian.full())[:, -n_shared:, -n_shared:]
            chol = np.linalg.cholesky(_sym(cov))[:, None, None]  # one component, one "arm"
            mean = joint.theta[:, lay.shared_cols]
            x, logq = mvt_mixture_draw(
                rng, mean[:, None, None], chol, np.zeros(chol.shape[:-1] + (0,)),
                np.zeros((n_trials, n, 1), int), np.zeros((n_trials, n, 0)),
            )
            theta[:, :, lay.shared_cols] = x[:, :, 0]
            logq_shared = logq[:, :, 0]
            shared_dev = x[:, :, 0] - mean[:, None]
        if grid is None:
            logq_arm = self._propose_arms_gaussian(joint, theta, shared_dev, rng)
        else:
            logq_arm = self._propose_arms_grid(grid, theta, shared_dev, rng)
        return theta, logq_arm, logq_shared

    def _propose_arms_gaussian(self, joint: Mode, theta, shared_dev, rng):
        """Per arm: t around the joint mode, conditional on the shared draw."""
        lay = self.density.layout
        n_trials, n = theta.shape[:2]
        cov = np.linalg.inv(-joint.hessian.arm)  # conditional on the shared parameters
        chol = np.linalg.cholesky(_sym(cov))
        shift = cov @ joint.hessian.cross  # d conditional mode / d shared
        mode = joint.theta[:, lay.arm_cols]
        piece = np.zeros((n_trials, n, self.n_arms), int)
        x, logq = mvt_mixture_draw(rng, mode[:, :, None], chol[:, :, None], shift[:, :, None], piece, shared_dev)
        theta[:, :, lay.arm_cols] = x
        return logq

    def _propose_arms_grid(self, grid: SigmaGrid, theta, shared_dev, rng):
        """Per arm: log sigma from the grid density, then (mu, alpha) from the nearest point."""
        lay = self.density.layout
        u, logq_u, k = sample_grid(grid, theta.shape[1], rng)  # (trials, n, arms)
        x, logq_x = mvt_mixture_draw(rng, grid.mean, grid.chol, grid.shift, k, shared_dev)
        mu = x[..., self.pos_mu_in_latent[0]]
        latent = x.copy()
        latent[..., self.pos_z_in_latent] = (x[..., self.pos_z_in_latent] - mu[..., None]) / np.exp(u)[..., None]
        theta[:, :, lay.arm_cols[:, self.pos_u]] = u
        theta[:, :, lay.arm_cols[:, self.pos_latent]] = latent
        # density of z = (alpha - mu) / sigma: Jacobian sigma^cells
        return logq_u + logq_x + len(self.pos_z_in_latent) * u

    def _gather(self, theta: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Resampled rows (trials, draws, P) from index (trials, 1 or arms, draws)."""
        if index.shape[1] == 1:  # joint weights
            return np.take_along_axis(theta, index[:, 0, :, None], axis=1)
        out = np.empty((theta.shape[0], index.shape[2], theta.shape[2]))
        for arm, cols in enumerate(self.density.layout.arm_cols):  # arms resampled independently
            out[:, :, cols] = np.take_along_axis(theta[:, :, cols], index[:, arm, :, None], axis=1)
        return out


@numba.njit(cache=True)
def _grid_log_sigma(cdf, log_mass, rate, u_grid, h, v, jitter, expo):  # pragma: no cover - numba
    """Inverse-CDF draws of log sigma from cells + exponential tails, per (t, a, i)."""
    n_t, n_a, n_i = v.shape
    n_cells = u_grid.shape[0]
    lo, hi = u_grid[0] - h / 2, u_grid[-1] + h / 2
    u = np.empty(v.shape)
    logq = np.empty(v.shape)
    nearest = np.empty(v.shape, dtype=np.int64)
    for t in range(n_t):
        for a in range(n_a):
            left, right = rate[t, a, 0], rate[t, a, 1]
            for i in range(n_i):
                piece = min(np.searchsorted(cdf[t, a], v[t, a, i], side="right"), n_cells + 1)
                lm = log_mass[t, a, piece]
                if piece < n_cells:
                    u[t, a, i] = u_grid[piece] + h * (jitter[t, a, i] - 0.5)
                    logq[t, a, i] = lm - np.log(h)
                    nearest[t, a, i] = piece
                elif piece == n_cells:
                    u[t, a, i] = lo - expo[t, a, i] / left
                    logq[t, a, i] = lm + np.log(left) - expo[t, a, i]
                    nearest[t, a, i] = 0
                else:
                    u[t, a, i] = hi + expo[t, a, i] / right
                    logq[t, a, i] = lm + np.log(right) - expo[t, a, i]
                    nearest[t, a, i] = n_cells - 1
    return u, logq, nearest


def sample_grid(grid: SigmaGrid, n: int, rng: np.random.Generator):
    """log sigma draws (trials, n, arms), their log density, and nearest grid index."""
    shape = grid.log_mass.shape[:2] + (n,)
    cdf = np.cumsum(np.exp(grid.log_mass), axis=-1)
    cdf /= cdf[..., -1:]
    v, jitter, expo = rng.random(shape), rng.random(shape), rng.standard_exponential(shape)
    u, logq, nearest = _grid_log_sigma(cdf, grid.log_mass, grid.rate, grid.u, grid.h, v, jitter, expo)
    return u.transpose(0, 2, 1), logq.transpose(0, 2, 1), nearest.transpose(0, 2, 1)


# --------------------------------------------------------------------------
# Importance weights
# --------------------------------------------------------------------------


def psis_resample(logw: np.ndarray, draws: int, rng: np.random.Generator):
    """Resample `draws` indices per row of log weights (trials, rows, n).

    Returns indices (trials, rows, draws), Pareto k (trials,) = worst row and
    ESS (trials,) = smallest row, of the Pareto-smoothed weights.
    """
    smoothed, khat = az.psislw(logw.copy())
    w = np.exp(smoothed - special.logsumexp(smoothed, axis=-1, keepdims=True))
    ess = 1.0 / np.sum(w**2, axis=-1)
    index = systematic_resample(w, draws, rng)
    return index, np.max(khat, axis=1), np.min(ess, axis=1)


def systematic_resample(w: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling per row of normalised weights, then shuffled (rows independent)."""
    cdf = np.cumsum(w, axis=-1)
    cdf[..., -1] = 1.0
    start = rng.random(w.shape[:-1] + (1,))
    points = (start + np.arange(draws)) / draws
    flat_cdf = cdf.reshape(-1, cdf.shape[-1])
    flat_pts = points.reshape(-1, draws)
    index = np.stack([np.searchsorted(c, p) for c, p in zip(flat_cdf, flat_pts)]).reshape(points.shape)
    return rng.permuted(index, axis=-1)


def fast_diagnostics(khat, ess, converged, tail) -> dict[str, np.ndarray]:
    from .pymc_model import ESS_MIN, PARETO_K_MAX, TAIL_MASS_MAX

    problem = (khat > PARETO_K_MAX) | (ess < ESS_MIN) | ~converged | (tail > TAIL_MASS_MAX)
    nan = np.full(khat.shape, np.nan)
    return {
        "rhat_max": nan, "ess_min": ess, "divergences": nan.copy(), "pareto_k": khat,
        "tail_mass": tail, "converged": converged, "problem": problem,
    }
