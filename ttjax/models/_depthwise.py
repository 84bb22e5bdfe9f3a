"""Depthwise convolution as k·k shifted multiply-adds (the CPU route of :class:`ConvImpl`).

XLA:CPU lowers a depthwise ``conv_general_dilated`` (``feature_group_count = C``) to a
generic grouped-convolution loop that runs several times slower per FLOP than its dense
convolutions; the depthwise convolutions of EfficientNet-Lite0 dominated its step time. The
same convolution is a sum over the ``kh·kw`` taps of a strided view of the padded input times
that tap's per-channel weights — elementwise work that XLA fuses into one loop, channels last:

.. math::
    y[b, i, j, c] = \\sum_{p < k_h} \\sum_{q < k_w} x̃[b, s_h i + p, s_w j + q, c] \\, K[p, q, c].

Its gradients are the same expression's transposes (strided pads of ``g · K[p, q]`` and
``Σ_{b,i,j} x̃[…] g``), which XLA fuses in the same way in a training step. In Θ's cotangent
passes (:mod:`ttjax.ntk._kron_block`), where the input gradient feeds two consumers, XLA
materialises each tap's pad instead: ≈ a third of a KRONECKER block on EfficientNet-Lite0
(README, "Whole-process speed").
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float


def depthwise_conv_shifted(
    x: Float[Array, "B H W C"],
    kernel: Float[Array, "kh kw 1 C"],
    *,
    strides: tuple[int, int],
    pads: list[tuple[int, int]],
) -> Float[Array, "B Ho Wo C"]:
    """Depthwise 2-D convolution (NHWC, HWIO with ``I = 1``) by shifted multiply-adds.

    Args:
        x: input, channels last.
        kernel: ``[kh, kw, 1, C]`` (``nn.Conv``'s depthwise layout).
        strides: ``(sh, sw)``; a stride is a step of the strided slice.
        pads: explicit ``[(lo, hi), (lo, hi)]`` (see :func:`ttjax.models._conv.explicit_padding`).

    Example:
        >>> import jax
        >>> x = jax.random.normal(jax.random.key(0), (2, 7, 7, 3))
        >>> k = jax.random.normal(jax.random.key(1), (3, 3, 1, 3))
        >>> y = depthwise_conv_shifted(x, k, strides=(2, 2), pads=[(1, 1), (1, 1)])
        >>> ref = lax.conv_general_dilated(x, k, (2, 2), [(1, 1), (1, 1)],
        ...     dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=3)
        >>> y.shape, bool(jnp.allclose(y, ref, atol=1e-5))
        ((2, 4, 4, 3), True)
    """
    kh, kw, _, c = kernel.shape
    sh, sw = strides
    xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    b, h, w = xp.shape[0], xp.shape[1], xp.shape[2]
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    k2 = kernel.reshape(kh, kw, c)
    y = None
    for p in range(kh):
        for q in range(kw):
            view = lax.slice(
                xp,
                (0, p, q, 0),
                (b, p + sh * (ho - 1) + 1, q + sw * (wo - 1) + 1, c),
                (1, sh, sw, 1),
            )
            term = view * k2[p, q]
            y = term if y is None else y + term
    assert y is not None
    return y
