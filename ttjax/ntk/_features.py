"""One compiled step: per-example output gradients of a block of examples, reduced to features.

For a block of B examples and R cotangent rows V ``[R, C]`` (the identity for the
per-output methods, the ±1 probes for ``TRACE``) the step computes
``g_{i,r} = ∂(V_r · f(x_i))/∂w`` for the selected parameters (one forward and R
backward passes per example, ``vmap`` over examples and rows) and reduces each to
a feature vector ``φ_{i,r}`` with ``⟨φ_{i,r}, φ_{j,s}⟩ ≈ ⟨g_{i,r}, g_{j,s}⟩``:

* raw: ``φ = g`` (exact contraction);
* Gaussian / sparse projection: ``φ = gᵀP/√D′``, ``P`` generated chunk by chunk from
  ``fold_in(fold_in(key, leaf), chunk)`` inside a ``lax.scan`` — never stored;
* count-sketch: ``φ[b] = Σ_{p: h(p) = b} s_p g_p`` with a random sign ``s_p`` and a
  balanced random bucket ``h`` (a per-leaf permutation, a fold into D′ buckets and a
  per-leaf random offset), so ``E[φ_i·φ_j] = g_i·g_j`` exactly.

The step is a module-level ``jax.jit`` with the model function and the static
layout as static arguments: a second call with new ``x`` values of the same shape
does not recompile.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec
from jaxtyping import Array, Float

from ._params import ParamLayout


class Reduction:
    """Names of the reductions of a gradient to features (static, hashable strings)."""

    RAW = "raw"
    GAUSSIAN = "gaussian"
    SPARSE = "sparse"
    SKETCH = "sketch"


@dataclasses.dataclass(frozen=True)
class StepSpec:
    """Static description of a compiled step (hashable)."""

    group: tuple[int, ...]
    reduction: str
    dim: int
    chunk: int
    dtype: str


def sketch_tables(
    key: jax.Array, layout: ParamLayout, group: tuple[int, ...], dim: int, dtype: str
) -> list[tuple[jax.Array, jax.Array, jax.Array]]:
    """Per-leaf (permutation, signs, offset) of the count-sketch; O(D) memory, not O(D·D′).

    The permutation is affine, p ↦ (a·p + b) mod n with a random a coprime to n (a
    bijection, O(n) to build, unlike a sorting-based random permutation); the signs
    are i.i.d. Rademacher, which alone makes the sketch unbiased for any bucketing.
    """
    tables = []
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


def _count_sketch(
    g: Float[Array, "M P"], perm: jax.Array, signs: jax.Array, offset: jax.Array, dim: int
) -> Float[Array, "M Dp"]:
    m, n = g.shape
    folded = (g[:, perm] * signs) if n > 1 else g * signs
    pad = (-n) % dim
    folded = jnp.pad(folded, ((0, 0), (0, pad)))
    summed = folded.reshape(m, -1, dim).sum(axis=1)
    return jnp.roll(summed, offset, axis=1)


def _random_projection(
    g: Float[Array, "M P"], key: jax.Array, dim: int, chunk: int, sparse: bool
) -> Float[Array, "M Dp"]:
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


@functools.partial(jax.jit, static_argnames=("apply_fn", "layout", "spec"))
def block_step(
    chosen: list[jax.Array],
    others: list[jax.Array],
    x: Float[Array, " B *item"],
    cotangents: Float[Array, "R C"],
    key: jax.Array,
    tables: list[tuple[jax.Array, jax.Array, jax.Array]],
    *,
    apply_fn: Callable,
    layout: ParamLayout,
    spec: StepSpec,
) -> tuple[Float[Array, "B R Dp"], Float[Array, "B C"], Float[Array, "B L"]]:
    """Features ``[B, R, d]``, outputs ``f0 [B, C]`` and per-example, per-leaf Σ_r‖g‖²."""
    dtype = jnp.dtype(spec.dtype)

    def per_example(xi):
        def f(ch):
            return apply_fn(layout.merge(ch, others, spec.group), xi[None])[0]

        out, vjp = jax.vjp(f, chosen)
        grads = jax.vmap(lambda v: vjp(v.astype(out.dtype))[0])(cotangents)
        return [g.reshape(g.shape[0], -1).astype(dtype) for g in grads], out

    grads, f0 = jax.vmap(per_example)(x)
    b, r = x.shape[0], cotangents.shape[0]
    flat = [g.reshape(b * r, -1) for g in grads]
    sqnorms = jnp.stack([jnp.sum(g.reshape(b, -1) ** 2, axis=1) for g in flat], axis=1)
    if spec.reduction == Reduction.RAW:
        feats = jnp.concatenate(flat, axis=1)
    elif spec.reduction == Reduction.SKETCH:
        feats = jnp.zeros((b * r, spec.dim), dtype)
        for g, (perm, signs, offset) in zip(flat, tables, strict=True):
            feats = feats + _count_sketch(g, perm, signs, offset, spec.dim)
    else:
        sparse = spec.reduction == Reduction.SPARSE
        feats = jnp.zeros((b * r, spec.dim), dtype)
        for leaf, g in zip(spec.group, flat, strict=True):
            k = jax.random.fold_in(key, leaf)
            feats = feats + _random_projection(g, k, spec.dim, spec.chunk, sparse)
    return feats.reshape(b, r, -1), f0, sqnorms


@functools.partial(jax.jit, static_argnames=("apply_fn", "layout", "spec", "mesh"))
def sharded_block_step(
    chosen: list[jax.Array],
    others: list[jax.Array],
    x: Float[Array, " B *item"],
    cotangents: Float[Array, "R C"],
    key: jax.Array,
    tables: list[tuple[jax.Array, jax.Array, jax.Array]],
    *,
    apply_fn: Callable,
    layout: ParamLayout,
    spec: StepSpec,
    mesh: Mesh,
) -> tuple[Float[Array, "B R Dp"], Float[Array, "B C"], Float[Array, "B L"]]:
    """:func:`block_step` with the example axis split over ``mesh`` (``shard_map``).

    Every device runs the single-device step on its slice; parameters, probes and
    sketch tables are replicated. (Letting GSPMD partition the ``vmap``-ed conv
    gradients instead gave wrong per-example gradients on jax 0.10.2 CPU.)
    """

    def local(ch, ot, xb, cot, k, tab):
        return block_step(ch, ot, xb, cot, k, tab, apply_fn=apply_fn, layout=layout, spec=spec)

    rep, data = PartitionSpec(), PartitionSpec("data")
    fn = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(rep, rep, data, rep, rep, rep),
        out_specs=(data, data, data),
        check_vma=False,
    )
    return fn(chosen, others, x, cotangents, key, tables)


def raw_dim(layout: ParamLayout, group: tuple[int, ...]) -> int:
    """Number of features of the raw (exact) reduction of ``group``."""
    return int(np.sum([layout.sizes[i] for i in group]))
