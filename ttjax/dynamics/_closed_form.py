"""MSE + GD in closed form, in Θ's eigenbasis (paper Prop. 2, eq. 4).

With our mean-½ MSE, ``L(f) = (1/2N) ‖f − Y‖²`` and ``∇_f L = (f − Y)/N``, so the
residual δ_t = f_t − Y of gradient flow obeys ``dδ/dt = −η̃(t) Θ δ / N``. With
Θ = Σ_k λ_k v_k v_kᵀ and S(t) = ∫_0^t s(u) du (the schedule),

.. math::

    δ_t = \\sum_k e^{-η̃ λ_k S(t) / N}\\, (v_k^\\top δ_0)\\, v_k, \\qquad
    L_t = \\frac{1}{2N} \\sum_k p_k\\, e^{-2 η̃ λ_k S(t) / N}, \\quad p_k = (v_k^\\top δ_0)^2.

(The paper's form ``Σ_k p_k e^{−2η̃λ_k t}`` absorbs the 1/N into η̃ and 1/2N into p_k.)
The discrete map ``δ_{t+1} = (I − η̃ s(t) Θ/N) δ_t`` replaces the exponential by
``Π_{u<t} (1 − η̃ s(u) λ_k / N)``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._schedule import Schedule


def mse_decay(
    eigvals: Float[Array, " K"],
    lr: Float[Array, ""],
    *,
    steps: int,
    n: int,
    schedule: Schedule,
    discrete: bool,
) -> Float[Array, "T1 K"]:
    """Per-eigendirection decay of the residual at t = 0..T (T + 1 rows)."""
    dtype = eigvals.dtype
    if discrete:
        s = schedule.factor(jnp.arange(steps, dtype=dtype), total_steps=steps)
        per_step = 1.0 - lr * s[:, None] * eigvals[None, :] / n  # [T, K]
        ones = jnp.ones((1, eigvals.shape[0]), dtype)
        return jnp.concatenate([ones, jnp.cumprod(per_step, axis=0)], axis=0)
    big_s = schedule.integral(jnp.arange(steps + 1, dtype=dtype), total_steps=steps)
    return jnp.exp(-lr * big_s[:, None] * eigvals[None, :] / n)


def mse_outputs(
    eigvals: Float[Array, " NC"],
    eigvecs: Float[Array, "NC NC"],
    f0: Float[Array, "N C"],
    labels: Int[Array, " N"],
    lr: Float[Array, ""],
    *,
    steps: int,
    schedule: Schedule,
    discrete: bool,
) -> Float[Array, "T1 N C"]:
    """Outputs f_t on the training set for t = 0..T (GD on the mean-½ MSE)."""
    n, c = f0.shape
    y = jnp.eye(c, dtype=f0.dtype)[labels]
    coef = eigvecs.T @ (f0 - y).reshape(-1)  # v_kᵀ δ_0
    decay = mse_decay(eigvals, lr, steps=steps, n=n, schedule=schedule, discrete=discrete)
    delta = (decay * coef[None, :]) @ eigvecs.T  # [T1, NC]
    return y[None] + delta.reshape(steps + 1, n, c)


def mse_loss_curve(
    eigvals: Float[Array, " NC"],
    proj: Float[Array, " NC"],
    lr: float,
    *,
    steps: int,
    n: int,
    schedule: Schedule | None = None,
    discrete: bool = False,
) -> Float[Array, " T1"]:
    """The loss formula L_t = (1/2N) Σ_k p_k decay_k(t)² with p_k = (v_kᵀ δ_0)².

    Example:
        >>> import jax.numpy as jnp
        >>> curve = mse_loss_curve(jnp.array([2.0]), jnp.array([1.0]), 1.0, steps=1, n=1)
        >>> [round(float(v), 4) for v in curve]
        [0.5, 0.0092]
    """
    decay = mse_decay(
        eigvals,
        jnp.asarray(lr, eigvals.dtype),
        steps=steps,
        n=n,
        schedule=schedule or Schedule(),
        discrete=discrete,
    )
    return jnp.sum(proj[None, :] * decay**2, axis=-1) / (2 * n)
