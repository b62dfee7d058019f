"""Fast path for the PyMC arm x phenotype models: nested Laplace + importance sampling.

For a batch of trials at once (every step vectorised over trials):

1. Joint mode of the model's log density in PyMC's unconstrained coordinates
   by damped Newton (`pymc_laplace`): gradients from the compiled PyMC model
   (`pymc_density`), block-structured Hessians by differencing them.
2. Shared parameters (beta, s): their Laplace marginal on a small stencil
   around the joint mode (the joint mode understates s), a Gaussian fitted
   to it, and the arms' conditional mode at its centre.
   Then an INLA-style step per arm for its scale parameter: at every node of
   a grid of log sigma[a] (partial pooling; nodes fixed by the prior), or of
   a per-arm log residual SD (nodes around its mode), the conditional mode
   and Hessian of the arm's other parameters (shared ones at the centre)
   give the Laplace marginal of the grid variable and a Gaussian for the
   rest. This follows the funnel between sigma and the phenotype effects,
   which a single Gaussian cannot.
3. A proposal from those pieces (`pymc_proposal`): shared parameters from
   the fitted Gaussian; per arm, the grid variable from the grid density
   (log-linear between nodes, exponential tails), then the rest from the
   Gaussians interpolated between the two nearest nodes and shifted
   linearly with the shared draw. With sigma on the grid these
   Gaussians are in centred coordinates (mu, alpha = mu + sigma z), stored
   back as z; below the grid z itself keeps the lowest node's law (it tends
   to the prior as sigma -> 0). Multivariate t rather than Gaussian, so the
   proposal's tails are the heavier.
4. Importance weights against the exact log density of the PyMC model,
   Pareto smoothed (PSIS). The Pareto k is the approximation's own error
   check; the ESS of the weights is reported. Draws are a systematic
   resample. Without shared parameters (responder endpoint) the posterior
   factorises over arms and every arm is weighted and resampled on its own.

Priors and likelihood come only from the PyMC model: the approximation can
be poor without the answer being wrong, because the weights correct it and
the Pareto k says when they cannot.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from threadpoolctl import threadpool_limits

from .pymc_density import BatchedDensity
from .pymc_laplace import Mode, newton_mode, pd_covariance, structured_hessian, sym
from .pymc_random import TrialRandom
from .pymc_proposal import SigmaGrid, fill_t_draws, gather_rows, psis_resample, single_t_draws


GRID_VARIABLES = ("sigma_log__", "log_s", "s_log__")  # per-arm log scales worth a grid, in order
ADAPTIVE_OFFSETS = np.linspace(-6.0, 8.0, 35)  # Laplace SDs; log s has a heavy right tail
SHARED_DF = 15.0  # t degrees of freedom for the shared parameters
STENCIL = 1.5  # half-width, in joint-Laplace SDs, of the stencil for the shared marginal


def _quadratic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares quadratic y ~ c + g.x + x'Hx/2 per row of y (T, points); x (points, d).

    Returns g (T, d) and H (T, d, d) at x = 0.
    """
    d = x.shape[1]
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    design = np.column_stack([np.ones(len(x)), x] + [x[:, i] * x[:, j] for i, j in pairs])
    coef = np.linalg.lstsq(design, y.T, rcond=None)[0].T  # (T, terms)
    grad = coef[:, 1 : 1 + d]
    hess = np.zeros((len(y), d, d))
    for c, (i, j) in zip(coef[:, 1 + d :].T, pairs):
        hess[:, i, j] += c if i != j else 2 * c
        if i != j:
            hess[:, j, i] += c
    return grad, hess


