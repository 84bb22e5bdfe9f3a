"""The largest stable learning rate of the linearised model, and the check that refuses past it."""

from __future__ import annotations

import numpy as np

from .._config import Hyperparams, Optimizer
from .._errors import StabilityError
from .._types import PRNGKey
from ._batch_sharpness import batch_sharpness
from ._config import DEFAULT_DYNAMICS, DynamicsConfig, MomentumMode, TimeMode
from ._problem import Problem
from ._stability import lr_limit


def stable_lr(problem: Problem, momentum: float, config: DynamicsConfig) -> float:
    """η_max for momentum m under ``config``'s momentum model (see :func:`max_stable_lr`)."""
    curv = float(problem.curvature.curvature)
    exact = config.momentum is MomentumMode.EXACT
    return lr_limit(curv, momentum=momentum, exact_momentum=exact)


def max_stable_lr(
    problem: Problem, hparams: Hyperparams, *, config: DynamicsConfig = DEFAULT_DYNAMICS
) -> float:
    """The largest base learning rate η at which discrete (S)GD on the linearised model is stable.

    ``η_max = 2(1 − m) / λ_max(Θ H(f0))`` with effective-lr momentum, ``2(1 + m) / λ_max(Θ H)``
    with exact heavy ball (:mod:`ttjax.dynamics._stability`); ``inf`` when Θ H = 0. Only
    ``hparams.momentum`` is read. Real (discrete) training diverges past it; the continuous
    gradient flow is stable at any η.

    Example:
        >>> import jax.numpy as jnp
        >>> from ttjax._config import Loss
        >>> p = Problem(4.0 * jnp.eye(4), jnp.zeros((2, 2)), jnp.array([0, 1]), loss=Loss.MSE)
        >>> round(max_stable_lr(p, Hyperparams(lr=0.1)), 6)   # λ_max(ΘH) = 4/N = 2
        1.0
    """
    return stable_lr(problem, hparams.momentum, config)


def check_stability(
    problem: Problem, hparams: Hyperparams, *, config: DynamicsConfig = DEFAULT_DYNAMICS
) -> float:
    """The largest stable lr (:func:`max_stable_lr`); raises if ``hparams.lr`` is past it.

    Discrete time: ``StabilityError`` when η ≥ η_max (the linear model diverges). Continuous
    time: the flow is stable at any η, so nothing is raised for that; only an Euler–Maruyama
    SDE whose sub-step η̃ λ_max(ΘH) / s reaches 2 is refused (raise ``sde_substeps``).
    Nothing is raised when ``config.check_stability`` is False.
    """
    limit = stable_lr(problem, hparams.momentum, config)
    if not config.check_stability:
        return limit
    lam = float(problem.curvature.lambda_max)
    if config.time is TimeMode.DISCRETE and hparams.lr >= limit:
        raise StabilityError(
            f"lr={hparams.lr:g} (momentum {hparams.momentum:g}) is past the stability limit of "
            f"the linearised model: η̃·λ_max(ΘH) = {hparams.lr / limit * 2:.3g} ≥ 2 "
            f"(λ_max(Θ) = {lam:.4g}), so (S)GD would diverge. Use --lr < {limit:.4g}."
        )
    stochastic = (
        hparams.optimizer is Optimizer.SGD and hparams.resolved_batch_size(problem.n) < problem.n
    )
    if config.time is TimeMode.CONTINUOUS and stochastic:
        ratio = hparams.lr / limit * 2 / config.sde_substeps
        if ratio >= 2:
            need = int(np.ceil(hparams.lr / limit)) + 1
            raise StabilityError(
                f"the Euler–Maruyama sub-step is unstable at lr={hparams.lr:g}: "
                f"η̃·λ_max(ΘH)/sde_substeps = {ratio:.3g} ≥ 2 (the flow itself is stable). "
                f"Use DynamicsConfig(sde_substeps={need}) or more."
            )
    return limit


def batch_edge_ratio(
    problem: Problem,
    hparams: Hyperparams,
    *,
    key: PRNGKey,
    config: DynamicsConfig = DEFAULT_DYNAMICS,
) -> float | None:
    """η / η_max(S_B): how far SGD's mini-batch steps are toward their stability edge.

    ``S_B`` is the batch sharpness (:func:`ttjax.dynamics._batch_sharpness.batch_sharpness`)
    and η_max(S) the same limit as :func:`max_stable_lr` with S in place of λ_max(ΘH): a
    ratio ≥ 1 means the average batch step is unstable at f₀ (the run will spike before it
    settles). ``None`` for full-batch runs (GD, or a batch ≥ N), where
    :func:`max_stable_lr` is the whole story.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax._config import Loss
        >>> p = Problem(4.0 * jnp.eye(8), jnp.zeros((4, 2)), jnp.array([0, 1, 0, 1]),
        ...             loss=Loss.MSE)
        >>> hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.5, batch_size=2)
        >>> round(batch_edge_ratio(p, hp, key=jax.random.key(0)), 4)  # S_B = 2, limit 1
        0.5
    """
    b = hparams.resolved_batch_size(problem.n)
    if hparams.optimizer is not Optimizer.SGD or b >= problem.n:
        return None
    s = float(batch_sharpness(problem.theta, problem.f0, loss=problem.loss, batch_size=b, key=key))
    exact = config.momentum is MomentumMode.EXACT
    return float(hparams.lr / lr_limit(s, momentum=hparams.momentum, exact_momentum=exact))


__all__ = ["batch_edge_ratio", "check_stability", "max_stable_lr"]
