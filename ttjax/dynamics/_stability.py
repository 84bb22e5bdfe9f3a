"""Stability limit of the discrete (S)GD map on the linearised model.

Linearising the map ``f ← f − η̃ Θ ∇_f L(f)`` around f gives the Jacobian
``I − η̃ Θ H(f)``, H the Hessian of the *mean* loss in f (block diagonal):
``H_i = I / N`` for MSE and ``H_i = (diag p_i − p_i p_iᵀ) / N`` for CE (p_i = softmax f_i,
λ_max(H_i) ≤ 1/(2N)). The eigenvalues of Θ H are those of the PSD matrix
H^{1/2} Θ H^{1/2}, so the map is stable iff ``η̃ λ_max(Θ H) < 2``; heavy-ball momentum
simulated exactly is stable iff ``η λ_max(Θ H) < 2 (1 + m)``.

For CE we use the exact curvature at f0 (the curvature changes along the path; from a
fresh head p_i is near uniform and the curvature then mostly decreases as the model
becomes confident).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._config import Loss


class Curvature(NamedTuple):
    """Largest eigenvalues of Θ and of Θ H(f0) (power iteration)."""

    lambda_max: Float[Array, ""]
    curvature: Float[Array, ""]


def _hessian_vp(
    x: Float[Array, "N C"], f: Float[Array, "N C"], *, loss: Loss
) -> Float[Array, "N C"]:
    n = f.shape[0]
    if loss is Loss.MSE:
        return x / n
    p = jax.nn.softmax(f, axis=-1)
    return (p * x - p * jnp.sum(p * x, axis=-1, keepdims=True)) / n


def _power(matvec, v0: Float[Array, " NC"], iters: int) -> Float[Array, ""]:
    def body(_, v):
        w = matvec(v)
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(w.dtype).tiny)

    v = jax.lax.fori_loop(0, iters, body, v0 / jnp.linalg.norm(v0))
    return jnp.vdot(v, matvec(v)) / jnp.vdot(v, v)


def top_curvature(
    theta: Float[Array, "NC NC"], f: Float[Array, "N C"], *, loss: Loss, iters: int
) -> Float[Array, ""]:
    """λ_max(Θ H(f)) by ``iters`` steps of power iteration on Θ H (traceable, not jitted).

    Θ H is similar to the PSD H^{1/2} Θ H^{1/2}, so the iteration converges to the top
    eigenvector u of ΘH, and λ = ⟨Hu, ΘHu⟩ / ⟨Hu, u⟩ (exact for an eigenvector).
    """
    n, c = f.shape

    def h(v):
        return _hessian_vp(v.reshape(n, c), f, loss=loss).reshape(-1)

    def body(_, v):
        w = theta @ h(v)
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(w.dtype).tiny)

    # A deterministic, generic start vector (not orthogonal to the top eigenvector).
    v0 = 1.0 + 0.1 * jnp.sin(jnp.arange(n * c, dtype=theta.dtype))
    u = jax.lax.fori_loop(0, iters, body, v0 / jnp.linalg.norm(v0))
    hu = h(u)
    return jnp.vdot(hu, theta @ hu) / jnp.maximum(jnp.vdot(hu, u), jnp.finfo(u.dtype).tiny)


@functools.partial(jax.jit, static_argnames=("loss", "iters"))
def curvature(
    theta: Float[Array, "NC NC"],
    f0: Float[Array, "N C"],
    *,
    loss: Loss,
    iters: int = 100,
) -> Curvature:
    """λ_max(Θ) and λ_max(Θ H(f0)) by power iteration (``iters`` Θ-products each).

    For Θ H (not symmetric, but similar to the PSD H^{1/2} Θ H^{1/2}, so its top
    eigenvalue is real and dominant) the iteration converges to the top eigenvector u,
    and ``λ = ⟨Hu, ΘHu⟩ / ⟨Hu, u⟩`` (exact when ΘHu = λu).

    Example:
        >>> import jax.numpy as jnp
        >>> c = curvature(4.0 * jnp.eye(6), jnp.zeros((3, 2)), loss=Loss.MSE)
        >>> round(float(c.lambda_max), 4), round(float(c.curvature), 4)
        (4.0, 1.3333)
    """
    n, c = f0.shape
    # A deterministic, generic start vector (not orthogonal to the top eigenvector).
    v0 = 1.0 + 0.1 * jnp.sin(jnp.arange(n * c, dtype=theta.dtype))
    lam = _power(lambda v: theta @ v, v0, iters)
    curv = top_curvature(theta, f0, loss=loss, iters=iters)
    return Curvature(lambda_max=lam, curvature=curv)


def lr_limit(curv: float, *, momentum: float, exact_momentum: bool) -> float:
    """Largest stable base learning rate η for the discrete map (see module docstring)."""
    if curv <= 0:
        return float("inf")
    if exact_momentum:
        return 2.0 * (1.0 + momentum) / curv
    return 2.0 * (1.0 - momentum) / curv