class FastPath:
    """Nested Laplace proposal + PSIS for a model built by `pymc_model.build_model`.

    Grid: with partial pooling over log sigma[a] at nodes from
    log(sigma_scale) - grid_below to log(sigma_scale) + grid_above every
    grid_step (the prior fixes where sigma can be); without it, over a per-arm
    log residual SD if the model has one, at ADAPTIVE_OFFSETS Laplace SDs
    around its mode (the data fix where s is). Exponential tails beyond.
    proposal_factor: proposals per output draw.
    """

    def __init__(
        self,
        model: pm.Model,
        n_arms: int,
        data_names: tuple[str, ...],
        sigma_scale: float,
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
        self.grid_var = next((v for v in GRID_VARIABLES if v in lay.arm_names), None)
        self.has_grid = self.grid_var is not None
        if self.has_grid:
            centre = np.log(sigma_scale)
            self.prior_nodes = np.arange(centre - grid_below, centre + grid_above + 1e-9, grid_step)
            self.pos_u = lay.position(self.grid_var)[0]
            self.pos_latent = np.array([p for p in range(lay.arm_cols.shape[1]) if p != self.pos_u])
            latent_names = np.array(lay.arm_names)[self.pos_latent]
            # with sigma on the grid, node Gaussians live in centred coordinates (mu, alpha)
            self.centred = self.grid_var == "sigma_log__"
            if self.centred:
                self.mu_in_latent = int(np.flatnonzero(latent_names == "mu")[0])
                self.z_in_latent = np.flatnonzero(latent_names == "z")

    def fit(self, data: dict[str, np.ndarray], draws: int, rng: TrialRandom):
        """(theta rows (trials, draws, P), diagnostics dict of (trials,) arrays)."""
        n_trials = data["n"].shape[0]
        rows, diags = [], []
        # small matrices everywhere: BLAS threads only add contention
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, n_trials, self.trial_chunk):
                sub = {k: v[start : start + self.trial_chunk] for k, v in data.items()}
                r, d = self._fit_chunk(sub, draws, rng.take(start, start + sub["n"].shape[0]))
                rows.append(r)
                diags.append(d)
        return np.concatenate(rows), {k: np.concatenate([d[k] for d in diags]) for k in diags[0]}

    def alpha(self, rows: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        """Cell effects (trials, draws, arms, cells) of parameter rows (trials, draws, P)."""
        n_trials, draws = rows.shape[:2]
        alpha = self.density.alpha(rows.reshape(n_trials * draws, -1), data, repeat=draws)
        return alpha.reshape(n_trials, draws, *alpha.shape[1:])

    # -- steps ---------------------------------------------------------------
    def _fit_chunk(self, data: dict, draws: int, rng: TrialRandom):
        lay = self.density.layout
        n_trials = data["n"].shape[0]
        start = np.repeat(self.density.initial[None], n_trials, axis=0)
        centre = joint = newton_mode(self.density, start, data, lay.arm_cols, lay.shared_cols)
        shared = None
        if len(lay.shared_cols):
            shared = self._shared_marginal(joint, data)
            centre = self._recentre(joint, shared[0], data)
        grid, grid_ok = self._sigma_grid(centre, data) if self.has_grid else (None, True)
        n_prop = int(np.ceil(self.proposal_factor * draws))
        theta, logq_arm, logq_shared = self._propose(centre, shared, grid, n_prop, rng)
        index, khat, ess = psis_resample(self._log_weights(theta, logq_arm, logq_shared, data), draws, rng)
        diag = {
            "pareto_k": khat.max(axis=1), "ess_min": ess.min(axis=1),
            "converged": joint.converged & centre.converged & grid_ok,
            "tail_mass": grid.tail_mass() if grid is not None else np.zeros(n_trials),
        }
        return self._gather(theta, index), diag

    def _log_weights(self, theta, logq_arm, logq_shared, data) -> np.ndarray:
        """Log importance weights (trials, arms or 1, n): per arm when nothing is shared."""
        n_trials, n_prop = theta.shape[:2]
        lp_arm, lp_shared = self.density.logp(theta.reshape(n_trials * n_prop, -1), data, repeat=n_prop)
        lp_arm = lp_arm.reshape(n_trials, n_prop, -1)
        if len(self.density.layout.shared_cols) == 0:  # the posterior factorises over arms
            return (lp_arm - logq_arm).transpose(0, 2, 1)
        lp_shared = lp_shared.reshape(n_trials, n_prop)
        return (lp_arm.sum(-1) + lp_shared - logq_arm.sum(-1) - logq_shared)[:, None, :]

    def _grid_nodes(self, centre: Mode) -> np.ndarray:
        """Nodes (trials, arms, K) of the grid variable."""
        n_trials = centre.theta.shape[0]
        if self.grid_var == "sigma_log__":
            return np.broadcast_to(self.prior_nodes, (n_trials, self.n_arms, len(self.prior_nodes)))
        mode = centre.theta[:, self.density.layout.arm_cols[:, self.pos_u]]  # (trials, arms)
        sd = np.sqrt(pd_covariance(-centre.hessian.arm)[0][:, :, self.pos_u, self.pos_u])
        return mode[..., None] + sd[..., None] * ADAPTIVE_OFFSETS

    def _sigma_grid(self, centre: Mode, data: dict) -> tuple[SigmaGrid, np.ndarray]:
        """Conditional Laplace of every arm's other parameters at every node of the grid
        (shared parameters at the centre's values)."""
        lay = self.density.layout
        nodes = self._grid_nodes(centre)
        n_trials, n_nodes = centre.theta.shape[0], nodes.shape[-1]
        latent_cols = lay.arm_cols[:, self.pos_latent]
        theta = np.repeat(centre.theta[:, None], n_nodes, axis=1)  # (trials, K, P)
        theta[:, :, lay.arm_cols[:, self.pos_u]] = nodes.transpose(0, 2, 1)
        theta = theta.reshape(n_trials * n_nodes, -1)
        # the conditionals given the grid variable are near Gaussian: start at the centre
        sub = {name: np.repeat(v, n_nodes, axis=0) for name, v in data.items()}
        cond = newton_mode(self.density, theta, sub, latent_cols, np.array([], int))
        cross = structured_hessian(self.density, cond.theta, sub, latent_cols, lay.shared_cols).cross
        neg_h = -cond.hessian.arm  # (trials*K, arms, m, m)
        log_pi = cond.lp_arm - 0.5 * np.linalg.slogdet(neg_h)[1]  # Laplace marginal of the grid variable
        mean, chol, shift = self._node_gaussians(
            cond.theta[:, latent_cols], neg_h, cross, nodes.transpose(0, 2, 1).reshape(-1, self.n_arms)
        )
        by_node = lambda a: a.reshape(n_trials, n_nodes, *a.shape[1:]).swapaxes(1, 2)  # noqa: E731
        grid = SigmaGrid.from_nodes(nodes, by_node(log_pi), by_node(mean), by_node(chol), by_node(shift))
        return grid, cond.converged.reshape(n_trials, n_nodes).all(axis=1)

    def _shared_marginal(self, joint: Mode, data: dict) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian (mean, Cholesky) for the shared parameters' marginal posterior.

        The joint mode understates variance parameters (the arms' parameters
        sit at their mode too), so the Laplace log marginal of the shared
        parameters, log p(shared, arms*) - 1/2 log det(-H_arms), is evaluated
        on a 3^s stencil spanning +-STENCIL joint-Laplace SDs and a quadratic
        fitted to it. Where that quadratic is not concave the joint Laplace
        Gaussian is kept: a worse proposal, still corrected by the weights.
        """
        lay = self.density.layout
        n_trials, n_shared = joint.theta.shape[0], len(lay.shared_cols)
        chol0 = np.linalg.cholesky(pd_covariance(-joint.hessian.full())[0][:, -n_shared:, -n_shared:])
        offsets = STENCIL * np.array(np.meshgrid(*[[-1.0, 0.0, 1.0]] * n_shared)).reshape(n_shared, -1).T
        n_pts = len(offsets)
        theta = np.repeat(joint.theta[:, None], n_pts, axis=1)  # (trials, points, P)
        theta[:, :, lay.shared_cols] += np.einsum("tij,pj->tpi", chol0, offsets)
        theta = theta.reshape(n_trials * n_pts, -1)
        sub = {name: np.repeat(v, n_pts, axis=0) for name, v in data.items()}
        cond = newton_mode(self.density, theta, sub, lay.arm_cols, np.array([], int))
        lp_total = cond.lp_arm.sum(axis=1) + self.density.logp(cond.theta, sub)[1]
        log_marg = lp_total - 0.5 * np.linalg.slogdet(-cond.hessian.arm)[1].sum(axis=1)
        grad, hess = _quadratic_fit(offsets, log_marg.reshape(n_trials, n_pts))
        concave = np.all(np.linalg.eigvalsh(-hess) > 0, axis=-1) & cond.converged.reshape(n_trials, n_pts).all(1)
        safe = np.where(concave[:, None, None], -hess, np.eye(n_shared))
        cov_std = np.linalg.inv(safe)  # in stencil (standardised) coordinates
        mean_std = np.einsum("tij,tj->ti", cov_std, grad)
        mean = joint.theta[:, lay.shared_cols] + np.einsum("tij,tj->ti", chol0, mean_std)
        chol = chol0 @ np.linalg.cholesky(sym(cov_std))
        mean = np.where(concave[:, None], mean, joint.theta[:, lay.shared_cols])
        return mean, np.where(concave[:, None, None], chol, chol0)

    def _recentre(self, joint: Mode, shared_mean: np.ndarray, data: dict) -> Mode:
        """The arms' conditional mode and Hessian with the shared parameters at their
        marginal mean: the arms' proposals are built there, where shared draws centre."""
        lay = self.density.layout
        theta = joint.theta.copy()
        theta[:, lay.shared_cols] = shared_mean
        cond = newton_mode(self.density, theta, data, lay.arm_cols, np.array([], int))
        hess = structured_hessian(self.density, cond.theta, data, lay.arm_cols, lay.shared_cols)
        return Mode(cond.theta, cond.lp_arm, hess, cond.converged)

    def _centred_map(self, sigma: np.ndarray) -> np.ndarray:
        """Matrices M with (mu, alpha) = M (mu, z), alpha_f = mu + sigma z_f; sigma (...)."""
        m = len(self.pos_latent)
        mat = np.broadcast_to(np.eye(m), sigma.shape + (m, m)).copy()
        rows = self.z_in_latent
        mat[..., rows, rows] = sigma[..., None]
        mat[..., rows, self.mu_in_latent] = 1.0
        return mat

    def _node_gaussians(self, mode, neg_h, cross, u):
        """Node Gaussians (mean, Cholesky factor, shared shift); u (rows, arms) the nodes.

        With sigma on the grid they are expressed in centred coordinates
        (mu, alpha), which vary smoothly with sigma, so interpolating between
        nodes is accurate; z = (alpha - mu) / sigma would not be.
        """
        cov, chol = pd_covariance(neg_h)
        shift = cov @ cross  # d conditional mode / d shared = (-H)^-1 H_as
        if not self.centred:
            return mode, chol, shift
        mat = self._centred_map(np.exp(u))  # (rows, arms, m, m)
        mean = np.einsum("raij,raj->rai", mat, mode)
        chol = np.linalg.cholesky(sym(mat @ cov @ np.swapaxes(mat, -1, -2)))
        return mean, chol, mat @ shift

    # -- proposal ------------------------------------------------------------
    def _propose(self, centre: Mode, shared, grid: SigmaGrid | None, n: int, rng: TrialRandom):
        """(theta (trials, n, P), log q per arm (trials, n, arms), log q shared (trials, n)).

        centre: the arms' mode (and Hessian) given the shared parameters' centre.
        """
        lay = self.density.layout
        n_trials, n_shared = centre.theta.shape[0], len(lay.shared_cols)
        theta = np.repeat(centre.theta[:, None], n, axis=1)
        shared_dev = np.zeros((n_trials, n, n_shared))
        logq_shared = np.zeros((n_trials, n))
        if n_shared:
            mean, chol = shared
            logq_shared = single_t_draws(
                rng, theta, lay.shared_cols[None], mean[:, None], chol[:, None],
                np.zeros(chol[:, None].shape[:-1] + (0,)), np.zeros((n_trials, n, 0)), df=SHARED_DF,
            )[:, :, 0]
            shared_dev = theta[:, :, lay.shared_cols] - centre.theta[:, None, lay.shared_cols]
        if grid is None:
            logq_arm = self._propose_arms_gaussian(centre, theta, shared_dev, rng)
        else:
            logq_arm = self._propose_arms_grid(grid, theta, shared_dev, rng)
        return theta, logq_arm, logq_shared

    def _propose_arms_gaussian(self, centre: Mode, theta, shared_dev, rng):
        """Per arm: t around the conditional mode, shifted with the shared draw."""
        lay = self.density.layout
        cov, chol = pd_covariance(-centre.hessian.arm)  # conditional on the shared parameters
        shift = cov @ centre.hessian.cross  # d conditional mode / d shared
        return single_t_draws(rng, theta, lay.arm_cols, centre.theta[:, lay.arm_cols], chol, shift, shared_dev)

    def _propose_arms_grid(self, grid: SigmaGrid, theta, shared_dev, rng):
        """Per arm: the log scale from the grid density, then the rest given it."""
        lay = self.density.layout
        u, logq_u, node, weight = grid.sample(theta.shape[1], rng)  # (trials, n, arms)
        theta[:, :, lay.arm_cols[:, self.pos_u]] = u
        centred = None
        if self.centred:
            # below the grid z, not alpha, keeps the lowest node's conditional
            # (it tends to the prior as sigma -> 0): map alpha with that node's sigma
            lowest = grid.u[:, None, :, 0]
            centred = (np.maximum(u, lowest), self.mu_in_latent, self.z_in_latent)
        logq_x = fill_t_draws(
            rng, theta, lay.arm_cols[:, self.pos_latent], grid.mean, grid.chol, grid.shift, node, weight,
            shared_dev, centred=centred,
        )
        return logq_u + logq_x

    def _gather(self, theta: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Resampled rows (trials, draws, P) from index (trials, 1 or arms, draws)."""
        lay = self.density.layout
        groups = lay.arm_cols if index.shape[1] > 1 else np.arange(lay.size)[None]
        return gather_rows(theta, index, groups)
