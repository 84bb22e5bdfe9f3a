"""``compute_ntk``: the one Θ driver; the estimators plug into it (:mod:`ttjax.ntk._estimator`).

Paper eq. 2 and §4: Θ_{(i,c),(j,c′)} = ∂f_c(x_i)/∂w · ∂f_{c′}(x_j)/∂w at the pretrained
weights. The driver validates the inputs, resolves the method (``AUTO``: :mod:`ttjax.ntk._auto`)
and the resources (dtype, memory budget, devices), then runs the estimator's passes: the
examples in blocks, one compiled step per block, split over all visible devices along the
example axis by a single ``shard_map``; each pass's outputs are folded on the host by the
estimator, which finalizes Θ. Diagnostics and the :class:`NtkResult` are assembled here.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._errors import ConfigError, DataError
from .._progress import progress_bar
from .._types import PyTree
from ._auto import choose_method
from ._blocks import example_block
from ._config import DEFAULT_CONFIG, AccumDtype, NtkConfig, NtkMethod, NtkResult
from ._countsketch import CountSketchEstimator
from ._estimator import BlockOut, Estimator, Plan, Problem
from ._exact import ExactEstimator
from ._kronecker import KroneckerEstimator
from ._memory import default_budget_bytes
from ._params import make_layout, module_of
from ._projection import ProjectionEstimator
from ._trace import TraceEstimator

ESTIMATORS: dict[NtkMethod, Estimator] = {
    NtkMethod.EXACT: ExactEstimator(),
    NtkMethod.GAUSSIAN: ProjectionEstimator(sparse=False),
    NtkMethod.SPARSE: ProjectionEstimator(sparse=True),
    NtkMethod.SKETCH: CountSketchEstimator(),
    NtkMethod.KRONECKER: KroneckerEstimator(),
    NtkMethod.TRACE: TraceEstimator(),
}
"""The estimator of every resolved method (``AUTO`` resolves to one of them first)."""


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


def _progress(config: NtkConfig, total: int, label: str):
    """The block loop's progress bar: the one place the Θ engine reports progress."""
    return progress_bar(config.progress, total, label, unit="blocks", transient=True)


@functools.partial(jax.jit, static_argnames=("step", "mesh"))
def _run_block(operands: PyTree, x: jax.Array, *, step: Callable, mesh: Mesh | None) -> BlockOut:
    """``step(operands, x)``; with a ``mesh``, every device runs it on its slice of the example
    axis (``shard_map``), the operands replicated. (Letting GSPMD partition the ``vmap``-ed
    conv gradients instead gave wrong per-example gradients on jax 0.10.2 CPU.)"""
    if mesh is None:
        return step(operands, x)
    rep, data = PartitionSpec(), PartitionSpec("data")
    sharded = jax.shard_map(step, mesh=mesh, in_specs=(rep, data), out_specs=data, check_vma=False)
    return sharded(operands, x)


