"""Step-by-step dynamics as a ``lax.scan``: the discrete map and Euler–Maruyama SDE.

One optimisation step ``t → t + 1`` is split into ``s`` sub-steps of length ``dt = 1/s``
(``s = 1``: the discrete map; ``s > 1``: Euler–Maruyama for the continuous SDE). A
sub-step moves the outputs by ``f ← f − η̃ s(t) d`` where the direction d is, with
``r_i = ∂ℓ_i/∂f_i`` and the noise scale ``σ = √((N − |B|) / ((N − 1)|B|))`` (mini-batch
mean of |B| distinct examples; σ = 0 at |B| = N):

* GD: ``d = dt · Θ r / N`` (= dt · Θ ∇_f L).
* ``DIAGONAL``/``CONSTANT``: ``d = dt · Θ r / N + σ √dt · ρ_t · A ξ``, ξ ~ N(0, I),
  A Aᵀ = F diag(Σ₀) Fᵀ, ρ_t = ‖∇_f L(f_t)‖ / ‖∇_f L(f_0)‖ (1 for CONSTANT).
* ``FUNCTION_SPACE``: ``d = Θ (r ⊙ w)``, ``w_i = dt / N + σ √dt (ξ_i − ξ̄) / √N``,
  ξ ~ N(0, I_N): its noise has covariance ``σ² dt · J Σ_t Jᵀ`` with Σ_t the exact
  per-example gradient covariance of the linear model at f_t (one Θ product).
* ``MINIBATCH``: ``d = Θ (m ⊙ r) / |B|`` with m the indicator of |B| distinct
  examples drawn uniformly (the linear model's SGD itself).

Exact momentum replaces the update by ``v ← m v + κ_t d``, ``f ← f − η s(t) v``: the kernel
scale multiplies the gradient as it enters the velocity (the kernel of the step that took it;
rescaling the whole velocity by the current κ_t instead pumps a heavy ball near the edge when
κ_t varies from step to step, as ``DriftModel.ALIGNED``'s does).
Each path's randomness is ``fold_in(path_key, sub-step index)``. A drifting kernel
Θ_t = κ_t Θ₀ multiplies the direction d of step t by κ_t (``Knobs.kernel_scale``). With
``DriftModel.ALIGNED`` and a reference rate R_ref > 0 (``Knobs.align_ref``), κ_t is
multiplied from step K on (``Knobs.align_from``) by ``(R_ref / R₀(r))^γ``, R₀(r) = rᵀΘ₀r/‖r‖²
of the path's current full-set residual, and the product clipped to ``Knobs.scale_bounds``
(one more Θ product per sub-step for the ``MINIBATCH`` and ``FUNCTION_SPACE`` noise models;
free otherwise: the update computes Θr anyway).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .. import losses
from .._config import Loss
from ._config import DriftModel, DynamicsConfig, MomentumMode, NoiseModel, TimeMode
from ._noise import residuals


class Knobs(NamedTuple):
    """Traced hyper-parameter values of one solve (changing them never recompiles).

    Attributes:
        lr: the rate multiplying the updates: η̃ = η/(1−m) (effective-lr momentum) or η
            (exact momentum).
        momentum: m (used by exact momentum only).
        batch_size: |B| as a float (N means no noise).
        kernel_scale: κ_t of each step t = 0..T−1 (Θ_t = κ_t Θ₀; ones for a fixed kernel).
        align_ref: R_ref of ``DriftModel.ALIGNED`` (0: no alignment factor).
        align_from: the first step t the alignment factor applies to (K).
        scale_bounds: (lowest, highest) κ_t once the alignment factor is applied.
    """

    lr: Float[Array, ""]
    momentum: Float[Array, ""]
    batch_size: Float[Array, ""]
    kernel_scale: Float[Array, " T"]
    align_ref: Float[Array, ""]
    align_from: Float[Array, ""]
    scale_bounds: Float[Array, " 2"]


def substeps(config: DynamicsConfig) -> int:
    """Sub-steps per optimisation step of the scan."""
    if config.time is TimeMode.DISCRETE or config.noise_model is NoiseModel.MINIBATCH:
        return 1
    return config.sde_substeps


def scan_path(
    key: Array,
    theta: Float[Array, "NC NC"],
    f0: Float[Array, "N C"],
    labels: Int[Array, " N"],
    factor: Float[Array, "NC R"] | None,
    knobs: Knobs,
    *,
    loss: Loss,
    steps: int,
    config: DynamicsConfig,
    stochastic: bool,
    save_at: tuple[int, ...] = (),
) -> tuple[Float[Array, " T1"], Float[Array, " T1"], Float[Array, "S N C"], Float[Array, " T"]]:
    """Loss and error curves (t = 0..T) of one path (call inside ``jit``/``vmap``).

    Also the outputs f_t at the steps ``save_at`` (``[len(save_at), N, C]``) and the kernel
    scale κ_t each step used (its last sub-step's; the schedule's unless aligned).
    """
    n, c = f0.shape
    dtype = f0.dtype
    s = substeps(config)
    dt = 1.0 / s
    noise = config.noise_model
    exact_momentum = config.momentum is MomentumMode.EXACT
    bsz = knobs.batch_size
    sigma = jnp.sqrt(jnp.clip((n - bsz) / ((n - 1.0) * bsz), 0.0)) if n > 1 else 0.0
    g0 = jnp.linalg.norm(residuals(f0, labels, loss=loss))
    aligned = config.drift is DriftModel.ALIGNED
    tiny = jnp.finfo(dtype).tiny
    gamma = 0.0 if config.drift_alignment is None else config.drift_alignment

    def direction(f, k):
        """The update direction d and R₀(r) of the current residual (1 unless aligned)."""
        r = residuals(f, labels, loss=loss)
        rv = r.reshape(-1)
        theta_r = theta @ rv  # traced only where used: XLA drops it otherwise
        rayleigh = (rv @ theta_r) / jnp.maximum(rv @ rv, tiny) if aligned else jnp.ones((), dtype)
        if not stochastic:
            return dt * theta_r / n, rayleigh
        if noise is NoiseModel.MINIBATCH:
            u = jax.random.uniform(k, (n,), dtype)
            mask = (jnp.argsort(jnp.argsort(u)) < bsz).astype(dtype)
            return theta @ (r * mask[:, None]).reshape(-1) / bsz, rayleigh
        if noise is NoiseModel.FUNCTION_SPACE:
            xi = jax.random.normal(k, (n,), dtype)
            w = dt / n + sigma * jnp.sqrt(dt) * (xi - jnp.mean(xi)) / jnp.sqrt(n)
            return theta @ (r * w[:, None]).reshape(-1), rayleigh
        assert factor is not None
        xi = jax.random.normal(k, (factor.shape[1],), dtype)
        scale = sigma * jnp.sqrt(dt)
        if noise is NoiseModel.DIAGONAL:
            scale = scale * jnp.linalg.norm(r) / jnp.maximum(g0, tiny)
        return dt * theta_r / n + scale * (factor @ xi), rayleigh

    def kernel_scale(u, rayleigh):
        """κ_t of step u: the schedule's, times the alignment factor from step K on."""
        kappa = knobs.kernel_scale[u]
        if not aligned:
            return kappa
        on = (u >= knobs.align_from) & (knobs.align_ref > 0)
        ratio = jnp.where(on, knobs.align_ref / jnp.maximum(rayleigh, tiny), 1.0)
        factor_t = jnp.power(ratio, gamma)
        lo, hi = knobs.scale_bounds[0], knobs.scale_bounds[1]
        return jnp.where(on, jnp.clip(kappa * factor_t, lo, hi), kappa)

    def metrics(f):
        return losses.mean_loss(f, labels, loss=loss), losses.error_rate(f, labels)

    slot_of = np.full(steps + 1, -1, np.int32)
    slot_of[list(save_at)] = np.arange(len(save_at), dtype=np.int32)
    slots = jnp.asarray(slot_of)

    def save(buf, f, t):
        if not save_at:
            return buf
        slot = slots[t]
        return jnp.where(slot >= 0, buf.at[jnp.maximum(slot, 0)].set(f), buf)

    def step(state, u):
        carry, buf = state

        def sub(j, state):
            f, v, _ = state
            t = (u * s + j).astype(dtype) * dt
            sched = config.schedule.factor(t, total_steps=steps)
            d, rayleigh = direction(f, jax.random.fold_in(key, u * s + j))
            kappa = kernel_scale(u, rayleigh)
            d = kappa * d.reshape(n, c)  # Θ_t = κ_t Θ₀ acts on the gradient of step t
            if exact_momentum:
                v = knobs.momentum * v + d
                return f - knobs.lr * sched * v, v, kappa
            return f - knobs.lr * sched * d, v, kappa

        f, v, kappa = jax.lax.fori_loop(0, s, sub, (*carry, knobs.kernel_scale[u]))
        return ((f, v), save(buf, f, u + 1)), (*metrics(f), kappa)

    buf0 = save(jnp.zeros((len(save_at), n, c), dtype), f0, 0)
    init = ((f0, jnp.zeros_like(f0)), buf0)
    (_, buf), (loss_t, err_t, kappa_t) = jax.lax.scan(step, init, jnp.arange(steps))
    l0, e0 = metrics(f0)
    return (
        jnp.concatenate([l0[None], loss_t]),
        jnp.concatenate([e0[None], err_t]),
        buf,
        kappa_t,
    )
