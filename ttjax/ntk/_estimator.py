"""The protocol every Θ estimator implements, and the values passed between it and the driver.

Θ = J Jᵀ (paper eq. 2) is built in three steps; the driver (:mod:`ttjax.ntk._driver`) owns
everything they share (inputs, memory budget, mesh, the example-block loop, progress,
diagnostics, :class:`~ttjax.ntk.NtkResult`), an estimator only the maths:

1. ``plan(problem) -> Plan``: one or more :class:`Pass` es over the examples, each with a
   per-block contribution ``step(operands, x[B]) -> BlockOut`` (compiled by the driver, run
   on every device's slice of the block) and its memory-planned block size;
2. ``contract(problem, plan, index, outputs, acc) -> acc``: after pass ``index``, fold the
   per-example outputs of all N examples into the accumulator (host side, ``Θ += Φ Φᵀ``);
3. ``finalize(problem, plan, acc) -> Estimate``: Θ, the optional factor Φ (Φ Φᵀ ≈ Θ) and
   per-class Θ₁, and the estimator's own diagnostics.

:data:`ttjax.ntk._driver.ESTIMATORS` maps each :class:`~ttjax.ntk.NtkMethod` to its estimator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import numpy as np
from jaxtyping import Array, Float

from .._types import PyTree
from ._config import NtkConfig
from ._layers import LayerSpec
from ._params import ParamLayout


@dataclasses.dataclass(frozen=True)
class Problem:
    """What every estimator is given: the model, the examples and the resolved resources.

    Attributes:
        apply_fn: ``apply_fn(params, x[B, ...]) -> logits [B, C]``.
        params: the parameters w₀ at which J is taken.
        x: ``[N, ...]`` inputs.
        config: the options (``config.method`` is resolved, never ``AUTO``).
        key: PRNG key for probes and sketches.
        layout: the flattened, filtered parameters.
        outputs: C.
        out_dtype: dtype of the logits of ``apply_fn(params, x)``.
        dtype: compute dtype of gradients and features.
        accum: dtype of the Gram product (float32 or float64).
        budget: memory budget in bytes.
        devices: number of devices the example axis is split over.
        layers: the discovered layers when ``AUTO`` already traced them (``KRONECKER``).
    """

    apply_fn: Callable[[PyTree, jax.Array], jax.Array]
    params: PyTree
    x: jax.Array
    config: NtkConfig
    key: jax.Array
    layout: ParamLayout
    outputs: int
    out_dtype: np.dtype
    dtype: np.dtype
    accum: type
    budget: int
    devices: int
    layers: tuple[LayerSpec, ...] | None

    @property
    def n(self) -> int:
        """N, the number of examples."""
        return int(self.x.shape[0])


class BlockOut(NamedTuple):
    """A compiled step's output for B examples (every leaf has the example axis first).

    Attributes:
        f0: logits ``[B, C]``.
        sq: ``[B, U]`` per-example Σ_c‖∂f_c/∂w_u‖² of the pass's trace units u.
        payload: the estimator's per-example contribution (a pytree of ``[B, ...]`` arrays).
    """

    f0: Float[Array, "B C"]
    sq: Float[Array, "B U"]
    payload: PyTree


@dataclasses.dataclass(frozen=True)
class Pass:
    """One sweep over the examples.

    Attributes:
        step: hashable callable ``step(operands, x[B]) -> BlockOut`` (a static jit argument,
            so equal steps share one compiled program).
        operands: builds the inputs the step shares across blocks (replicated over devices);
            called when the pass starts, so only one pass's operands are alive at a time.
        example_block: examples per block and device.
        estimated_peak_bytes: the memory plan's estimate for this pass.
        units: indices into :attr:`Plan.unit_paths` of the step's ``sq`` columns.
        label: progress-bar label.
    """

    step: Callable[[PyTree, jax.Array], BlockOut]
    operands: Callable[[], PyTree]
    example_block: int
    estimated_peak_bytes: int
    units: tuple[int, ...]
    label: str


@dataclasses.dataclass(frozen=True)
class Plan:
    """An estimator's plan: its passes and what the driver needs to report on them.

    Attributes:
        passes: the sweeps, in order (``f0`` is taken from the first).
        x: the inputs as the steps take them.
        f0_dtype: dtype of the returned logits.
        unit_paths: a parameter path naming each trace unit (a leaf or a layer), for the
            ``trace_share_by_module`` and ``head_trace_share`` diagnostics.
        empty_head_share: ``head_trace_share`` when no unit matches the head filter.
        info: estimator-specific static data (probes, the layer routes, ...).
    """

    passes: tuple[Pass, ...]
    x: jax.Array
    f0_dtype: np.dtype
    unit_paths: tuple[str, ...]
    empty_head_share: float | None
    info: Any = None


@dataclasses.dataclass(frozen=True)
class Estimate:
    """An estimator's result (the driver adds ``f0``, timing and the shared diagnostics)."""

    theta: np.ndarray
    features: np.ndarray | None
    theta_per_class: np.ndarray | None
    diagnostics: dict[str, Any]


@runtime_checkable
class Estimator(Protocol):
    """A Θ estimator: plan the passes, fold each pass's outputs, finalize."""

    def plan(self, problem: Problem) -> Plan:
        """The passes over the examples and their compiled per-block steps."""
        ...

    def contract(self, problem: Problem, plan: Plan, index: int, outputs: PyTree, acc: Any) -> Any:
        """Fold pass ``index``'s outputs (the payload of all N examples) into ``acc``
        (``None`` before the first pass)."""
        ...

    def finalize(self, problem: Problem, plan: Plan, acc: Any) -> Estimate:
        """Θ and the estimator's diagnostics from the accumulator."""
        ...
