"""The count-sketch (one implementation) and ``NtkMethod.SKETCH``, which applies it to every
per-example, per-output gradient.

A count-sketch of ``g ∈ R^P`` into D′ buckets with signs ``s_p ∈ {±1}`` and a balanced bucket
map ``h`` (a permutation π of the coordinates folded into D′ buckets, then rotated by an
offset o) is

.. math::
    φ[b] = \\sum_{p:\\, h(p) = b} s_p\\, g_p, \\qquad h(p) = (π^{-1}(p) \\bmod D′ + o) \\bmod D′,

so ``E[φ_i·φ_j] = g_i·g_j`` exactly (the signs alone make it unbiased for any bucketing).
Two hash tables feed the same sketch: :func:`affine_tables` (per parameter leaf, O(n) to
build: the per-example-gradient routes, ``SKETCH`` and ``TRACE``) and
:func:`permutation_table` (a random permutation: the Kronecker route's depthwise and
BatchNorm layers).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._estimator import Plan, Problem
from ._grads import GramContraction, Reduction, plan_gradients
from ._params import ParamLayout

Table = tuple[jax.Array, jax.Array, jax.Array | None]
"""(permutation π ``[P]``, signs ``[P]``, offset o or ``None``)."""


def count_sketch(
    g: Float[Array, "*batch P"],
    perm: jax.Array,
    signs: jax.Array,
    dim: int,
    offset: jax.Array | None = None,
) -> Float[Array, "*batch Dp"]:
    """Count-sketch of ``g`` along its last axis into ``dim`` buckets (module docstring)."""
    n = g.shape[-1]
    folded = g[..., perm] * signs
    folded = jnp.pad(folded, [(0, 0)] * (g.ndim - 1) + [(0, (-n) % dim)])
    summed = folded.reshape(*g.shape[:-1], -1, dim).sum(axis=-2)
    return summed if offset is None else jnp.roll(summed, offset, axis=-1)


def affine_tables(
    key: jax.Array, layout: ParamLayout, group: tuple[int, ...], dim: int, dtype: str
) -> list[Table]:
    """Per-leaf (permutation, signs, offset) of the count-sketch; O(D) memory, not O(D·D′).

    The permutation is affine, p ↦ (a·p + b) mod n with a random a coprime to n (a
    bijection, O(n) to build, unlike a sorting-based random permutation); the signs
    are i.i.d. Rademacher, which alone makes the sketch unbiased for any bucketing.
    """
    tables: list[Table] = []
    for leaf in group:
        k_perm, k_sign, k_off = jax.random.split(jax.random.fold_in(key, leaf), 3)
        n = layout.sizes[leaf]
        a, b = (int(v) for v in jax.random.randint(k_perm, (2,), 0, 2**31 - 1))
        a = a % n if n > 1 else 1
        while math.gcd(max(a, 1), n) != 1 or a == 0:
            a = (a + 1) % n
        perm = jnp.asarray((a * np.arange(n, dtype=np.int64) + b) % n, jnp.int32)
        signs = jax.random.rademacher(k_sign, (n,), dtype=jnp.dtype(dtype))
        offset = jax.random.randint(k_off, (), 0, dim, dtype=jnp.int32)
        tables.append((perm, signs, offset))
    return tables


def permutation_table(key: jax.Array, n: int, dtype: jnp.dtype) -> Table:
    """A uniformly random permutation of ``n`` coordinates and Rademacher signs (no offset)."""
    k_perm, k_sign = jax.random.split(key)
    perm = jax.random.permutation(k_perm, n)
    signs = jax.random.rademacher(k_sign, (n,), dtype=dtype)
    return perm, signs, None


@dataclasses.dataclass(frozen=True)
class SketchFeatures:
    """``φ = Σ_leaves CountSketch_leaf(g_leaf)`` with :func:`affine_tables` (hashable)."""

    dim: int

    def __call__(
        self,
        grads: list[jax.Array],
        group: tuple[int, ...],
        key: jax.Array,
        tables: list[Table],
    ) -> Float[Array, "M Dp"]:
        feats = jnp.zeros((grads[0].shape[0], self.dim), grads[0].dtype)
        for g, (perm, signs, offset) in zip(grads, tables, strict=True):
            feats = feats + count_sketch(g, perm, signs, self.dim, offset)
        return feats


def sketch_reduction(problem: Problem) -> Reduction:
    """The count-sketch reduction to ``projection_dim`` buckets."""
    dim = int(problem.config.projection_dim or 0)
    return Reduction(
        features=lambda d, chunk: SketchFeatures(dim=d),
        dim=lambda layout, group: dim,
        tables=lambda key, layout, group: affine_tables(
            key, layout, group, dim, problem.dtype.name
        ),
    )


@dataclasses.dataclass(frozen=True)
class CountSketchEstimator(GramContraction):
    """``NtkMethod.SKETCH``: ``Θ ≈ S Sᵀ`` with S the count-sketched per-example gradients."""

    def plan(self, problem: Problem) -> Plan:
        return plan_gradients(problem, sketch_reduction(problem))
