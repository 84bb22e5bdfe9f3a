"""Per-example gradients reduced to features: the step and plan shared by ``EXACT``,
``GAUSSIAN``/``SPARSE``, ``SKETCH`` and ``TRACE``.

For a block of B examples and R cotangent rows V ``[R, C]`` (the identity for the
per-output methods, the ±1 probes for ``TRACE``) the step computes
``g_{i,r} = ∂(V_r · f(x_i))/∂w`` for the selected parameters of one group (one forward and
R backward passes per example, ``vmap`` over examples and rows) and reduces each to a
feature vector ``φ_{i,r}`` with ``⟨φ_{i,r}, φ_{j,s}⟩ ≈ ⟨g_{i,r}, g_{j,s}⟩`` (the estimator's
:class:`Reduction`). After each pass over the examples, ``Θ += Φ_g Φ_gᵀ`` (paper eq. 2:
Θ = J Jᵀ = Σ_groups J_g J_gᵀ).

The step is a frozen dataclass, hashed by value (model function, static layout, group,
reduction): a second call with new ``x`` values of the same shape does not recompile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._types import PyTree
from ._estimator import BlockOut, Estimate, Pass, Plan, Problem
from ._memory import max_group_params, plan_blocks
from ._params import ParamLayout, group_leaves

FeatureMap = Callable[[list[jax.Array], tuple[int, ...], jax.Array, Any], jax.Array]
"""``features(grads [M, P_leaf] per leaf, group, key, tables) -> φ [M, d]`` (hashable)."""


@dataclasses.dataclass(frozen=True)
class Reduction:
    """How an estimator reduces per-example gradients to features.

    Attributes:
        features: ``(d, chunk) -> FeatureMap`` for a group with d features.
        dim: ``(layout, group) -> d``.
        tables: ``(key, layout, group) -> tables`` the feature map reads (count-sketch).
        grouped: split the parameters into groups that fit the memory budget (``EXACT``).
        chunk_bytes: ``(chunk, d, itemsize) ->`` bytes of a generated projection chunk.
    """

    features: Callable[[int, int], FeatureMap]
    dim: Callable[[ParamLayout, tuple[int, ...]], int]
    tables: Callable[[jax.Array, ParamLayout, tuple[int, ...]], PyTree] = lambda k, lay, g: []
    grouped: bool = False
    chunk_bytes: Callable[[int, int, int], int] = lambda chunk, d, itemsize: 0


@dataclasses.dataclass(frozen=True)
class GradStep:
    """``step(operands, x[B]) -> BlockOut``: per-example gradients of ``group``, reduced.

    ``operands = (chosen leaves, other leaves, cotangents [R, C], key, tables)``; the payload
    is the features ``[B, R, d]``, ``sq`` the per-example, per-leaf Σ_r‖g‖².
    """

    apply_fn: Callable[[PyTree, jax.Array], jax.Array]
    layout: ParamLayout
    group: tuple[int, ...]
    features: FeatureMap
    dtype: str

    def __call__(self, operands: PyTree, x: Float[Array, " B *item"]) -> BlockOut:
        chosen, others, cotangents, key, tables = operands
        dtype = jnp.dtype(self.dtype)

        def per_example(xi):
            def f(ch):
                return self.apply_fn(self.layout.merge(ch, others, self.group), xi[None])[0]

            out, vjp = jax.vjp(f, chosen)
            grads = jax.vmap(lambda v: vjp(v.astype(out.dtype))[0])(cotangents)
            return [g.reshape(g.shape[0], -1).astype(dtype) for g in grads], out

        grads, f0 = jax.vmap(per_example)(x)
        b, r = x.shape[0], cotangents.shape[0]
        flat = [g.reshape(b * r, -1) for g in grads]
        sqnorms = jnp.stack([jnp.sum(g.reshape(b, -1) ** 2, axis=1) for g in flat], axis=1)
        feats = self.features(flat, self.group, key, tables)
        return BlockOut(f0=f0, sq=sqnorms, payload=feats.reshape(b, r, -1))


def raw_dim(layout: ParamLayout, group: tuple[int, ...]) -> int:
    """Number of features of the raw (exact) reduction of ``group``."""
    return int(np.sum([layout.sizes[i] for i in group]))


def plan_gradients(
    problem: Problem, reduction: Reduction, *, cotangents: jax.Array | None = None
) -> Plan:
    """One pass per parameter group (one group unless ``reduction.grouped``), each with the
    largest example block the memory plan (:mod:`ttjax.ntk._memory`) allows.

    Args:
        cotangents: ``[R, C]`` rows V (default the identity, R = C: every output).

    Raises:
        MemoryBudgetError: when a group's estimated peak cannot fit the budget.
    """
    cfg, layout, dtype = problem.config, problem.layout, problem.dtype
    n, accum_itemsize = problem.n, np.dtype(problem.accum).itemsize
    _k_probe, k_feat = jax.random.split(problem.key)
    if cotangents is None:
        cotangents = jnp.eye(problem.outputs, dtype=dtype)
    rows = int(cotangents.shape[0])
    theta_side = n * rows
    if reduction.grouped:
        max_group = cfg.param_block or max_group_params(
            n=n,
            rows=rows,
            d_all=sum(layout.sizes),
            itemsize=dtype.itemsize,
            theta_side=theta_side,
            accum_itemsize=accum_itemsize,
            budget=problem.budget,
        )
        groups = group_leaves(layout, max_group)
    else:
        groups = [layout.selected]
    leaves = jax.tree_util.tree_leaves(problem.params)
    position = {leaf: k for k, leaf in enumerate(layout.selected)}
    passes = []
    for gi, group in enumerate(groups):
        d = reduction.dim(layout, group)
        chunk = min(cfg.projection_chunk, max(layout.sizes[i] for i in group))
        proj_bytes = reduction.chunk_bytes(chunk, d, dtype.itemsize)
        mem = plan_blocks(
            n=n,
            rows=rows,
            d_all=sum(layout.sizes),
            d_group=raw_dim(layout, group),
            features=d,
            theta_side=theta_side,
            itemsize=dtype.itemsize,
            accum_itemsize=accum_itemsize,
            proj_chunk_bytes=proj_bytes,
            budget=problem.budget,
            max_block=cfg.example_block or (8 if proj_bytes == 0 else 32),  # amortise P
            n_devices=problem.devices,
        )
        step = GradStep(
            apply_fn=problem.apply_fn,
            layout=layout,
            group=group,
            features=reduction.features(d, chunk),
            dtype=dtype.name,
        )

        def operands(group=group):
            gset = set(group)
            chosen = [leaves[i] for i in group]
            others = [leaves[i] for i in range(len(leaves)) if i not in gset]
            return chosen, others, cotangents, k_feat, reduction.tables(k_feat, layout, group)

        passes.append(
            Pass(
                step=step,
                operands=operands,
                example_block=mem.example_block,
                estimated_peak_bytes=mem.estimated_peak_bytes,
                units=tuple(position[i] for i in group),
                label=f"Θ ({cfg.method.name}, group {gi + 1}/{len(groups)})",
            )
        )
    return Plan(
        passes=tuple(passes),
        x=problem.x,
        f0_dtype=np.dtype(problem.out_dtype),
        unit_paths=tuple(layout.paths[i] for i in layout.selected),
        empty_head_share=None,
        info=cotangents,
    )


@dataclasses.dataclass(frozen=True)
class GramAcc:
    """Θ accumulated over the passes so far, and the last pass's features (a factor of Θ
    when there is a single pass)."""

    theta: np.ndarray
    features: np.ndarray | None


def contract_gram(
    problem: Problem,
    outputs: Float[np.ndarray, "N R D"],
    acc: GramAcc | None,
    *,
    keep_features: bool,
) -> GramAcc:
    """``Θ += Φ Φᵀ`` with ``Φ = outputs`` flattened to ``[N·R, d]`` (in ``problem.accum``)."""
    n, rows, d = outputs.shape
    flat = outputs.reshape(n * rows, d)
    if problem.accum is np.float64 and flat.dtype != np.float64:
        flat = flat.astype(np.float64)
    theta = acc.theta if acc is not None else np.zeros((n * rows, n * rows), problem.accum)
    theta += flat @ flat.T
    features = flat if keep_features else None
    return GramAcc(theta=theta, features=features)


class GramContraction:
    """``contract`` / ``finalize`` shared by the estimators whose block outputs are features Φ:
    ``Θ += Φ Φᵀ`` per block; Φ is kept as Θ's factor when the class sets ``keep_features``."""

    keep_features: bool = True

    def contract(
        self, problem: Problem, plan: Plan, index: int, outputs: np.ndarray, acc: GramAcc | None
    ) -> GramAcc:
        return contract_gram(problem, outputs, acc, keep_features=self.keep_features)

    def finalize(self, problem: Problem, plan: Plan, acc: GramAcc) -> Estimate:
        return Estimate(acc.theta, acc.features, None, {"probes": None})
