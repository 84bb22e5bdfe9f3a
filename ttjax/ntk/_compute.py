"""``compute_ntk``: Θ = J Jᵀ by exact contraction or a sketch, streamed and memory-bounded.

Paper eq. 2 and §4: Θ_{(i,c),(j,c′)} = ∂f_c(x_i)/∂w · ∂f_{c′}(x_j)/∂w at the pretrained
weights. The examples are processed in blocks (one compiled step per block, sharded
over all visible devices along the example axis); each block's per-example
gradients are reduced to features φ (see :mod:`ttjax.ntk._features`) and
Θ = Σ_groups Φ_g Φ_gᵀ is formed once at the end.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._errors import ConfigError, DataError
from .._types import PyTree
from ._auto import choose_method
from ._blocks import example_block, progress_bar
from ._config import DEFAULT_CONFIG, AccumDtype, NtkConfig, NtkMethod, NtkResult
from ._features import (
    Reduction,
    StepSpec,
    block_step,
    raw_dim,
    sharded_block_step,
    sketch_tables,
)
from ._kron_ntk import kronecker_ntk
from ._memory import default_budget_bytes, max_group_params, plan_blocks
from ._params import group_leaves, make_layout, module_of

_DEFAULT_BLOCK = {True: 8, False: 32}  # raw/sketch of all outputs vs projection (amortise P)


def _validate_inputs(apply_fn: Callable, params: PyTree, x: jax.Array) -> jax.ShapeDtypeStruct:
    if x.ndim < 2 or x.shape[0] < 1:
        raise DataError(f"x must be a batch [N, ...] with N ≥ 1, got shape {tuple(x.shape)}.")
    if not bool(jnp.all(jnp.isfinite(x))):
        raise DataError("x contains NaN or inf; check the preprocessing of the images.")
    out = jax.eval_shape(apply_fn, params, x[:1])
    if len(out.shape) != 2 or out.shape[0] != 1:
        raise ConfigError(
            f"apply_fn(params, x[:1]) must return logits [1, C], got shape {tuple(out.shape)}."
        )
    return out


def _reduction(config: NtkConfig) -> str:
    m = config.method
    if m is NtkMethod.EXACT or (m is NtkMethod.TRACE and config.projection_dim is None):
        return Reduction.RAW
    if m is NtkMethod.GAUSSIAN:
        return Reduction.GAUSSIAN
    if m is NtkMethod.SPARSE:
        return Reduction.SPARSE
    return Reduction.SKETCH


def compute_ntk(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array | np.ndarray,
    *,
    config: NtkConfig = DEFAULT_CONFIG,
    key: jax.Array,
) -> NtkResult:
    """Empirical NTK Θ = J Jᵀ of ``apply_fn`` at ``params`` on the examples ``x``.

    Args:
        apply_fn: ``apply_fn(params, x[B, ...]) -> logits [B, C]``, a pure function
            treating every example independently (BatchNorm frozen).
        params: the (pretrained) parameters w₀ at which J is taken.
        x: ``[N, ...]`` preprocessed inputs.
        config: the estimator and its knobs (:class:`NtkConfig`).
        key: PRNG key for probes and sketches (unused by ``EXACT``).

    Returns:
        :class:`NtkResult` with ``theta [N·C, N·C]`` example-major.

    Raises:
        MemoryBudgetError: when the estimated peak cannot fit the budget.
        DataError, ConfigError: on bad inputs.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> f = lambda p, x: x @ p["w"]
        >>> params = {"w": jnp.ones((3, 2))}
        >>> res = compute_ntk(f, params, jnp.eye(3), config=NtkConfig(method=NtkMethod.EXACT),
        ...                   key=jax.random.key(0))
        >>> res.theta.shape
        (6, 6)
    """
    t_start = time.perf_counter()
    x = jnp.asarray(x)
    out_struct = _validate_inputs(apply_fn, params, x)
    num_outputs = int(out_struct.shape[1])
    n = int(x.shape[0])
    layout = make_layout(params, config.param_filter)
    leaves = jax.tree_util.tree_leaves(params)
    dtype = np.dtype(config.compute_dtype)
    if dtype == np.float64 and not jax.config.read("jax_enable_x64"):
        raise ConfigError("compute_dtype=float64 needs jax.config.update('jax_enable_x64', True).")
    wide = config.accum_dtype is AccumDtype.FLOAT64 or dtype == np.float64
    accum = np.float64 if wide else np.float32
    budget = config.memory_budget_bytes or default_budget_bytes()
    choice = choose_method(
        apply_fn, params, x[:1], config=config, layout=layout, n=n, outputs=num_outputs,
        accum_itemsize=np.dtype(accum).itemsize, budget=budget,
    )  # fmt: skip
    chosen_by = {"method_choice": choice.to_dict(config.method)}
    config = dataclasses.replace(config, method=choice.method)
    if config.method is NtkMethod.KRONECKER:
        res = kronecker_ntk(
            apply_fn, params, x, config=config, key=key, layout=layout, accum=accum,
            num_outputs=num_outputs, t_start=t_start, budget=budget, specs=choice.layers,
        )  # fmt: skip
        return dataclasses.replace(res, diagnostics={**res.diagnostics, **chosen_by})
    reduction = _reduction(config)
    trace = config.method is NtkMethod.TRACE
    k_probe, k_feat = jax.random.split(key)
    if trace:
        cotangents = jax.random.rademacher(k_probe, (config.probes, num_outputs), dtype=dtype)
    else:
        cotangents = jnp.eye(num_outputs, dtype=dtype)
    rows = int(cotangents.shape[0])
    theta_side = n * rows

    devices = jax.devices() if config.shard else jax.devices()[:1]
    n_dev = len(devices)
    mesh = Mesh(np.array(devices), ("data",))
    if reduction == Reduction.RAW:
        max_group = config.param_block or max_group_params(
            n=n,
            rows=rows,
            d_all=sum(layout.sizes),
            itemsize=dtype.itemsize,
            theta_side=theta_side,
            accum_itemsize=np.dtype(accum).itemsize,
            budget=budget,
        )
        groups = group_leaves(layout, max_group)
    else:
        groups = [layout.selected]

    def replicate(tree):
        if n_dev == 1:
            return tree
        return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))

    theta_acc = np.zeros((theta_side, theta_side), accum)
    f0 = np.zeros((n, num_outputs), np.dtype(out_struct.dtype))
    sq = np.zeros(len(layout.paths), np.float64)
    features: np.ndarray | None = None
    timing = {"first_block": 0.0, "features": 0.0, "gram": 0.0}
    peak = 0
    blocks_used = []
    for gi, group in enumerate(groups):
        dim_cfg = int(config.projection_dim or 0)
        d = raw_dim(layout, group) if reduction == Reduction.RAW else dim_cfg
        chunk = min(config.projection_chunk, max(layout.sizes[i] for i in group))
        proj_bytes = chunk * d * dtype.itemsize * 3 if reduction in ("gaussian", "sparse") else 0
        plan = plan_blocks(
            n=n,
            rows=rows,
            d_all=sum(layout.sizes),
            d_group=raw_dim(layout, group),
            features=d,
            theta_side=theta_side,
            itemsize=dtype.itemsize,
            accum_itemsize=np.dtype(accum).itemsize,
            proj_chunk_bytes=proj_bytes,
            budget=budget,
            max_block=config.example_block or _DEFAULT_BLOCK[proj_bytes == 0],
            n_devices=n_dev,
        )
        peak = max(peak, plan.estimated_peak_bytes)
        blocks_used.append(plan.example_block)
        spec = StepSpec(group=group, reduction=reduction, dim=d, chunk=chunk, dtype=dtype.name)
        gset = set(group)
        chosen = replicate([leaves[i] for i in group])
        others = replicate([leaves[i] for i in range(len(leaves)) if i not in gset])
        tables = []
        if reduction == Reduction.SKETCH:
            tables = replicate(sketch_tables(k_feat, layout, group, d, dtype.name))
        cot = replicate(cotangents)
        big = plan.example_block * n_dev
        nblocks = -(-n // big)
        feats_all = np.empty((n, rows, d), dtype)
        x_sharding = NamedSharding(mesh, PartitionSpec("data")) if n_dev > 1 else None
        label = f"Θ ({config.method.name}, group {gi + 1}/{len(groups)})"
        with progress_bar(config.progress, nblocks, label) as advance:
            for b in range(nblocks):
                t0 = time.perf_counter()
                lo, hi = b * big, min(n, (b + 1) * big)
                xb = example_block(x, lo, hi, big, x_sharding)
                if n_dev > 1:
                    fb, outb, sqb = sharded_block_step(
                        chosen, others, xb, cot, k_feat, tables,
                        apply_fn=apply_fn, layout=layout, spec=spec, mesh=mesh,
                    )  # fmt: skip
                else:
                    fb, outb, sqb = block_step(
                        chosen, others, xb, cot, k_feat, tables,
                        apply_fn=apply_fn, layout=layout, spec=spec,
                    )  # fmt: skip
                feats_all[lo:hi] = np.asarray(fb)[: hi - lo]
                if gi == 0:
                    f0[lo:hi] = np.asarray(outb)[: hi - lo]
                sq[list(group)] += np.asarray(sqb, np.float64)[: hi - lo].sum(axis=0)
                timing["first_block" if (b == 0 and gi == 0) else "features"] += (
                    time.perf_counter() - t0
                )
                advance()
        t0 = time.perf_counter()
        flat = feats_all.reshape(theta_side, d)
        if accum is np.float64 and flat.dtype != np.float64:
            flat = flat.astype(np.float64)
        theta_acc += flat @ flat.T
        timing["gram"] += time.perf_counter() - t0
        if reduction != Reduction.RAW:
            features = flat

    total_sq = float(sq[list(layout.selected)].sum())
    head = [i for i in layout.selected if config.head_filter(layout.paths[i])]
    by_module: dict[str, float] = {}
    for i in layout.selected:
        m = module_of(layout.paths[i])
        by_module[m] = by_module.get(m, 0.0) + float(sq[i]) / max(total_sq, 1e-300)
    diagnostics = {
        "head_trace_share": (float(sq[head].sum()) / max(total_sq, 1e-300)) if head else None,
        "trace_share_by_module": by_module,
        "example_block": blocks_used,
        "param_groups": len(groups),
        "devices": n_dev,
        "estimated_peak_bytes": peak,
        "budget_bytes": budget,
        "num_params": layout.num_selected,
        "probes": np.asarray(cotangents).tolist() if trace else None,
        **chosen_by,
    }
    theta_per_class = None
    if trace:
        theta_per_class = theta_acc / (rows * num_outputs)
        theta = np.kron(theta_per_class, np.eye(num_outputs, dtype=theta_acc.dtype))
        if features is not None:
            features = features.reshape(n, rows * features.shape[1]) / np.sqrt(
                rows * num_outputs
            ).astype(features.dtype)
    else:
        theta = theta_acc
    timing["total"] = time.perf_counter() - t_start
    return NtkResult(
        theta=theta,
        f0=f0,
        features=features,
        theta_per_class=theta_per_class,
        method=config.method,
        timing_s=timing,
        diagnostics=diagnostics,
    )
