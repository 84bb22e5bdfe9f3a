"""``simulate``: one jit-compiled solve of the function-space dynamics, M paths vmapped.

The solver is chosen statically from the loss, the optimiser and the config:

* MSE + GD (effective-lr momentum): the closed form in Θ's eigenbasis (exact);
* GD, continuous time: the diffrax ODE;
* otherwise (SGD, or the discrete map, or exact momentum): the ``lax.scan`` of
  :mod:`._scan`, vmapped over M paths (``fold_in(key, path)``).

The hyper-parameter values (lr, momentum, batch size) enter as traced arrays, so a new
value reuses the compiled solve; :func:`simulate_grid` vmaps the same solve over a grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Real

from .. import losses
from .._config import Hyperparams, Loss, Optimizer
from .._errors import ConfigError
from .._fields import check_key
from ._closed_form import mse_outputs
from ._config import (
    DEFAULT_DYNAMICS,
    DriftModel,
    DynamicsConfig,
    MomentumMode,
    NoiseModel,
    TimeMode,
    with_schedule_of,
)
from ._drift import EDGE_MARGIN, kernel_scale_schedule
from ._limits import check_stability, max_stable_lr, stable_lr
from ._ode import solve_gd_ode
from ._problem import Problem
from ._scan import Knobs, scan_path
from ._trajectories import Method, Trajectories


def choose_method(
    *, loss: Loss, stochastic: bool, config: DynamicsConfig, drift: bool = False
) -> Method:
    """The solver for a (loss, optimiser, config) combination (``drift``: a drifting kernel)."""
    exact = config.momentum is MomentumMode.EXACT
    if not stochastic and not exact and not drift:
        if loss is Loss.MSE and config.mse_closed_form:
            return Method.CLOSED_FORM
        if config.time is TimeMode.CONTINUOUS:
            return Method.ODE
    return Method.SCAN


class _Arrays(NamedTuple):
    theta: Array
    f0: Array
    labels: Array
    factor: Array | None
    eigvals: Array | None
    eigvecs: Array | None


class _Static(NamedTuple):
    loss: Loss
    steps: int
    config: DynamicsConfig
    paths: int
    method: Method
    stochastic: bool
    save_at: tuple[int, ...] = ()


def _solve(arrays: _Arrays, knobs: Knobs, key: Array, static: _Static):
    loss, steps, config = static.loss, static.steps, static.config
    if static.method is Method.SCAN:

        def one(i):
            return scan_path(
                jax.random.fold_in(key, i),
                arrays.theta,
                arrays.f0,
                arrays.labels,
                arrays.factor,
                knobs,
                loss=loss,
                steps=steps,
                config=config,
                stochastic=static.stochastic,
                save_at=static.save_at,
            )

        return jax.vmap(one)(jnp.arange(static.paths))
    if static.method is Method.CLOSED_FORM:
        assert arrays.eigvals is not None and arrays.eigvecs is not None
        fs = mse_outputs(
            arrays.eigvals,
            arrays.eigvecs,
            arrays.f0,
            arrays.labels,
            knobs.lr,
            steps=steps,
            schedule=config.schedule,
            discrete=config.time is TimeMode.DISCRETE,
        )
    else:
        fs = solve_gd_ode(
            arrays.theta, arrays.f0, arrays.labels, knobs.lr, loss=loss, steps=steps, config=config
        )
    labels = jnp.broadcast_to(arrays.labels, fs.shape[:2])
    return (
        losses.mean_loss(fs, labels, loss=loss)[None],
        losses.error_rate(fs, labels)[None],
        fs[jnp.asarray(static.save_at, jnp.int32)][None],
        knobs.kernel_scale[None],
    )


_solve_one = jax.jit(_solve, static_argnums=(3,))
_solve_grid = jax.jit(jax.vmap(_solve, in_axes=(None, 0, None, None)), static_argnums=(3,))


def compile_count() -> int:
    """How many solves have been compiled so far (single + grid); for tests/benchmarks."""
    sizes = (getattr(f, "_cache_size")() for f in (_solve_one, _solve_grid))  # noqa: B009
    return int(sum(sizes))


def _prepare(
    problem: Problem, *, stochastic: bool, method: Method, config: DynamicsConfig
) -> _Arrays:
    needs_factor = stochastic and config.noise_model in (NoiseModel.DIAGONAL, NoiseModel.CONSTANT)
    eig = problem.eigh if method is Method.CLOSED_FORM else (None, None)
    return _Arrays(
        problem.theta,
        problem.f0,
        problem.labels,
        problem.noise_factor if needs_factor else None,
        *eig,
    )


def _knobs(
    lr, momentum, batch_size, kappa, *, config: DynamicsConfig, dtype, align=(0.0, 0.0, 0.0, 0.0)
) -> Knobs:
    """The traced knobs; ``align`` = (R_ref, K, lowest κ, highest κ) of ``DriftModel.ALIGNED``."""
    lr = np.asarray(lr, np.float64)
    momentum = np.asarray(momentum, np.float64)
    rate = lr if config.momentum is MomentumMode.EXACT else lr / (1.0 - momentum)
    return Knobs(
        lr=jnp.asarray(rate, dtype),
        momentum=jnp.asarray(momentum, dtype),
        batch_size=jnp.asarray(batch_size, dtype),
        kernel_scale=jnp.asarray(kappa, dtype),
        align_ref=jnp.broadcast_to(jnp.asarray(align[0], dtype), rate.shape),
        align_from=jnp.broadcast_to(jnp.asarray(align[1], dtype), rate.shape),
        scale_bounds=jnp.broadcast_to(jnp.asarray(align[2:], dtype), (*rate.shape, 2)),
    )


def simulate(
    problem: Problem,
    hparams: Hyperparams,
    *,
    config: DynamicsConfig = DEFAULT_DYNAMICS,
    paths: int = 1,
    key: Array | None = None,
    kernel_scale: Sequence[float] | np.ndarray | None = None,
    save_outputs: Sequence[int] | None = None,
    rate_reference: float | None = None,
) -> Trajectories:
    """Predict the training curves of the linearised model (paper eq. 1, §3–4).

    GD: ``df/dt = −η̃ s(t) Θ ∇_f L(f)`` (or its discrete map); SGD adds the noise of
    ``config.noise_model`` scaled by ``η̃ √((N−|B|)/((N−1)|B|))``. Momentum enters as
    η̃ = η/(1−m) unless ``config.momentum`` is ``EXACT``. Deterministic dynamics return
    one path whatever ``paths`` is.

    Args:
        problem: Θ, f0, labels and loss (:class:`Problem`); ``problem.loss`` must equal
            ``hparams.loss``.
        hparams: optimiser, lr, momentum, batch size, steps T.
        config: static choices (:class:`DynamicsConfig`).
        paths: M Monte-Carlo paths (SGD).
        key: PRNG key (required for SGD).
        kernel_scale: observed κ_k = tr Θ(w_k) / tr Θ(w₀) after real steps k = 1..K
            (:func:`ttjax.train.observe_steps`); with ``DriftModel.OBSERVED`` the kernel
            follows them (:func:`kernel_scale_schedule`). None: a fixed kernel.
        save_outputs: steps t whose outputs f_t the trajectories keep.
        rate_reference: R_ref = g_Kᵀ Θ₀ g_K / ‖g_K‖² of the real loss gradient after the
            last observed step K (:meth:`ttjax.train.Observation.rate_reference`); with
            ``DriftModel.ALIGNED`` the kernel scale is multiplied by (R_ref / R₀(r_t))^γ from
            step K on (:class:`DriftModel`); ``Trajectories.kernel_scale`` is then the median
            over paths of the κ_t used. Ignored by the other drift models.

    Raises:
        StabilityError: the discrete map diverges at this lr (message gives the limit).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax._config import Hyperparams, Loss, Optimizer
        >>> x = jax.random.normal(jax.random.key(0), (8, 16))
        >>> theta = jnp.kron(x @ x.T, jnp.eye(2))  # N = 8, C = 2
        >>> p = Problem(theta, jnp.zeros((8, 2)), jnp.arange(8) % 2, loss=Loss.CE)
        >>> hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.1, batch_size=4, steps=20)
        >>> tr = simulate(p, hp, paths=16, key=jax.random.key(1))
        >>> tr.loss.shape
        (16, 21)
    """
    if problem.loss is not hparams.loss:
        raise ConfigError(
            f"the problem was built for loss={problem.loss.value} but hparams.loss="
            f"{hparams.loss.value}; build the Problem with loss=hparams.loss."
        )
    config = with_schedule_of(config, hparams.schedule)  # η̃_t = η̃ · s(t), the run's schedule
    bsz = hparams.resolved_batch_size(problem.n)
    stochastic = hparams.optimizer is Optimizer.SGD and bsz < problem.n
    if stochastic and key is None:
        raise ConfigError("SGD dynamics are random: pass key=jax.random.key(seed).")
    if key is not None:
        check_key(key)
    if paths < 1:
        raise ConfigError(f"paths must be ≥ 1, got {paths}.")
    curv = problem.curvature
    limit = check_stability(problem, hparams, config=config)
    # Hold κ below the edge, but never below the fixed kernel (κ = 1 is stable: lr < limit).
    cap = max(EDGE_MARGIN * limit / hparams.lr, 1.0) if hparams.lr > 0 else float("inf")
    kappa = kernel_scale_schedule(kernel_scale, steps=hparams.steps, cap=cap, config=config)
    drift = bool(np.any(kappa != 1.0))
    align = (0.0, 0.0, 0.0, 0.0)
    aligned = config.drift is DriftModel.ALIGNED and kernel_scale is not None
    if aligned and rate_reference is not None:
        if not (np.isfinite(rate_reference) and rate_reference > 0):
            raise ConfigError(f"rate_reference must be finite and > 0, got {rate_reference}.")
        if config.drift_alignment is None:
            raise ConfigError(
                "drift_alignment=None (fit γ to the observed steps) is resolved by predict; "
                "pass a number to simulate (ttjax.dynamics.fit_alignment gives the fitted one)."
            )
        lo, hi = config.drift_bounds
        k_obs = min(len(np.asarray(kernel_scale)), hparams.steps - 1)
        align = (float(rate_reference), float(k_obs), lo, max(min(hi, cap), lo))
        drift = True
    method = choose_method(loss=hparams.loss, stochastic=stochastic, config=config, drift=drift)
    arrays = _prepare(problem, stochastic=stochastic, method=method, config=config)
    save_at = tuple(int(t) for t in (save_outputs or ()))
    if any(t < 0 or t > hparams.steps for t in save_at):
        raise ConfigError(f"save_outputs steps must lie in 0..{hparams.steps}, got {save_at}.")
    static = _Static(
        hparams.loss,
        hparams.steps,
        config,
        paths if stochastic else 1,
        method,
        stochastic,
        save_at,
    )
    knobs = _knobs(hparams.lr, hparams.momentum, bsz, kappa, config=config,
                   dtype=problem.f0.dtype, align=align)  # fmt: skip
    loss_c, err_c, out_c, kappa_c = _solve_one(
        arrays, knobs, key if key is not None else jax.random.key(0), static
    )
    return Trajectories(
        loss=np.asarray(loss_c),
        error=np.asarray(err_c),
        method=method,
        lambda_max=float(curv.lambda_max),
        curvature=float(curv.curvature),
        max_stable_lr=limit,
        kernel_scale=np.median(np.asarray(kappa_c), axis=0) if align[0] > 0 else kappa,
        scale_cap=cap if drift else float("inf"),
        drift=drift,
        outputs=np.asarray(out_c) if save_at else None,
        output_steps=save_at,
    )


class GridResult(NamedTuple):
    """Curves of every grid setting: ``loss``/``error`` ``[G, M, T+1]``, ``stable`` ``[G]``."""

    loss: np.ndarray
    error: np.ndarray
    stable: np.ndarray
    max_stable_lr: np.ndarray
    method: Method


def simulate_grid(
    problem: Problem,
    *,
    optimizer: Optimizer,
    lrs: Float[np.ndarray, " G"],
    momenta: Float[np.ndarray, " G"],
    batch_sizes: Real[np.ndarray, " G"],
    steps: int,
    config: DynamicsConfig = DEFAULT_DYNAMICS,
    paths: int = 1,
    key: Array,
) -> GridResult:
    """:func:`simulate` for G settings at once, one compiled solve vmapped over the grid.

    Settings past the stability limit are simulated anyway (their curves may hold
    NaN/inf) and flagged in ``stable``; the same paths' keys are shared by all settings
    (common random numbers make settings comparable). A grid of another size G compiles
    once more; new values never do.

    Example:
        >>> import jax, jax.numpy as jnp, numpy as np
        >>> p = Problem(jnp.eye(6), jnp.zeros((3, 2)), jnp.array([0, 1, 0]), loss=Loss.MSE)
        >>> g = simulate_grid(p, optimizer=Optimizer.GD, lrs=np.array([0.5, 1.0]),
        ...                   momenta=np.zeros(2), batch_sizes=np.full(2, 3.0), steps=5,
        ...                   key=jax.random.key(0))
        >>> g.loss.shape, g.stable.tolist()
        ((2, 1, 6), [True, True])
    """
    lrs, momenta = np.asarray(lrs, np.float64), np.asarray(momenta, np.float64)
    bs = np.minimum(np.asarray(batch_sizes, np.float64), problem.n)
    if optimizer is Optimizer.GD:
        bs = np.full_like(lrs, float(problem.n))
    if not (lrs.shape == momenta.shape == bs.shape and lrs.ndim == 1):
        raise ConfigError("lrs, momenta and batch_sizes must be 1-D arrays of the same length.")
    stochastic = optimizer is Optimizer.SGD and bool(np.any(bs < problem.n))
    loss = problem.loss
    method = choose_method(loss=loss, stochastic=stochastic, config=config)
    arrays = _prepare(problem, stochastic=stochastic, method=method, config=config)
    static = _Static(loss, steps, config, paths if stochastic else 1, method, stochastic)
    limits = np.array([stable_lr(problem, float(m), config) for m in momenta])
    kappa = np.ones((len(lrs), steps))  # a grid shares one Θ and no observations
    knobs = _knobs(lrs, momenta, bs, kappa, config=config, dtype=problem.f0.dtype)
    loss_c, err_c, _, _ = _solve_grid(arrays, knobs, key, static)
    return GridResult(
        loss=np.asarray(loss_c),
        error=np.asarray(err_c),
        stable=lrs < limits,
        max_stable_lr=limits,
        method=method,
    )


__all__ = [
    "GridResult",
    "Method",
    "Trajectories",
    "check_stability",
    "compile_count",
    "kernel_scale_schedule",
    "max_stable_lr",
    "simulate",
    "simulate_grid",
]
