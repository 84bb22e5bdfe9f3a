"""The paper's diagonal SGD-noise model, pushed to function space once (§4, suppl. A).

Per-example loss gradients in (projected) weight space are ``G_i = F_iᵀ r_i`` with
``F_i`` the C rows of the factor F (``F Fᵀ ≈ Θ``) that belong to example i and
``r_i = ∂ℓ_i/∂f_i`` at f0. Their covariance over the training set,

.. math::

    Σ_0 = \\frac1N \\sum_i G_i G_i^\\top - \\bar G \\bar G^\\top,

is kept diagonal (the paper's approximation) and mapped to function space once:
``K = F diag(Σ₀) Fᵀ`` (N·C × N·C). We return a factor A with ``A Aᵀ = K`` so that a
noise sample is ``A ξ`` with ξ standard normal — one (N·C × R)·M product per step.

When no factor F is available (an exact Θ), we use ``F = V Λ^{1/2}`` from Θ's
eigen-decomposition: ``F Fᵀ = Θ`` exactly and F equals J up to a rotation of weight
space, so the *full* covariance is exact but the *diagonal* is taken in Θ's
eigenbasis instead of the original weight coordinates (an approximation of the same
order as the paper's, not the same one).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .. import losses
from .._config import Loss


def residuals(
    f: Float[Array, "N C"], labels: Int[Array, " N"], *, loss: Loss
) -> Float[Array, "N C"]:
    """Per-example output gradients r_i = ∂ℓ_i/∂f_i (= N · ∇_f L of the mean loss)."""
    return losses.loss_gradient(f, labels, loss=loss) * f.shape[0]


def eigen_factor(theta: Float[Array, "NC NC"]) -> Float[Array, "NC NC"]:
    """F = V Λ^{1/2} with Θ = V Λ Vᵀ (negative round-off eigenvalues clipped to 0)."""
    lam, vec = jnp.linalg.eigh(theta)
    return vec * jnp.sqrt(jnp.clip(lam, 0.0))[None, :]


@functools.partial(jax.jit, static_argnames=("loss",))
def diagonal_noise_factor(
    features: Float[Array, "NC D"],
    f0: Float[Array, "N C"],
    labels: Int[Array, " N"],
    *,
    loss: Loss,
) -> Float[Array, "NC R"]:
    """A factor A of K = F diag(Σ₀) Fᵀ (``A Aᵀ = K``), with R = min(D′, N·C).

    For D′ ≤ N·C the factor is ``F diag(Σ₀)^{1/2}`` itself (exact, no decomposition);
    otherwise K is formed once and factored by ``eigh`` so that every step costs an
    N·C × N·C product, never N·C × D′.

    Example:
        >>> import jax.numpy as jnp
        >>> F = jnp.eye(4)
        >>> A = diagonal_noise_factor(F, jnp.zeros((2, 2)), jnp.array([0, 1]), loss=Loss.MSE)
        >>> A.shape
        (4, 4)
    """
    n, c = f0.shape
    r = residuals(f0, labels, loss=loss)  # [N, C]
    f_blocks = features.reshape(n, c, -1)  # [N, C, D']
    g = jnp.einsum("icd,ic->id", f_blocks, r)  # per-example gradients [N, D']
    var = jnp.clip(jnp.mean(g * g, axis=0) - jnp.mean(g, axis=0) ** 2, 0.0)  # diag Σ₀
    a = features * jnp.sqrt(var)[None, :]
    if features.shape[1] <= n * c:
        return a
    k = a @ a.T
    lam, vec = jnp.linalg.eigh(0.5 * (k + k.T))
    return vec * jnp.sqrt(jnp.clip(lam, 0.0))[None, :]


@functools.partial(jax.jit, static_argnames=("loss",))
def class_trace_noise_factor(
    features: Float[Array, "N D"],
    f0: Float[Array, "N C"],
    labels: Int[Array, " N"],
    *,
    loss: Loss,
) -> Float[Array, "NC CR"]:
    """The diagonal-noise factor when Θ ≈ Θ₁ ⊗ I_C and ``features`` Φ factors Θ₁.

    Then F = Φ ⊗ I_C, the per-example gradients are ``G_i = φ_i ⊗ r_i`` and
    ``K = F diag(Σ₀) Fᵀ`` is block diagonal over classes:
    ``K[(i,c),(j,c′)] = δ_{cc′} Σ_d φ_id φ_jd Var_i(r_ic φ_id)``. Each class block is
    factored like :func:`diagonal_noise_factor` and the factors are interleaved into the
    example-major layout, ``A[(i, c), (c, k)] = A_c[i, k]``.
    """
    n, c = f0.shape
    r = residuals(f0, labels, loss=loss)  # [N, C]
    g = features[:, None, :] * r[:, :, None]  # [N, C, D']
    var = jnp.clip(jnp.mean(g * g, axis=0) - jnp.mean(g, axis=0) ** 2, 0.0)  # [C, D']
    a = features[None, :, :] * jnp.sqrt(var)[:, None, :]  # [C, N, D']
    if features.shape[1] > n:
        k = jnp.einsum("cid,cjd->cij", a, a)
        lam, vec = jnp.linalg.eigh(0.5 * (k + jnp.swapaxes(k, 1, 2)))
        a = vec * jnp.sqrt(jnp.clip(lam, 0.0))[:, None, :]  # [C, N, N]
    rank = a.shape[2]
    out = jnp.zeros((n, c, c, rank), a.dtype)
    idx = jnp.arange(c)
    out = out.at[:, idx, idx, :].set(jnp.swapaxes(a, 0, 1))  # [N, C(out), C(block), R]
    return out.reshape(n * c, c * rank)
