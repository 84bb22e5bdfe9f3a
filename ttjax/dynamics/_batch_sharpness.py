"""Batch sharpness: the stability edge of SGD's mini-batch steps on the linearised model.

One SGD step on a batch B moves the batch's outputs by ``f_B ← f_B − η̃ Θ_BB ∇_{f_B} L_B``
with ``L_B`` the batch-mean loss, so near f the step is the linear map ``I − η̃ Θ_BB H_B`` with
``H_B`` the Hessian of ``L_B`` (blocks ``H_i / |B|``, see :mod:`._stability`). A step is stable
iff ``η̃ λ_max(Θ_BB H_B) < 2`` (heavy ball simulated exactly: ``η λ_max < 2(1 + m)``). Small
batches of dissimilar examples make ``λ_max(Θ_BB H_B)`` larger than the full-batch
``λ_max(Θ H)``: an SGD run can sit past its batches' edge while the full-batch check passes.
SGD is then observed to spike and settle where the *batch sharpness*

    S_B = E_B[λ_max(Θ_BB H_B(f₀))]

is about 2/η̃ (Andreyev & Beneventano 2024, "Edge of Stochastic Stability"), a regime the
linearised SDE does not model. We estimate S_B at f₀ over random batches drawn without
replacement, by the same power iteration as the full-batch limit
(:func:`ttjax.dynamics._stability.top_curvature`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._config import Loss
from .._types import PRNGKey
from ._stability import top_curvature


@functools.partial(jax.jit, static_argnames=("loss", "batch_size", "samples", "iters"))
def batch_sharpness(
    theta: Float[Array, "NC NC"],
    f0: Float[Array, "N C"],
    *,
    loss: Loss,
    batch_size: int,
    key: PRNGKey,
    samples: int = 32,
    iters: int = 100,
) -> Float[Array, ""]:
    """S_B = mean over ``samples`` random batches of λ_max(Θ_BB H_B(f₀)) (module docstring).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> theta = 4.0 * jnp.eye(8)   # MSE, H_B = I/|B|: λ_max(Θ_BB H_B) = 4/|B|
        >>> s = batch_sharpness(theta, jnp.zeros((4, 2)), loss=Loss.MSE, batch_size=2,
        ...                     key=jax.random.key(0))
        >>> round(float(s), 4)
        2.0
    """
    n, c = f0.shape
    keys = jax.random.split(key, samples)

    def one(k: PRNGKey) -> Float[Array, ""]:
        idx = jax.random.permutation(k, n)[:batch_size]
        rows = (idx[:, None] * c + jnp.arange(c)[None, :]).reshape(-1)
        return top_curvature(theta[rows][:, rows], f0[idx], loss=loss, iters=iters)

    return jnp.mean(jax.vmap(one)(keys))


__all__ = ["batch_sharpness"]
