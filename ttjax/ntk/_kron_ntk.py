"""The ``NtkMethod.KRONECKER`` driver: layer-factored Θ, streamed over example blocks.

Paper eq. 2: Θ = J Jᵀ; each layer's part is factored as in :mod:`ttjax.ntk._kronecker`
(input patches ⊗ output cotangents), contracted exactly or by a Kronecker sketch.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._types import PyTree
from ._blocks import example_block, progress_bar
from ._config import NtkConfig, NtkResult
from ._kronecker import gram_theta, kron_block, plan_layers, sharded_kron_block
from ._layers import LayerSpec, discover_layers
from ._memory import plan_kron_blocks
from ._params import ParamLayout, module_of


def kronecker_ntk(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    *,
    config: NtkConfig,
    key: jax.Array,
    layout: ParamLayout,
    accum: type,
    num_outputs: int,
    t_start: float,
    budget: int,
    specs: tuple[LayerSpec, ...] | None,
) -> NtkResult:
    """``NtkMethod.KRONECKER``: layer-factored Θ (see :mod:`ttjax.ntk._kronecker`)."""
    n = int(x.shape[0])
    dtype = np.dtype(config.compute_dtype)
    if specs is None:
        specs = discover_layers(apply_fn, params, x[:1], layout)
    plan = plan_layers(
        specs,
        projection_dim=int(config.projection_dim or 16384),
        block=config.kron_block,
        n=n,
        outputs=num_outputs,
    )
    devices = jax.devices() if config.shard else jax.devices()[:1]
    n_dev = len(devices)
    mesh = Mesh(np.array(devices), ("data",))
    theta_side = n * num_outputs
    gram_idx = plan.gram_layers
    gram_elems = sum(
        plan.layers[i].spec.d_in + num_outputs * plan.layers[i].spec.d_out for i in gram_idx
    )
    act = sum(int(np.prod(s.in_shape)) + int(np.prod(s.out_shape)) for s in specs)
    patch = max((s.positions * s.d_in for s in specs), default=0)
    mem = plan_kron_blocks(
        n=n,
        outputs=num_outputs,
        activation_elems=act,
        patch_elems=patch,
        features=plan.features,
        gram_elems=gram_elems,
        theta_side=theta_side,
        itemsize=dtype.itemsize,
        accum_itemsize=np.dtype(accum).itemsize,
        budget=budget,
        max_block=config.example_block or 64,
        n_devices=n_dev,
    )
    big = mem.example_block * n_dev
    nblocks = -(-n // big)
    x = x.astype(dtype)
    x_sharding = NamedSharding(mesh, PartitionSpec("data")) if n_dev > 1 else None
    if n_dev > 1:
        params = jax.device_put(params, NamedSharding(mesh, PartitionSpec()))
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), params)
    phi = np.empty((n, num_outputs, plan.features), dtype)
    gram_p = [np.empty((n, plan.layers[i].spec.d_in), dtype) for i in gram_idx]
    gram_g = [np.empty((n, num_outputs, plan.layers[i].spec.d_out), dtype) for i in gram_idx]
    f0 = np.zeros((n, num_outputs), dtype)
    sq = np.zeros(len(specs), np.float64)
    timing = {"first_block": 0.0, "features": 0.0, "gram": 0.0}
    with progress_bar(config.progress, nblocks, "Θ (KRONECKER)") as advance:
        for b in range(nblocks):
            t0 = time.perf_counter()
            lo, hi = b * big, min(n, (b + 1) * big)
            xb = example_block(x, lo, hi, big, x_sharding)
            if n_dev > 1:
                outs = sharded_kron_block(
                    params, xb, key, apply_fn=apply_fn, plan=plan, dtype=dtype.name, mesh=mesh
                )
            else:
                outs = kron_block(params, xb, key, apply_fn=apply_fn, plan=plan, dtype=dtype.name)
            out_b, phi_b, grams_b, sq_b = jax.device_get(outs)
            m = hi - lo
            f0[lo:hi] = out_b[:m]
            phi[lo:hi] = phi_b[:m]
            for k, (pb, gb) in enumerate(grams_b):
                gram_p[k][lo:hi] = pb[:m]
                gram_g[k][lo:hi] = gb[:m]
            sq += np.asarray(sq_b, np.float64)[:m].sum(axis=0)
            timing["first_block" if b == 0 else "features"] += time.perf_counter() - t0
            advance()
    t0 = time.perf_counter()
    flat = phi.reshape(theta_side, plan.features)
    if accum is np.float64:
        flat = flat.astype(np.float64)
    theta = flat @ flat.T
    for pk, gk in zip(gram_p, gram_g, strict=True):
        gram_theta(pk.astype(accum), gk.astype(accum), theta)
    timing["gram"] = time.perf_counter() - t0
    timing["total"] = time.perf_counter() - t_start
    total_sq = float(sq.sum())
    by_module: dict[str, float] = {}
    head = 0.0
    for s, v in zip(specs, sq, strict=True):
        m = module_of(s.scope + "/kernel")
        by_module[m] = by_module.get(m, 0.0) + float(v) / max(total_sq, 1e-300)
        if config.head_filter(s.scope + "/kernel"):
            head += float(v)
    routes: dict[str, int] = {}
    for lp in plan.layers:
        routes[lp.route.value] = routes.get(lp.route.value, 0) + 1
    diagnostics = {
        "head_trace_share": head / max(total_sq, 1e-300),
        "trace_share_by_module": by_module,
        "example_block": [mem.example_block],
        "param_groups": 1,
        "devices": n_dev,
        "estimated_peak_bytes": mem.estimated_peak_bytes,
        "budget_bytes": budget,
        "num_params": layout.num_selected,
        "kron_k": plan.k,
        "features": plan.features,
        "routes": routes,
    }
    return NtkResult(
        theta=theta,
        f0=f0,
        features=None,
        theta_per_class=None,
        method=config.method,
        timing_s=timing,
        diagnostics=diagnostics,
    )