def _run_passes(
    problem: Problem, estimator: Estimator, plan: Plan, mesh: Mesh | None
) -> tuple[np.ndarray, np.ndarray, Any, dict[str, float]]:
    """Every pass over the example blocks: ``(f0 [N, C], Σ_i sq [U], accumulator, timing)``."""
    n = problem.n
    f0 = np.zeros((n, problem.outputs), plan.f0_dtype)
    sq = np.zeros(len(plan.unit_paths), np.float64)
    timing = {"first_block": 0.0, "features": 0.0, "gram": 0.0}
    x_sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec("data"))
    acc = None
    for pi, ps in enumerate(plan.passes):
        operands = ps.operands()
        if mesh is not None:
            operands = jax.device_put(operands, NamedSharding(mesh, PartitionSpec()))
        big = ps.example_block * problem.devices
        nblocks = -(-n // big)
        buffers: Any = None
        with _progress(problem.config, nblocks, ps.label) as advance:
            for b in range(nblocks):
                t0 = time.perf_counter()
                lo, hi = b * big, min(n, (b + 1) * big)
                xb = example_block(plan.x, lo, hi, big, x_sharding)
                out = jax.device_get(_run_block(operands, xb, step=ps.step, mesh=mesh))
                if buffers is None:
                    buffers = jax.tree_util.tree_map(
                        lambda a: np.empty((n, *a.shape[1:]), a.dtype), out.payload
                    )
                leaves = jax.tree_util.tree_leaves(out.payload)
                for buf, a in zip(jax.tree_util.tree_leaves(buffers), leaves, strict=True):
                    buf[lo:hi] = a[: hi - lo]
                if pi == 0:
                    f0[lo:hi] = out.f0[: hi - lo]
                sq[list(ps.units)] += np.asarray(out.sq, np.float64)[: hi - lo].sum(axis=0)
                first = b == 0 and pi == 0
                timing["first_block" if first else "features"] += time.perf_counter() - t0
                advance()
        t0 = time.perf_counter()
        acc = estimator.contract(problem, plan, pi, buffers, acc)
        timing["gram"] += time.perf_counter() - t0
    return f0, sq, acc, timing


def _diagnostics(problem: Problem, plan: Plan, sq: np.ndarray) -> dict[str, Any]:
    """The diagnostics every method reports: share of Σ_i‖∇f_i‖² per module and in the head
    (``head_filter``), the block plan, devices, memory and parameter counts."""
    total = float(sq.sum())
    head = [k for k, p in enumerate(plan.unit_paths) if problem.config.head_filter(p)]
    by_module: dict[str, float] = {}
    for k, path in enumerate(plan.unit_paths):
        m = module_of(path)
        by_module[m] = by_module.get(m, 0.0) + float(sq[k]) / max(total, 1e-300)
    return {
        "head_trace_share": (
            float(sq[head].sum()) / max(total, 1e-300) if head else plan.empty_head_share
        ),
        "trace_share_by_module": by_module,
        "example_block": [ps.example_block for ps in plan.passes],
        "param_groups": len(plan.passes),
        "devices": problem.devices,
        "estimated_peak_bytes": max(ps.estimated_peak_bytes for ps in plan.passes),
        "budget_bytes": problem.budget,
        "num_params": problem.layout.num_selected,
    }


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
    layout = make_layout(params, config.param_filter)
    dtype = np.dtype(config.compute_dtype)
    if dtype == np.float64 and not jax.config.read("jax_enable_x64"):
        raise ConfigError("compute_dtype=float64 needs jax.config.update('jax_enable_x64', True).")
    wide = config.accum_dtype is AccumDtype.FLOAT64 or dtype == np.float64
    accum = np.float64 if wide else np.float32
    budget = config.memory_budget_bytes or default_budget_bytes()
    choice = choose_method(
        apply_fn, params, x[:1], config=config, layout=layout, n=int(x.shape[0]),
        outputs=num_outputs, accum_itemsize=np.dtype(accum).itemsize, budget=budget,
    )  # fmt: skip
    requested = config.method
    config = dataclasses.replace(config, method=choice.method)
    devices = jax.devices() if config.shard else jax.devices()[:1]
    problem = Problem(
        apply_fn=apply_fn,
        params=params,
        x=x,
        config=config,
        key=key,
        layout=layout,
        outputs=num_outputs,
        out_dtype=np.dtype(out_struct.dtype),
        dtype=dtype,
        accum=accum,
        budget=budget,
        devices=len(devices),
        layers=choice.layers,
    )
    estimator = ESTIMATORS[choice.method]
    plan = estimator.plan(problem)
    mesh = Mesh(np.array(devices), ("data",)) if len(devices) > 1 else None
    f0, sq, acc, timing = _run_passes(problem, estimator, plan, mesh)
    estimate = estimator.finalize(problem, plan, acc)
    timing["total"] = time.perf_counter() - t_start
    return NtkResult(
        theta=estimate.theta,
        f0=f0,
        features=estimate.features,
        theta_per_class=estimate.theta_per_class,
        method=choice.method,
        timing_s=timing,
        diagnostics={
            **_diagnostics(problem, plan, sq),
            **estimate.diagnostics,
            "method_choice": choice.to_dict(requested),
        },
    )
