"""Configuration and result types of the empirical-NTK engine.

Θ = J Jᵀ with J = ∂f/∂w the Jacobian of the logits at the pretrained weights
(paper eq. 2, §4), laid out example-major: row ``i*C + c`` is output ``c`` of
example ``i``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

import numpy as np

from .._errors import ConfigError
from .._fields import set_enum, set_int


class NtkMethod(enum.Enum):
    """How Θ is built. All methods return the same ``[N·C, N·C]`` layout.

    Costs below: F = one forward pass of one image, D = number of (selected)
    parameters, D′ = ``projection_dim``, N examples, C outputs.

    * ``AUTO`` (the default): resolved per model by :func:`ttjax.ntk.compute_ntk` to
      ``KRONECKER`` when every selected parameter belongs to a layer it factors (Flax
      Conv/Dense/frozen BatchNorm), else to ``EXACT`` when D ≤ D′ and the exact features fit
      the memory budget in one parameter group (then exact costs (NC)²·D ≤ the sketch's
      (NC)²·D′), else to ``SKETCH``. ``NtkResult.method`` is the resolved method and
      ``NtkResult.diagnostics["method_choice"]`` says why.
    * ``EXACT``: per-example, per-output gradients (1 forward + C backward per
      example, ≈ (1 + 2C)F), contracted exactly, ``Θ = Σ_groups J_g J_gᵀ``. Streams
      over example blocks and, when ``N·C·D`` does not fit the memory budget, over
      parameter groups (one extra backward sweep per group). Cost ``(NC)²·D``
      multiply-adds: the oracle, affordable for small models or small N.
    * ``GAUSSIAN``: ``Θ ≈ (JP)(JP)ᵀ / D′`` with ``P`` a ``D × D′`` i.i.d. N(0, 1)
      matrix generated block-by-block from the key (never stored). Unbiased;
      relative error ≈ √(2/D′)·‖Θ‖-ish. Cost ``N·C·D·D′`` — the paper's method,
      hundreds of training steps for ResNet-18.
    * ``SPARSE``: same with Achlioptas entries √3·{−1, 0, +1} with probabilities
      {1/6, 2/3, 1/6}. Unbiased, same error scale as ``GAUSSIAN``; in XLA the
      zeros are not skipped, so its speed is that of ``GAUSSIAN``.
    * ``SKETCH``: count-sketch of each per-example, per-output gradient to D′
      buckets (one hashed bucket and sign per parameter, a scatter-add):
      ``Θ ≈ S Sᵀ``. Unbiased; costs ``N·C·D`` adds after the ≈ (1 + 2C)F gradients.
    * ``KRONECKER``: layer-factored (``ttjax.ntk._kronecker``). A conv/dense layer's
      per-example gradient is ``Σ_l p_l g_lᵀ`` (input patches ⊗ output cotangents), so
      its part of Θ is contracted exactly when the layer has one output position
      (``(p_i·p_j)(g_ic·g_jc′)``) or few parameters, else by an unbiased Kronecker
      sketch ``(P_i S_a)ᵀ(G_ic S_δ)`` with k×k features per layer, k = √(D′/#layers);
      frozen BatchNorm, biases and depthwise convs exactly (depthwise count-sketched
      when larger than k²). Needs only one forward and C backward passes of *data*
      gradients (≈ (1 + C)F); supports Conv/nn.Conv/nn.Dense/frozen nn.BatchNorm.
    * ``TRACE`` (class structure): ``Θ ≈ Θ₁ ⊗ I_C`` with
      ``Θ₁ = (1/(kC)) Σ_probes (rᵀJ_i)(rᵀJ_j)ᵀ`` for k shared random ±1 probes
      r ∈ {±1}^C, each gradient count-sketched to D′ buckets. Because r_c² = 1,
      ``E_r[(rᵀJ_i)(rᵀJ_j)ᵀ] = Σ_c J_ic J_jcᵀ``, so Θ₁ estimates the class-mean
      of the diagonal blocks, ``(1/C) tr_c Θ``. Costs ≈ (1 + 2k)F per example:
      ≈ C× cheaper than any method keeping C outputs. Exact for the head of a
      linear classifier; misses cross-class blocks of the backbone part — see
      ``NtkResult.diagnostics["head_trace_share"]``.
    """

    AUTO = "auto"
    EXACT = "exact"
    KRONECKER = "kronecker"
    GAUSSIAN = "gaussian"
    SPARSE = "sparse"
    SKETCH = "sketch"
    TRACE = "trace"


class AccumDtype(enum.Enum):
    """Precision of the final Gram product Θ = F Fᵀ (features are in ``compute_dtype``)."""

    FLOAT32 = "float32"
    FLOAT64 = "float64"


ParamFilter = Callable[[str], bool]
"""Predicate on a parameter's path (``"layer4/conv1/kernel"``): True = include in Θ."""


def _default_head_filter(path: str) -> bool:
    return "head" in path.lower()


@dataclasses.dataclass(frozen=True, kw_only=True)
class NtkConfig:
    """Options of :func:`compute_ntk` (immutable, hashable).

    Attributes:
        method: which estimator (see :class:`NtkMethod`); default ``AUTO``.
        projection_dim: D′, number of sketch buckets / projection directions
            (ignored by ``EXACT``). ``None`` with ``TRACE`` contracts the probed
            gradients exactly (no sketch). Default 16384.
        probes: k, number of shared ±1 probes over the outputs (``TRACE``).
        kron_block: size b of each b×b Kronecker sketch (``KRONECKER``); D′/b² of them
            per layer are averaged. Smaller = more accurate per feature, more work.
        example_block: maximum examples per compiled block (per device); the
            engine lowers it to fit ``memory_budget_bytes``. ``None`` = automatic.
        param_block: maximum parameters per group for ``EXACT`` (``None`` =
            automatic from the budget).
        projection_chunk: rows of P generated at once by ``GAUSSIAN``/``SPARSE``.
        memory_budget_bytes: budget for the estimated peak; ``None`` = 50% of the
            available RAM (CPU) or 70% of the device memory (GPU/TPU).
        param_filter: predicate on parameter paths; only matching parameters
            contribute to Θ (e.g. ``lambda p: p.startswith("layer4")``).
        head_filter: predicate naming the classifier head's parameters, used only
            for the ``head_trace_share`` diagnostic.
        compute_dtype: dtype of the gradients and sketches (``np.float32``).
        accum_dtype: precision of the Gram product; ``FLOAT64`` runs in numpy when
            JAX's x64 mode is off.
        shard: split example blocks over all visible devices.
        progress: show a rich progress bar.
    """

    method: NtkMethod = NtkMethod.AUTO
    projection_dim: int | None = 16384
    probes: int = 1
    kron_block: int = 2
    example_block: int | None = None
    param_block: int | None = None
    projection_chunk: int = 4096
    memory_budget_bytes: int | None = None
    param_filter: ParamFilter | None = None
    head_filter: ParamFilter = _default_head_filter
    compute_dtype: Any = np.float32
    accum_dtype: AccumDtype = AccumDtype.FLOAT32
    shard: bool = True
    progress: bool = False

    def __post_init__(self) -> None:
        set_enum(self, "method", NtkMethod)
        set_enum(self, "accum_dtype", AccumDtype)
        for name in ("projection_dim", "probes", "kron_block", "example_block", "param_block",
                     "projection_chunk", "memory_budget_bytes"):  # fmt: skip
            set_int(self, name)
        needs_dim = self.method in (
            NtkMethod.GAUSSIAN,
            NtkMethod.SPARSE,
            NtkMethod.SKETCH,
            NtkMethod.KRONECKER,
            NtkMethod.AUTO,
        )
        if needs_dim and self.projection_dim is None:
            raise ConfigError(f"{self.method.name} needs projection_dim=D′ (e.g. 4096).")
        if self.projection_dim is not None and self.projection_dim < 1:
            raise ConfigError(f"projection_dim must be ≥ 1, got {self.projection_dim}.")
        if self.kron_block < 1:
            raise ConfigError(f"kron_block must be ≥ 1, got {self.kron_block}.")
        if self.probes < 1:
            raise ConfigError(f"probes must be ≥ 1, got {self.probes}.")
        for name in ("example_block", "param_block", "memory_budget_bytes"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be ≥ 1 or None, got {value}.")
        if self.projection_chunk < 1:
            raise ConfigError(f"projection_chunk must be ≥ 1, got {self.projection_chunk}.")
        if np.dtype(self.compute_dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ConfigError(
                f"compute_dtype must be float32 or float64, got {self.compute_dtype}."
            )

    def cache_key(self) -> dict[str, object]:
        """The options that change Θ's value (for :mod:`ttjax.ntk` caching)."""
        filt = self.param_filter
        return {
            "method": self.method.value,
            "projection_dim": None if self.method is NtkMethod.EXACT else self.projection_dim,
            "probes": self.probes if self.method is NtkMethod.TRACE else None,
            "kron_block": (
                self.kron_block if self.method in (NtkMethod.KRONECKER, NtkMethod.AUTO) else None
            ),
            "param_filter": None if filt is None else getattr(filt, "__qualname__", repr(filt)),
            "compute_dtype": np.dtype(self.compute_dtype).name,
            "accum_dtype": self.accum_dtype.value,
        }


DEFAULT_CONFIG = NtkConfig()


@dataclasses.dataclass(frozen=True, kw_only=True)
class NtkResult:
    """Θ and what comes with it.

    Attributes:
        theta: ``[N·C, N·C]`` example-major Θ (numpy; float32 or float64).
        f0: ``[N, C]`` logits at the pretrained weights.
        features: ``[N·C, D′]`` factor with ``features @ features.T ≈ theta`` (for
            ``GAUSSIAN``/``SPARSE``/``SKETCH``; for ``TRACE`` the ``[N, D′]``
            factor of ``theta_per_class``), else ``None``.
        theta_per_class: ``[N, N]`` Θ₁ with Θ ≈ Θ₁ ⊗ I_C (``TRACE`` only).
        method: the method used (for ``AUTO``, the one it resolved to; never ``AUTO``).
        timing_s: wall-clock seconds per stage (``"compile"``, ``"features"``,
            ``"gram"``, ``"total"``).
        diagnostics: ``head_trace_share`` (share of Σ_i ‖∇f_i‖² carried by the head
            parameters; near 1 ⇒ class structure holds), ``trace_share_by_module``,
            ``example_block``, ``param_groups``, ``devices``, ``estimated_peak_bytes``,
            ``method_choice`` (``{"requested", "chosen", "reason"}``).
    """

    theta: np.ndarray
    f0: np.ndarray
    features: np.ndarray | None
    theta_per_class: np.ndarray | None
    method: NtkMethod
    timing_s: dict[str, float]
    diagnostics: dict[str, Any] = dataclasses.field(default_factory=dict)
