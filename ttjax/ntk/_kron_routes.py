"""Routes of the layer-factored Θ (``NtkMethod.KRONECKER``): how each layer enters Θ.

For a convolution (or dense layer, L = 1) with patches ``p_{i,l}`` (kh·kw·Cin) at its L
output positions and output cotangents ``g_{ic,l} = ∂f_c(x_i)/∂y_{i,l}``, the gradient of
output c of example i w.r.t. the kernel is a sum of outer products (Novak et al. 2022):

.. math::
    A_{ic} = \\sum_l p_{i,l} \\, g_{ic,l}^\\top, \\qquad
    Θ^{\\text{layer}}_{(i,c),(j,c')} = \\langle A_{ic}, A_{jc'} \\rangle_F .

Each layer is contracted by the cheapest route that keeps it unbiased:

* ``GRAM`` (L = 1: dense layers, convs with a 1×1 output): exactly,
  ``(p_i · p_j)(g_{ic} · g_{jc'})`` — a Gram of inputs times a Gram of cotangents;
* ``RAW`` (d_in·d_out ≤ k²): the per-example gradient ``A_ic`` itself as features;
* ``KRON``: the Kronecker sketch ``φ_ic = S_aᵀ A_ic S_δ / √(k_a k_δ)
  = (P_i S_a)ᵀ (G_ic S_δ) / √(k_a k_δ)`` with Gaussian ``S_a ∈ R^{d_in×k}``,
  ``S_δ ∈ R^{d_out×k}`` (a side with ≤ k rows is kept exact, S = I). Unbiased because
  ``E[(S_δ ⊗ S_a)(S_δ ⊗ S_a)ᵀ] = k_δ I ⊗ k_a I``; cost L·(d_in + C·d_out)·k per example;
* depthwise convs: the exact per-channel gradients ``Σ_l p_{l,c} g_{l,c}``, count-sketched
  to k² columns when larger; frozen BatchNorm: exact ``Σ_l x̂_l ∘ g_l`` and ``Σ_l g_l``;
  biases: exact ``Σ_l g_l``.

All cotangents come from one forward pass and C batched backward passes w.r.t. zero taps
on the layer outputs (:mod:`ttjax.ntk._layers`) — data gradients only, which is about the
cost of C forward passes. Then ``Θ = Φ Φᵀ + Σ_GRAM layers``.
"""

from __future__ import annotations

import dataclasses
import enum
import math

from ._layers import LayerKind, LayerSpec


class Route(enum.Enum):
    """How one layer's kernel (or BatchNorm scale) enters Θ."""

    GRAM = "gram"
    RAW = "raw"
    KRON = "kron"
    COUNT_SKETCH = "count_sketch"
    NONE = "none"  # kernel not selected


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """A layer and its route; ``k_in``/``k_out`` = 0 keep that side exact."""

    spec: LayerSpec
    route: Route
    k_in: int = 0
    k_out: int = 0
    replicas: int = 1  # independent Kronecker sketches averaged (KRON)
    sketch_dim: int = 0  # COUNT_SKETCH columns

    @property
    def kernel_features(self) -> int:
        s = self.spec
        if self.route is Route.RAW:
            if s.kind is LayerKind.NORM:
                return s.d_out
            if s.kind is LayerKind.DEPTHWISE:
                return s.kernel_hw[0] * s.kernel_hw[1] * s.d_out
            return s.d_in * s.d_out
        if self.route is Route.KRON:
            return self.replicas * (self.k_in or s.d_in) * (self.k_out or s.d_out)
        if self.route is Route.COUNT_SKETCH:
            return self.sketch_dim
        return 0

    @property
    def features(self) -> int:
        if self.spec.kind is LayerKind.NORM and self.route is Route.COUNT_SKETCH:
            return self.sketch_dim  # scale and bias sketched together
        return self.kernel_features + (self.spec.d_out if self.spec.bias is not None else 0)


