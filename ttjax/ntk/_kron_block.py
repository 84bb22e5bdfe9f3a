"""The ``KRONECKER`` step: one layer's factored features, and all layers' for a block.

A conv/dense layer's per-example gradient of output c is ``A_ic = Σ_l p_{i,l} g_{ic,l}ᵀ``
(input patches ⊗ output cotangents, :mod:`ttjax.ntk._kron_routes`); each layer is reduced
along its route to features whose inner products give its part of Θ, and the GRAM layers
(one output position) are contracted exactly on the host:
``Θ_{(i,c),(j,c′)} += (p_i·p_j)(g_ic·g_jc′)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._types import PyTree
from ..models import im2col_patches
from ._countsketch import count_sketch, permutation_table
from ._estimator import BlockOut
from ._kron_routes import KronPlan, LayerPlan, Route
from ._layers import LayerKind, LayerSpec, run_with_taps


def _pads(s: LayerSpec) -> list[tuple[int, int]]:
    return [(int(lo), int(hi)) for lo, hi in s.pads]


def _patches(a: jax.Array, s: LayerSpec) -> Float[Array, "B L Din"]:
    b = a.shape[0]
    if s.is_dense:
        return a.reshape(b, -1, s.d_in)
    cols = im2col_patches(a, s.kernel_hw, s.strides, _pads(s))
    return cols.reshape(b, -1, s.d_in)


Sketches = tuple[jax.Array | None, ...]
"""One layer's random sketch operands: ``(perm, signs)`` (``COUNT_SKETCH``), ``(S_a, S_δ)``
(``KRON``; an exact side is ``None``) or ``()``."""


def _sketch_size(lp: LayerPlan) -> int:
    """Columns a ``COUNT_SKETCH`` layer folds: BatchNorm scale (+ bias), or depthwise kernel."""
    s = lp.spec
    if s.kind is LayerKind.NORM:
        return s.d_out * (2 if s.bias is not None else 1)
    return s.kernel_hw[0] * s.kernel_hw[1] * s.d_out


def _layer_draw(lp: LayerPlan, key_l: jax.Array, dt: jnp.dtype) -> Sketches:
    """One layer's sketch operands from its key ``fold_in(key, layer)``."""
    s = lp.spec
    if lp.route is Route.COUNT_SKETCH:
        perm, signs, _ = permutation_table(key_l, _sketch_size(lp), dt)
        return perm, signs
    if lp.route is Route.KRON:
        k_a, k_d = jax.random.split(key_l)
        r = lp.replicas
        s_a = jax.random.normal(k_a, (s.d_in, r * lp.k_in), dt) if lp.k_in else None
        s_d = jax.random.normal(k_d, (s.d_out, r * lp.k_out), dt) if lp.k_out else None
        return s_a, s_d
    return ()


def layer_sketches(plan: KronPlan, key: jax.Array, dtype: str) -> list[Sketches]:
    """Every layer's random sketch operands, drawn once per Θ from ``fold_in(key, layer)``
    (not once per example block inside the compiled step: that made the step's program a
    sixth random-number generation and re-drew the same matrices for every block).

    Layers whose draws have the same shapes are drawn together, ``vmap``-ed over their
    keys (the same bits as one by one: threefry is elementwise in the key), so the program
    holds one permutation/Gaussian draw per distinct shape rather than per layer.
    """
    dt = jnp.dtype(dtype)
    groups: dict[tuple[Route, int, int, int, int, int], list[int]] = {}
    for li, lp in enumerate(plan.layers):
        if lp.route in (Route.COUNT_SKETCH, Route.KRON):
            s = lp.spec
            shape = (lp.route, _sketch_size(lp) if lp.route is Route.COUNT_SKETCH else 0,
                     s.d_in, s.d_out, lp.replicas * lp.k_in, lp.replicas * lp.k_out)  # fmt: skip
            groups.setdefault(shape, []).append(li)
    out: list[Sketches] = [() for _ in plan.layers]
    for ids in groups.values():
        lp = plan.layers[ids[0]]
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.asarray(ids, jnp.uint32))
        drawn = jax.vmap(lambda k, lp=lp: _layer_draw(lp, k, dt))(keys)
        for j, li in enumerate(ids):
            out[li] = tuple(None if a is None else a[j] for a in drawn)
    return out


def _sketch(g: Float[Array, "B C P"], table: Sketches, dim: int) -> Float[Array, "B C D"]:
    """Count-sketch along the last axis with the layer's permutation and signs."""
    perm, signs = table
    assert perm is not None and signs is not None
    return count_sketch(g, perm, signs, dim)


