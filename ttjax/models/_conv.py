"""A drop-in ``nn.Conv`` whose convolution can be written as im2col + one matmul.

XLA's CPU convolutions are slow for training ResNets (≈ 20 GFLOP/s for
ResNet-18 forward+backward on 2 cores), while the same convolution written as
"gather the k×k patches, then one dot" runs near matmul speed (see
``docs/ARCHITECTURE.md`` and ``scripts/bench_models.py``). Both the NTK engine
(per-example gradients under ``vmap``) and real fine-tuning go through this layer.

The parameters have exactly ``nn.Conv``'s layout (``kernel [kh, kw, in/groups, out]``,
``bias [out]``), so checkpoints and name maps do not depend on the implementation.

For stride ``s``, kernel ``k`` and padded input ``x̃``, every implementation computes

.. math::
    y[b, i, j, o] = \\sum_{p, q, c} x̃[b, s i + p, s j + q, c] \\, K[p, q, c, o] + \\beta[o].
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.dtypes import promote_dtype
from jax import lax
from jaxtyping import Array, Float

from ._depthwise import depthwise_conv_shifted

Padding = str | Sequence[tuple[int, int]]


class ConvImpl(enum.Enum):
    """How :class:`Conv` computes a convolution.

    * ``AUTO``: ``IM2COL`` when the default JAX backend is the CPU, ``XLA`` otherwise
      (resolved when the model is built, see :func:`resolve_conv_impl`).
    * ``XLA``: ``lax.conv_general_dilated`` (what ``nn.Conv`` does; best on GPU/TPU).
    * ``IM2COL``: k·k strided slices concatenated on the channel axis, then one
      ``dot`` with the kernel reshaped to ``[k·k·in, out]`` (depthwise: k·k shifted
      multiply-adds, :func:`ttjax.models._depthwise.depthwise_conv_shifted`).
    * ``PATCHES``: ``lax.conv_general_dilated_patches`` then one ``dot`` (its patch
      layout is channel-major, so the kernel is transposed to ``[in, kh, kw, out]``;
      depthwise: the same shifted multiply-adds as ``IM2COL``).
    """

    AUTO = "auto"
    XLA = "xla"
    IM2COL = "im2col"
    PATCHES = "patches"


def resolve_conv_impl(impl: ConvImpl) -> ConvImpl:
    """Replace ``ConvImpl.AUTO`` by the fastest implementation on the default backend.

    Example:
        >>> resolve_conv_impl(ConvImpl.XLA)
        <ConvImpl.XLA: 'xla'>
    """
    if impl is not ConvImpl.AUTO:
        return impl
    return ConvImpl.IM2COL if jax.default_backend() == "cpu" else ConvImpl.XLA


def explicit_padding(
    padding: Padding, in_hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int]
) -> list[tuple[int, int]]:
    """Padding as explicit ``(low, high)`` pairs (``"SAME"`` is TensorFlow's rule).

    ``"SAME"``: total ``max((⌈n/s⌉ − 1) s + k − n, 0)``, ``low = total // 2`` (the
    extra pixel goes to the bottom/right), as in ``lax.padtype_to_pads``.
    """
    if isinstance(padding, str):
        return list(lax.padtype_to_pads(in_hw, kernel, strides, padding.upper()))
    return [(int(lo), int(hi)) for lo, hi in padding]


def im2col_patches(
    x: Float[Array, "B H W C"],
    kernel_hw: tuple[int, int],
    strides: tuple[int, int],
    pads: list[tuple[int, int]],
) -> Float[Array, "B Ho Wo K C"]:
    """The ``kh·kw`` shifted, strided views of ``x`` stacked on a new tap axis."""
    kh, kw = kernel_hw
    sh, sw = strides
    x = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    h, w = x.shape[1], x.shape[2]
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    taps = [
        lax.slice(
            x,
            (0, p, q, 0),
            (x.shape[0], p + sh * (ho - 1) + 1, q + sw * (wo - 1) + 1, x.shape[3]),
            (1, sh, sw, 1),
        )
        for p in range(kh)
        for q in range(kw)
    ]
    return jnp.stack(taps, axis=3)


def conv2d(
    x: Float[Array, "B H W Cin"],
    kernel: Float[Array, "kh kw Cg Cout"],
    *,
    strides: tuple[int, int],
    padding: Padding,
    feature_group_count: int = 1,
    impl: ConvImpl,
) -> Float[Array, "B Ho Wo Cout"]:
    """2-D convolution (NHWC, HWIO) by the implementation ``impl``.

    Supports dense convolutions and depthwise ones (``feature_group_count == Cin == Cout``).

    Example:
        >>> x = jnp.ones((1, 5, 5, 2)); k = jnp.ones((3, 3, 2, 4))
        >>> conv2d(x, k, strides=(1, 1), padding="SAME", impl=ConvImpl.IM2COL).shape
        (1, 5, 5, 4)
    """
    impl = resolve_conv_impl(impl)
    kh, kw, cg, cout = kernel.shape
    cin = x.shape[-1]
    pads = explicit_padding(padding, (x.shape[1], x.shape[2]), (kh, kw), strides)
    depthwise = feature_group_count > 1
    if depthwise and not (feature_group_count == cin == cout and cg == 1):
        impl = ConvImpl.XLA  # general grouped convolutions: no im2col formulation here
    if impl is ConvImpl.XLA:
        return lax.conv_general_dilated(
            x,
            kernel,
            window_strides=strides,
            padding=pads,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=feature_group_count,
        )
    if depthwise:  # k·k shifted multiply-adds, fused by XLA (see ._depthwise)
        return depthwise_conv_shifted(x, kernel, strides=strides, pads=pads)
    if kh == 1 and kw == 1 and all(p == (0, 0) for p in pads):
        xs = x[:, :: strides[0], :: strides[1], :]
        return jnp.dot(xs, kernel.reshape(cin, cout))
    if impl is ConvImpl.PATCHES:
        cols = lax.conv_general_dilated_patches(
            x,
            (kh, kw),
            strides,
            pads,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )  # [B, Ho, Wo, Cin*kh*kw], channel-major
        k2 = jnp.transpose(kernel, (2, 0, 1, 3)).reshape(cin * kh * kw, cout)
        return jnp.dot(cols, k2)
    cols = im2col_patches(x, (kh, kw), strides, pads)  # [B, Ho, Wo, kh*kw, Cin]
    b, ho, wo = cols.shape[:3]
    return jnp.dot(cols.reshape(b, ho, wo, kh * kw * cin), kernel.reshape(kh * kw * cin, cout))


class Conv(nn.Module):
    """``nn.Conv`` replacement (same parameter names and shapes) with a choice of algorithm.

    Attributes:
        features: output channels.
        kernel_size: ``(kh, kw)``.
        strides: ``(sh, sw)``.
        padding: ``"SAME"`` (TensorFlow rule), ``"VALID"`` or explicit ``[(lo, hi), (lo, hi)]``.
        use_bias: add a bias (initialised to zero).
        feature_group_count: 1 (dense) or the number of channels (depthwise).
        impl: :class:`ConvImpl`.

    Example:
        >>> layer = Conv(4, (3, 3), padding=[(1, 1), (1, 1)], impl=ConvImpl.IM2COL)
        >>> v = layer.init(jax.random.key(0), jnp.ones((1, 8, 8, 3)))
        >>> v["params"]["kernel"].shape
        (3, 3, 3, 4)
    """

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: Padding = "SAME"
    use_bias: bool = True
    feature_group_count: int = 1
    impl: ConvImpl = ConvImpl.AUTO
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: Float[Array, "B H W Cin"]) -> Float[Array, "B Ho Wo Cout"]:
        cin = x.shape[-1]
        kshape = (*self.kernel_size, cin // self.feature_group_count, self.features)
        kernel = self.param("kernel", self.kernel_init, kshape, jnp.float32)
        x, kernel = promote_dtype(x, kernel)
        y = conv2d(
            x,
            kernel,
            strides=self.strides,
            padding=self.padding,
            feature_group_count=self.feature_group_count,
            impl=self.impl,
        )
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
            y = y + bias.astype(y.dtype)
        return y
