"""``NtkMethod.AUTO``: pick the Θ estimator a model allows and the cost model prefers.

Order of preference:

1. ``KRONECKER`` when every selected parameter belongs to a layer it factors: the layer
   discovery of :func:`ttjax.ntk._layers.discover_layers` is the predicate (it raises
   :class:`~ttjax.ntk._layers.KroneckerUnsupported` otherwise). Cheapest: ≈ (1 + C)F per
   example, no per-parameter gradients.
2. ``EXACT`` when its Gram product is no dearer than the sketch's scatter-adds plus Gram
   product, (NC)²·D ≤ NC·D + (NC)²·D′ (both pay the same ≈ (1 + 2C)F per-example
   gradients), i.e. D ≤ D′·NC/(NC − 1) — and, when D > D′, its features fit the memory
   budget in a single parameter group (:func:`~ttjax.ntk._memory.max_group_params`,
   :func:`~ttjax.ntk._memory.plan_blocks`; more groups cost one backward sweep each). For
   D ≤ D′ the sketch's features are no smaller, so EXACT's own memory plan decides.
3. ``SKETCH`` otherwise (count-sketch to D′ buckets: N·C·D adds, unbiased, relative error
   ≈ √(((tr Θ)² + ‖Θ‖²_F)/D′)/‖Θ‖_F).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from .._errors import MemoryBudgetError
from .._types import PyTree
from ._config import NtkConfig, NtkMethod
from ._layers import KroneckerUnsupported, LayerSpec, discover_layers
from ._memory import max_group_params, plan_blocks
from ._params import ParamLayout


@dataclasses.dataclass(frozen=True)
class MethodChoice:
    """The resolved method, why, and (for ``KRONECKER``) the discovered layers."""

    method: NtkMethod
    reason: str
    layers: tuple[LayerSpec, ...] | None = None

    def to_dict(self, requested: NtkMethod) -> dict[str, str]:
        return {"requested": requested.value, "chosen": self.method.value, "reason": self.reason}


def _exact_fits(
    *, layout: ParamLayout, n: int, outputs: int, itemsize: int, accum_itemsize: int, budget: int
) -> bool:
    """Whether ``EXACT`` runs in one parameter group with at least one example per block."""
    d = layout.num_selected
    side = n * outputs
    common = dict(n=n, rows=outputs, d_all=sum(layout.sizes), itemsize=itemsize)
    group = max_group_params(
        **common, theta_side=side, accum_itemsize=accum_itemsize, budget=budget
    )
    if group < d:
        return False
    try:
        plan_blocks(
            **common,
            d_group=d,
            features=d,
            theta_side=side,
            accum_itemsize=accum_itemsize,
            proj_chunk_bytes=0,
            budget=budget,
            max_block=1,
            n_devices=1,
        )
    except MemoryBudgetError:
        return False
    return True


def choose_method(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x1: jax.Array,
    *,
    config: NtkConfig,
    layout: ParamLayout,
    n: int,
    outputs: int,
    accum_itemsize: int,
    budget: int,
) -> MethodChoice:
    """Resolve ``config.method`` (see the module docstring); non-``AUTO`` methods pass through.

    Args:
        x1: one example ``[1, ...]`` (the model is traced abstractly on it).
        n, outputs: N examples and C outputs (Θ is ``[N·C, N·C]``).

    Raises:
        ConfigError: a model no method can handle (e.g. BatchNorm in training mode).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax.ntk import make_layout
        >>> f = lambda p, x: x @ p["w"]
        >>> p = {"w": jnp.ones((3, 2))}
        >>> c = choose_method(f, p, jnp.ones((1, 3)), config=NtkConfig(),
        ...                   layout=make_layout(p, None), n=4, outputs=2,
        ...                   accum_itemsize=4, budget=2**30)
        >>> c.method.value, c.reason.startswith("not KRONECKER")
        ('exact', True)
    """
    if config.method is not NtkMethod.AUTO:
        return MethodChoice(method=config.method, reason="requested")
    try:
        layers = discover_layers(apply_fn, params, x1, layout)
    except KroneckerUnsupported as err:
        why_not = f"not KRONECKER ({err})"
    else:
        return MethodChoice(
            method=NtkMethod.KRONECKER,
            reason=f"every selected parameter belongs to one of {len(layers)} factorable layers",
            layers=layers,
        )
    d, dim = layout.num_selected, int(config.projection_dim or 0)
    side = n * outputs
    exact_cost, sketch_cost = side * side * d, side * d + side * side * dim
    if exact_cost > sketch_cost:
        return MethodChoice(
            method=NtkMethod.SKETCH,
            reason=(
                f"{why_not}; D = {d} > D′ = {dim}: exact Gram (NC)²·D = {exact_cost:.3g} > "
                f"sketch NC·D + (NC)²·D′ = {sketch_cost:.3g}"
            ),
        )
    fits = d <= dim or _exact_fits(
        layout=layout,
        n=n,
        outputs=outputs,
        itemsize=np.dtype(config.compute_dtype).itemsize,
        accum_itemsize=accum_itemsize,
        budget=budget,
    )
    if not fits:
        return MethodChoice(
            method=NtkMethod.SKETCH,
            reason=(
                f"{why_not}; exact features of D = {d} > D′ = {dim} parameters do not fit the "
                "memory budget in one parameter group"
            ),
        )
    return MethodChoice(
        method=NtkMethod.EXACT,
        reason=(
            f"{why_not}; D = {d}, D′ = {dim}, NC = {side}: exact Gram (NC)²·D = "
            f"{exact_cost:.3g} ≤ sketch NC·D + (NC)²·D′ = {sketch_cost:.3g}"
        ),
    )