def _layer_features(
    lp: LayerPlan, a: jax.Array, g: jax.Array, stats, sketches: Sketches
) -> tuple[list[jax.Array], tuple[jax.Array, jax.Array] | None]:
    """Feature blocks ``[B, C, ·]`` of one layer, and its GRAM factors if routed so.

    ``a``: the layer's input ``[B, *in]``; ``g``: cotangents ``[C, B, *out]``;
    ``sketches``: the layer's entry of :func:`layer_sketches`.
    """
    s = lp.spec
    c, b = g.shape[0], g.shape[1]
    g = g.reshape(c, b, -1, s.d_out)  # [C, B, L, d_out]
    feats: list[jax.Array] = []
    if s.bias is not None:
        feats.append(jnp.moveaxis(g.sum(axis=2), 0, 1))
    if lp.route is Route.NONE:
        return feats, None
    if s.kind is LayerKind.NORM:
        mean, var = stats
        xhat = (a - mean) * jax.lax.rsqrt(var + s.epsilon)
        xhat = xhat.reshape(b, -1, s.d_out).astype(g.dtype)
        feats.append(jnp.einsum("blo,cblo->bco", xhat, g))
        if lp.route is Route.COUNT_SKETCH:
            feats = [_sketch(jnp.concatenate(feats, axis=2), sketches, lp.sketch_dim)]
        return feats, None
    if s.kind is LayerKind.DEPTHWISE:
        cols = im2col_patches(a, s.kernel_hw, s.strides, _pads(s))
        kk = s.kernel_hw[0] * s.kernel_hw[1]
        cols = cols.reshape(b, -1, kk, s.d_out).astype(g.dtype)
        grad = jnp.einsum("blko,cblo->bcko", cols, g).reshape(b, c, -1)
        if lp.route is Route.COUNT_SKETCH:
            grad = _sketch(grad, sketches, lp.sketch_dim)
        feats.append(grad)
        return feats, None
    p = _patches(a, s).astype(g.dtype)  # [B, L, d_in]
    if lp.route is Route.GRAM:
        return feats, (p[:, 0, :], jnp.moveaxis(g[:, :, 0, :], 0, 1))
    if lp.route is Route.RAW:
        feats.append(jnp.einsum("bld,cblo->bcdo", p, g).reshape(b, c, -1))
        return feats, None
    s_a, s_d = sketches
    r = lp.replicas
    scale = 1.0 / math.sqrt(r)
    if s_a is not None:
        p = p @ s_a
        scale /= math.sqrt(lp.k_in)
    else:
        p = jnp.tile(p, (1, 1, r))
    if s_d is not None:
        g = g @ s_d
        scale /= math.sqrt(lp.k_out)
    else:
        g = jnp.tile(g, (1, 1, 1, r))
    p = p.reshape(b, p.shape[1], r, -1)
    g = g.reshape(c, b, g.shape[2], r, -1)
    feats.append(jnp.einsum("blra,cblro->bcrao", p, g).reshape(b, c, -1) * scale)
    return feats, None


@dataclasses.dataclass(frozen=True)
class KronStep:
    """``step((params, sketches), x[B]) -> BlockOut``: logits, per-layer Σ_c‖∂f_c/∂w_l‖², and
    the payload ``(Φ [B, C, D], [(p [B, d_in], g [B, C, d_out]) per GRAM layer])``
    (hashable); ``sketches`` is :func:`layer_sketches` of the same plan."""

    apply_fn: Callable[[PyTree, jax.Array], jax.Array]
    plan: KronPlan
    dtype: str

    def __call__(self, operands: PyTree, x: Float[Array, " B *item"]) -> BlockOut:
        params, sketches = operands
        cdt = jnp.dtype(self.dtype)
        b = x.shape[0]
        taps0 = [jnp.zeros((b, *lp.spec.out_shape), cdt) for lp in self.plan.layers]

        def forward(taps):
            out, records = run_with_taps(self.apply_fn, params, x, taps)
            return out, [(r.x, r.stats) for r in records]

        out, vjp_fn, records = jax.vjp(forward, taps0, has_aux=True)
        num_out = out.shape[1]
        eye = jnp.eye(num_out, dtype=out.dtype)
        cots = jax.vmap(lambda v: vjp_fn(jnp.broadcast_to(v, out.shape))[0])(eye)
        feats, grams, sq = [], [], []
        layers = zip(self.plan.layers, records, cots, strict=True)
        for li, (lp, (a, stats), g) in enumerate(layers):
            f, gram = _layer_features(lp, a, g.astype(cdt), stats, sketches[li])
            feats.extend(f)
            total = sum((jnp.sum(t**2, axis=(1, 2)) for t in f), jnp.zeros((b,), cdt))
            if gram is not None:
                pv, gv = gram
                grams.append(gram)
                total = total + jnp.sum(pv**2, axis=1) * jnp.sum(gv**2, axis=(1, 2))
            sq.append(total)
        phi = jnp.concatenate(feats, axis=2) if feats else jnp.zeros((b, num_out, 0), cdt)
        return BlockOut(f0=out, sq=jnp.stack(sq, axis=1), payload=(phi, grams))


def gram_theta(inputs: np.ndarray, cotangents: np.ndarray, out: np.ndarray) -> None:
    """``out += (p_i·p_j)(g_ic·g_jc')`` for a GRAM layer (``inputs [N, d_in]``,
    ``cotangents [N, C, d_out]``, ``out [N·C, N·C]`` example-major), in place."""
    n, c = cotangents.shape[:2]
    kp = inputs @ inputs.T
    flat = cotangents.reshape(n * c, -1)
    kg = (flat @ flat.T).reshape(n, c, n, c)
    kg *= kp[:, None, :, None].astype(kg.dtype)
    out += kg.reshape(n * c, n * c)
