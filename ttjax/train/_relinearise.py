"""Re-linearising with the *whole* kernel at points of the predicted trajectory (issue 10, 3b).

The drift models rescale Θ₀ by one number κ_t; the kernel also changes shape (18–100% of
‖Θ₀‖ by step 10, :func:`ttjax.kernel_drift`). This evaluation asks what a full new kernel
buys: the linear model runs from w₀ with Θ₀ up to the first stage step t₁; the real network's
weights are moved as those linear steps would move them (the walk's update,
:func:`ttjax.train.walk_predicted_path`, step 3: w ← w + J(w)ᵀ Σ cᵢ gᵢ, heavy-ball velocity
carried in weight space); Θ is rebuilt at those weights, Θ₁ = Θ(w_{t₁}), and the linear model
goes on with it to t₂, and so on:

.. math::

    u_{i+1} = m u_i - \\eta_i \\Theta_j \\nabla_f L(f_i), \\quad f_{i+1} = f_i + u_{i+1},
    \\qquad t_j \\le i < t_{j+1}.

At each stage the outputs either carry on from the linear model's (``continuous``) or restart
from the real network's f(w_{t_j}) (``continuous=False``: the jump between the two is how far
the linearisation has left the network by then). Each stage costs one Θ plus one
vector–Jacobian product and one forward pass. SGD follows its mean (GD) path.

Oracles (tests): a network linear in its weights gives the linear model exactly, in both
modes; restarting from the real outputs with the exact Θ at every step *is* real full-batch
gradient descent (heavy ball included).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .. import losses as _losses
from .._config import Hyperparams
from .._errors import ConfigError
from .._jsonable import jsonable
from .._types import PyTree
from ._path import _linear_segment, heavy_ball_move, stacked_vjp

Kernel = Callable[[PyTree], Float[Array | np.ndarray, "NC NC"]]
"""``kernel(params) -> Θ(params)`` ``[N·C, N·C]``, example-major (e.g.
:func:`ttjax.predict.task_ntk` of the model with ``params``, same engine and key as Θ₀)."""


@dataclasses.dataclass(frozen=True)
class Relinearised:
    """The linear model re-linearised with a full Θ at ``steps`` (module docstring).

    Attributes:
        loss: the predicted full-set loss L_0 … L_T, ``[T + 1]``.
        steps: the stage steps t_j at which Θ was rebuilt.
        trace_ratio: tr Θ(w_{t_j}) / tr Θ₀ at each stage.
        real_loss: the real network's loss at the moved weights w_{t_j} (what ``continuous=False``
            restarts from).
        linear_loss: the linear model's loss at t_j, before the restart.
        seconds: wall-clock, Θ rebuilds included.
    """

    loss: np.ndarray
    steps: tuple[int, ...]
    trace_ratio: tuple[float, ...]
    real_loss: tuple[float, ...]
    linear_loss: tuple[float, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (a non-finite value — a stage past the stability edge that blew
        up — is written null, never NaN or Infinity)."""
        return jsonable(
            {
                "loss": self.loss,
                "steps": self.steps,
                "trace_ratio": self.trace_ratio,
                "real_loss": self.real_loss,
                "linear_loss": self.linear_loss,
                "seconds": self.seconds,
            }
        )


def relinearised_path(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    y: jax.Array,
    theta: Float[Array | np.ndarray, "NC NC"],
    hparams: Hyperparams,
    *,
    steps: Sequence[int],
    kernel: Kernel,
    continuous: bool = True,
) -> Relinearised:
    """The predicted loss curve with Θ rebuilt at the predicted weights of ``steps``.

    Args:
        apply_fn: ``f(params, x) -> [N, C]`` logits; params: w₀.
        x: the (preprocessed) training inputs; y: labels ``[N]``.
        theta: Θ₀ ``[N·C, N·C]`` (example-major).
        hparams: the run (lr schedule, momentum, T, loss; SGD follows the mean path).
        steps: the stage steps 0 < t₁ < t₂ < … < T at which Θ is rebuilt.
        kernel: ``kernel(params) -> Θ`` at other weights (same engine as Θ₀).
        continuous: carry the linear outputs on at each stage (else restart from the real ones).

    Raises:
        ConfigError: stage steps not strictly increasing inside (0, T), or Θ of the wrong size.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> f = lambda w, x: x @ w                        # linear in w: Θ never changes
        >>> x = jax.random.normal(jax.random.key(0), (6, 3))
        >>> th = jnp.kron(x @ x.T, jnp.eye(2))
        >>> r = relinearised_path(f, jnp.zeros((3, 2)), x, jnp.arange(6) % 2, th,
        ...                       Hyperparams(lr=0.05, steps=20), steps=(5, 10),
        ...                       kernel=lambda w: th)
        >>> r.loss.shape, r.trace_ratio
        ((21,), (1.0, 1.0))
    """
    start = time.perf_counter()
    T, m, loss = hparams.steps, float(hparams.momentum), hparams.loss
    stages = [int(s) for s in steps]
    if any(b <= a for a, b in zip([0, *stages], [*stages, T], strict=True)):
        raise ConfigError(
            f"re-linearisation steps must increase strictly inside (0, T = {T}), got {stages}."
        )
    n = int(y.shape[0])
    th0 = jnp.asarray(theta, jnp.float32)
    if th0.ndim != 2 or th0.shape[0] != th0.shape[1] or th0.shape[0] % n:
        raise ConfigError(f"Θ is {tuple(th0.shape)}, not N·C × N·C for N = {n}.")

    move = stacked_vjp(apply_fn, x)
    lrs = np.asarray(hparams.learning_rate(jnp.arange(T, dtype=jnp.float32)), np.float32)
    p = jax.tree_util.tree_map(jnp.asarray, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    f = apply_fn(p, x)
    u, th = jnp.zeros_like(f), th0
    curve = [float(_losses.mean_loss(f, y, loss=loss))]
    ratios, real, linear = [], [], []
    for a, b in zip([0, *stages], [*stages, T], strict=True):
        seg = lrs[a:b]
        f, u, gs, ls = _linear_segment(
            f, u, th, jnp.asarray(seg), jnp.ones(b - a, bool), jnp.float32(1.0),
            jnp.float32(m), y, loss=loss,
        )  # fmt: skip
        curve += np.asarray(ls, np.float64).tolist()
        if b == T:
            break
        p, v = heavy_ball_move(p, v, gs, seg, b - a, m, move)
        f_real = apply_fn(p, x)
        real.append(float(_losses.mean_loss(f_real, y, loss=loss)))
        linear.append(curve[-1])
        if not continuous:
            f, curve[-1] = f_real, real[-1]
        th = jnp.asarray(kernel(p), jnp.float32)
        ratios.append(float(jnp.trace(th) / jnp.trace(th0)))
    return Relinearised(
        loss=np.asarray(curve),
        steps=tuple(stages),
        trace_ratio=tuple(ratios),
        real_loss=tuple(real),
        linear_loss=tuple(linear),
        seconds=time.perf_counter() - start,
    )