@dataclasses.dataclass(frozen=True)
class KronPlan:
    """All layers' routes (static, hashable: a jit static argument)."""

    layers: tuple[LayerPlan, ...]
    k: int

    @property
    def features(self) -> int:
        return sum(lp.features for lp in self.layers)

    @property
    def gram_layers(self) -> tuple[int, ...]:
        return tuple(i for i, lp in enumerate(self.layers) if lp.route is Route.GRAM)


def _raw_is_cheaper(s: LayerSpec, *, k: int, block: int, n: int, outputs: int) -> bool:
    """Multiply-adds of the exact per-example gradient (``N·C·L·d_in·d_out`` to form it,
    ``(NC)²·d_in·d_out`` in the Gram) vs the sketch (``N·L·(d_in + C·d_out)·k²/b`` to project,
    ``N·C·L·k²`` to contract, ``(NC)²·k²`` in the Gram): exact wins for small, high-resolution
    layers (e.g. the first convs of a small CNN on 28×28 images)."""
    m = n * outputs
    raw = s.d_in * s.d_out * (m * s.positions + m * m)
    proj = n * s.positions * (s.d_in + outputs * s.d_out) / block
    kron = k * k * (proj + m * s.positions + m * m)
    return raw <= kron


def plan_layers(
    specs: tuple[LayerSpec, ...], *, projection_dim: int, block: int, n: int, outputs: int
) -> KronPlan:
    """Choose each layer's route (cost model: :func:`_raw_is_cheaper`).

    Each sketched layer gets about D′ / #sketched-layers = k² features (k ≥ 8), made of
    ``R = k² / block²`` independent Kronecker sketches of size block × block, averaged.
    Small blocks cost more projection work (∝ 1/block) but have lower variance: for a
    rank-one gradient ``p gᵀ`` one block×block sketch has relative variance ≈ 2/block,
    so R of them ≈ 2·block/k². Measured on random-init ResNet-18 at 32×32, D′ = 16384
    (k = 33), N = 10, mean of 3 seeds: block 1/2/4/8/33 → 3.9/4.2/5.0/6.9/11.9% relative
    Frobenius error; Θ at N = 750 took 25/16/13 s for block 1/2/4 (2-core CPU, shared).
    Hence the default block 2.
    """
    big = [s for s in specs if s.kernel is not None and s.kind is not LayerKind.NORM]
    big = [s for s in big if s.positions > 1]
    k = max(8, math.isqrt(max(1, projection_dim // max(1, len(big)))))
    plans = []
    for s in specs:
        if s.kernel is None:
            plans.append(LayerPlan(spec=s, route=Route.NONE))
        elif s.kind is LayerKind.NORM:
            dim = s.d_out * (2 if s.bias is not None else 1)
            route = Route.RAW if dim <= k * k else Route.COUNT_SKETCH
            plans.append(LayerPlan(spec=s, route=route, sketch_dim=k * k))
        elif s.kind is LayerKind.DEPTHWISE:
            dim = s.kernel_hw[0] * s.kernel_hw[1] * s.d_out
            if dim <= k * k:
                plans.append(LayerPlan(spec=s, route=Route.RAW))
            else:
                plans.append(LayerPlan(spec=s, route=Route.COUNT_SKETCH, sketch_dim=k * k))
        elif s.positions == 1:
            plans.append(LayerPlan(spec=s, route=Route.GRAM))
        elif s.d_in * s.d_out <= k * k or _raw_is_cheaper(
            s, k=k, block=block, n=n, outputs=outputs
        ):
            plans.append(LayerPlan(spec=s, route=Route.RAW))
        else:
            kb = min(block, k)
            reps = max(1, (k * k) // (kb * kb))
            k_in = kb if s.d_in > kb else 0
            k_out = kb if s.d_out > kb else 0
            plans.append(LayerPlan(spec=s, route=Route.KRON, k_in=k_in, k_out=k_out, replicas=reps))
    return KronPlan(layers=tuple(plans), k=k)
