"""``NtkMethod.GAUSSIAN`` and ``NtkMethod.SPARSE``: Θ ≈ (JP)(JP)ᵀ / D′ (the paper's method).

``P`` is ``D × D′`` with i.i.d. N(0, 1) entries (``GAUSSIAN``) or Achlioptas entries
√3·{−1, 0, +1} with probabilities {1/6, 2/3, 1/6} (``SPARSE``); E[P Pᵀ] = D′ I, so the
estimate is unbiased. ``P`` is generated chunk by chunk from
``fold_in(fold_in(key, leaf), chunk)`` inside a ``lax.scan`` — never stored.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._estimator import Plan, Problem
from ._grads import GramContraction, Reduction, plan_gradients


def random_projection(
    g: Float[Array, "M P"], key: jax.Array, dim: int, chunk: int, sparse: bool
) -> Float[Array, "M Dp"]:
    """``g P / √D′`` with ``P`` generated ``chunk`` rows at a time from ``key``."""
    m, n = g.shape
    chunk = min(chunk, n)
    nchunks = -(-n // chunk)
    g = jnp.pad(g, ((0, 0), (0, nchunks * chunk - n))).reshape(m, nchunks, chunk)
    g = jnp.moveaxis(g, 1, 0)

    def body(acc, inp):
        i, gc = inp
        k = jax.random.fold_in(key, i)
        if sparse:
            u = jax.random.uniform(k, (chunk, dim), dtype=g.dtype)
            p = jnp.sqrt(3.0).astype(g.dtype) * (
                (u > 5.0 / 6.0).astype(g.dtype) - (u < 1.0 / 6.0).astype(g.dtype)
            )
        else:
            p = jax.random.normal(k, (chunk, dim), dtype=g.dtype)
        return acc + gc @ p, None

    acc0 = jnp.zeros((m, dim), g.dtype)
    acc, _ = jax.lax.scan(body, acc0, (jnp.arange(nchunks), g))
    return acc / jnp.sqrt(jnp.asarray(dim, g.dtype))


@dataclasses.dataclass(frozen=True)
class ProjectedFeatures:
    """``φ = Σ_leaves g_leaf P_leaf / √D′`` with ``P_leaf`` from ``fold_in(key, leaf)``."""

    dim: int
    chunk: int
    sparse: bool

    def __call__(
        self, grads: list[jax.Array], group: tuple[int, ...], key: jax.Array, tables: object
    ) -> Float[Array, "M Dp"]:
        feats = jnp.zeros((grads[0].shape[0], self.dim), grads[0].dtype)
        for leaf, g in zip(group, grads, strict=True):
            k = jax.random.fold_in(key, leaf)
            feats = feats + random_projection(g, k, self.dim, self.chunk, self.sparse)
        return feats


@dataclasses.dataclass(frozen=True)
class ProjectionEstimator(GramContraction):
    """``GAUSSIAN`` (``sparse=False``) or ``SPARSE`` (``sparse=True``) projection of J."""

    sparse: bool

    def plan(self, problem: Problem) -> Plan:
        dim = int(problem.config.projection_dim or 0)
        reduction = Reduction(
            features=lambda d, chunk: ProjectedFeatures(dim=d, chunk=chunk, sparse=self.sparse),
            dim=lambda layout, group: dim,
            chunk_bytes=lambda chunk, d, itemsize: chunk * d * itemsize * 3,
        )
        return plan_gradients(problem, reduction)
