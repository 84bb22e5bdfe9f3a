"""``NtkMethod.KRONECKER``: layer-factored Θ, without per-example weight gradients.

Paper eq. 2: Θ = J Jᵀ = Σ_layers Θ^layer, each layer's part factored as input patches ⊗
output cotangents (:mod:`ttjax.ntk._kron_routes`), contracted exactly or by a Kronecker
sketch (:mod:`ttjax.ntk._kron_block`):

.. math::
    Θ_{(i,c),(j,c')} = ⟨φ_{ic}, φ_{jc'}⟩
        + \\sum_{l \\in \\text{GRAM}} (p_{l,i} · p_{l,j}) (g_{l,ic} · g_{l,jc'}).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._types import PyTree
from ._estimator import Estimate, Pass, Plan, Problem
from ._kron_block import KronStep, gram_theta, layer_sketches
from ._kron_routes import KronPlan, plan_layers
from ._layers import discover_layers
from ._memory import plan_kron_blocks

_draw_sketches = jax.jit(layer_sketches, static_argnums=(0, 2))
"""All layers' sketch operands in one compiled program (eagerly, each layer's permutation
and Gaussian draws were separate small compiles: ≈ 17 s for EfficientNet-Lite0)."""


@dataclasses.dataclass(frozen=True)
class KroneckerEstimator:
    """One pass over the examples with :class:`~ttjax.ntk._kron_block.KronStep`."""

    def plan(self, problem: Problem) -> Plan:
        cfg, n, outputs, dtype = problem.config, problem.n, problem.outputs, problem.dtype
        specs = problem.layers
        if specs is None:
            specs = discover_layers(problem.apply_fn, problem.params, problem.x[:1], problem.layout)
        kplan = plan_layers(
            specs,
            projection_dim=int(cfg.projection_dim or 16384),
            block=cfg.kron_block,
            n=n,
            outputs=outputs,
        )
        gram_elems = sum(
            kplan.layers[i].spec.d_in + outputs * kplan.layers[i].spec.d_out
            for i in kplan.gram_layers
        )
        act = sum(int(np.prod(s.in_shape)) + int(np.prod(s.out_shape)) for s in specs)
        patch = max((s.positions * s.d_in for s in specs), default=0)
        mem = plan_kron_blocks(
            n=n,
            outputs=outputs,
            activation_elems=act,
            patch_elems=patch,
            features=kplan.features,
            gram_elems=gram_elems,
            theta_side=n * outputs,
            itemsize=dtype.itemsize,
            accum_itemsize=np.dtype(problem.accum).itemsize,
            budget=problem.budget,
            max_block=cfg.example_block or 64,
            n_devices=problem.devices,
        )
        params, key = problem.params, problem.key

        def operands() -> PyTree:
            cast = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), params)
            return cast, _draw_sketches(kplan, key, dtype.name)

        step = KronStep(apply_fn=problem.apply_fn, plan=kplan, dtype=dtype.name)
        return Plan(
            passes=(
                Pass(
                    step=step,
                    operands=operands,
                    example_block=mem.example_block,
                    estimated_peak_bytes=mem.estimated_peak_bytes,
                    units=tuple(range(len(specs))),
                    label="Θ (KRONECKER)",
                ),
            ),
            x=problem.x.astype(dtype),
            f0_dtype=dtype,
            unit_paths=tuple(s.scope + "/kernel" for s in specs),
            empty_head_share=0.0,
            info=kplan,
        )

    def contract(
        self, problem: Problem, plan: Plan, index: int, outputs: PyTree, acc: None
    ) -> np.ndarray:
        """``Θ = Φ Φᵀ`` plus every GRAM layer's ``(p_i·p_j)(g_ic·g_jc′)``, in ``accum``."""
        phi, grams = outputs
        flat = phi.reshape(problem.n * problem.outputs, phi.shape[-1])
        if problem.accum is np.float64:
            flat = flat.astype(np.float64)
        theta = flat @ flat.T
        for pk, gk in grams:
            gram_theta(pk.astype(problem.accum), gk.astype(problem.accum), theta)
        return theta

    def finalize(self, problem: Problem, plan: Plan, acc: np.ndarray) -> Estimate:
        kplan: KronPlan = plan.info
        routes: dict[str, int] = {}
        for lp in kplan.layers:
            routes[lp.route.value] = routes.get(lp.route.value, 0) + 1
        diagnostics = {"kron_k": kplan.k, "features": kplan.features, "routes": routes}
        return Estimate(acc, None, None, diagnostics)
