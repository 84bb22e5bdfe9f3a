"""Which layers a Flax model applies, their geometry, and "taps" on their outputs.

The layer-factored Θ (:mod:`ttjax.ntk._kronecker`) needs, for every layer that owns
parameters, the layer's input and the cotangent at its output. Both are captured
without touching the model's code: :func:`flax.linen.intercept_methods` wraps each call
of a supported module, records its input and adds a zero "tap" array to its output.
Differentiating the logits w.r.t. the taps gives the output cotangents (data gradients
only — no weight gradient is ever formed).

Supported modules: :class:`ttjax.models.Conv` and ``nn.Conv`` (dense or depthwise, no
dilation), ``nn.Dense`` and ``nn.BatchNorm`` in inference mode (feature axis last). A
selected parameter owned by any other module is reported by :func:`discover_layers`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from .._errors import ConfigError
from .._types import PyTree
from ..models import Conv, explicit_padding
from ._params import ParamLayout


class LayerKind(enum.Enum):
    """How a layer's per-example weight gradient is factored."""

    CONV = "conv"  # kernel grad = Σ_l patch_l ⊗ g_l (dense layers: one position per item)
    DEPTHWISE = "depthwise"  # per-channel Σ_l patch_{l,c} g_{l,c}
    NORM = "norm"  # frozen BatchNorm: scale grad = Σ_l x̂_l ∘ g_l, bias grad = Σ_l g_l


class KroneckerUnsupported(ConfigError):
    """A model ``NtkMethod.KRONECKER`` cannot factor (an unsupported layer or parameter,
    shared weights, a dilated or grouped conv): ``NtkMethod.AUTO`` falls back on it, an
    explicit ``KRONECKER`` reports it. Errors that hold for every method (BatchNorm in
    training mode) stay plain :class:`ConfigError`."""


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """Static description of one tapped layer (hashable: part of a jit static argument).

    Attributes:
        kind: the factorisation (:class:`LayerKind`).
        scope: module path, e.g. ``"layer1_0/conv1"``.
        kernel: leaf index of the kernel (``CONV``/``DEPTHWISE``) or BatchNorm scale,
            ``None`` when it is not selected.
        bias: leaf index of the bias, ``None`` when absent or not selected.
        in_shape: input shape of one example.
        out_shape: output shape of one example.
        kernel_hw: ``(kh, kw)`` (``(1, 1)`` for dense layers).
        strides: conv strides.
        pads: explicit ``((lo, hi), (lo, hi))`` conv padding.
        epsilon: BatchNorm epsilon.
    """

    kind: LayerKind
    scope: str
    kernel: int | None
    bias: int | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel_hw: tuple[int, int] = (1, 1)
    strides: tuple[int, int] = (1, 1)
    pads: tuple[tuple[int, int], ...] = ((0, 0), (0, 0))
    epsilon: float = 0.0

    @property
    def is_dense(self) -> bool:
        return len(self.in_shape) != 3

    @property
    def d_in(self) -> int:
        """Rows of the kernel's gradient matrix (kh·kw·Cin, or Dense's input width)."""
        return self.kernel_hw[0] * self.kernel_hw[1] * self.in_shape[-1]

    @property
    def d_out(self) -> int:
        return self.out_shape[-1]

    @property
    def positions(self) -> int:
        """L: output positions sharing the kernel (Ho·Wo for convs)."""
        return int(np.prod(self.out_shape[:-1])) if self.out_shape[:-1] else 1


def _pair(v: Any, default: int) -> tuple[int, int]:
    if v is None:
        return (default, default)
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


def _scope(module: nn.Module) -> str:
    return "/".join(str(p) for p in module.scope.path) if module.scope is not None else ""


def _is_target(module: Any) -> bool:
    return isinstance(module, (Conv, nn.Conv, nn.Dense, nn.BatchNorm))


@dataclasses.dataclass
class _Record:
    module: Any
    x: Any
    y: Any
    stats: tuple[Any, Any] | None  # BatchNorm (mean, var)


def run_with_taps(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    taps: Sequence[jax.Array] | None,
) -> tuple[jax.Array, list[_Record]]:
    """``apply_fn(params, x)`` with ``taps[k]`` added to the output of the k-th supported
    module call (``None``: no taps), returning the logits and every call's record."""
    records: list[_Record] = []

    def interceptor(next_fun, args, kwargs, context):
        module = context.module
        if context.method_name != "__call__" or not _is_target(module):
            return next_fun(*args, **kwargs)
        y = next_fun(*args, **kwargs)
        stats = None
        if isinstance(module, nn.BatchNorm):
            running = kwargs.get("use_running_average", module.use_running_average)
            if not running:
                raise ConfigError(
                    f"BatchNorm {_scope(module)!r} runs in training mode; Θ needs frozen "
                    "BatchNorm (use_running_average=True, i.e. the model's eval mode)."
                )
            stats = (
                module.get_variable("batch_stats", "mean"),
                module.get_variable("batch_stats", "var"),
            )
        k = len(records)
        records.append(_Record(module=module, x=args[0], y=y, stats=stats))
        if taps is not None:
            y = y + taps[k].astype(y.dtype)
        return y

    with nn.intercept_methods(interceptor):
        out = apply_fn(params, x)
    return out, records


def _leaf(index: dict[str, int], scope: str, name: str, selected: set[int]) -> int | None:
    for path in (f"{scope}/{name}", f"params/{scope}/{name}"):
        if path in index:
            i = index[path]
            return i if i in selected else None
    return None


def _conv_geometry(module: Any, spec: LayerSpec) -> LayerSpec:
    """``spec`` with the kernel size, strides and explicit padding of conv ``module``."""
    in_shape = spec.in_shape
    kh, kw = _pair(module.kernel_size, 1)
    strides = _pair(module.strides, 1)
    if isinstance(module, nn.Conv):
        for name in ("input_dilation", "kernel_dilation"):
            if _pair(getattr(module, name), 1) != (1, 1):
                raise KroneckerUnsupported(
                    f"nn.Conv {_scope(module)!r} uses {name}; NtkMethod.KRONECKER supports "
                    "undilated convolutions only. Use NtkMethod.SKETCH for this model."
                )
    padding: Any = module.padding
    if isinstance(padding, int):
        padding = ((padding, padding), (padding, padding))
    if isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
        raise KroneckerUnsupported(
            f"conv {_scope(module)!r} has padding {padding!r}; NtkMethod.KRONECKER supports "
            "'SAME', 'VALID' and explicit pairs. Use NtkMethod.SKETCH for this model."
        )
    pads = explicit_padding(padding, (in_shape[0], in_shape[1]), (kh, kw), strides)
    return dataclasses.replace(
        spec,
        kernel_hw=(kh, kw),
        strides=strides,
        pads=tuple((int(a), int(b)) for a, b in pads),
    )


def discover_layers(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x1: jax.Array,
    layout: ParamLayout,
) -> tuple[LayerSpec, ...]:
    """Trace ``apply_fn`` once (abstractly) and describe every supported module call.

    Raises:
        KroneckerUnsupported: a selected parameter belongs to an unsupported module, a layer
            is called twice (weight sharing), or a convolution is grouped but not depthwise.
        ConfigError: a BatchNorm runs in training mode.
    """
    captured: list[tuple[Any, tuple[int, ...], tuple[int, ...]]] = []

    def trace(p, xb):
        out, records = run_with_taps(apply_fn, p, xb, None)
        for r in records:
            captured.append((r.module, tuple(r.x.shape[1:]), tuple(r.y.shape[1:])))
        return out

    jax.eval_shape(trace, params, x1)
    index = {p: i for i, p in enumerate(layout.paths)}
    selected = set(layout.selected)
    specs: list[LayerSpec] = []
    seen: set[str] = set()
    covered: set[int] = set()
    for module, in_shape, out_shape in captured:
        scope = _scope(module)
        if scope in seen:
            raise KroneckerUnsupported(
                f"module {scope!r} is applied more than once (shared weights); "
                "NtkMethod.KRONECKER needs each layer applied once. Use NtkMethod.SKETCH."
            )
        seen.add(scope)
        is_norm = isinstance(module, nn.BatchNorm)
        kernel = _leaf(index, scope, "scale" if is_norm else "kernel", selected)
        bias = _leaf(index, scope, "bias", selected)
        covered.update(i for i in (kernel, bias) if i is not None)
        base = LayerSpec(
            kind=LayerKind.CONV,
            scope=scope,
            kernel=kernel,
            bias=bias,
            in_shape=in_shape,
            out_shape=out_shape,
        )
        if is_norm:
            if module.axis not in (-1, len(in_shape)):
                raise KroneckerUnsupported(
                    f"BatchNorm {scope!r} normalises axis {module.axis}; NtkMethod.KRONECKER "
                    "supports the last (feature) axis only. Use NtkMethod.SKETCH."
                )
            specs.append(
                dataclasses.replace(base, kind=LayerKind.NORM, epsilon=float(module.epsilon))
            )
        elif isinstance(module, nn.Dense):
            specs.append(base)
        else:
            if len(in_shape) != 3:
                raise KroneckerUnsupported(
                    f"conv {scope!r}: NtkMethod.KRONECKER supports 2-D convs only."
                )
            groups = int(module.feature_group_count)
            cin, cout = in_shape[-1], out_shape[-1]
            kind = LayerKind.CONV
            if groups > 1:
                if not groups == cin == cout:
                    raise KroneckerUnsupported(
                        f"conv {scope!r} is grouped ({groups} groups, {cin}→{cout}); "
                        "NtkMethod.KRONECKER supports dense and depthwise convs. "
                        "Use NtkMethod.SKETCH for this model."
                    )
                kind = LayerKind.DEPTHWISE
            specs.append(_conv_geometry(module, dataclasses.replace(base, kind=kind)))
    missing = [layout.paths[i] for i in layout.selected if i not in covered]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise KroneckerUnsupported(
            f"NtkMethod.KRONECKER factors the gradients of Conv, nn.Conv, nn.Dense and frozen "
            f"nn.BatchNorm layers only; these selected parameters belong to other modules: "
            f"{shown}. Exclude them with param_filter or use NtkMethod.SKETCH."
        )
    return tuple(specs)
