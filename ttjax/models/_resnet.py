"""ResNet-18/34 in torchvision's layout (``torchvision.models.resnet``), Flax.

Module names follow torchvision's state-dict names so that the name map
(:mod:`ttjax.weights._resnet_map`) stays a readable one-to-one table:
``conv1, bn1, layer{1..4}_{i}/{conv1, bn1, conv2, bn2, downsample_conv, downsample_bn}``
and the fresh classifier ``head`` (torchvision's ``fc``, dropped on load).

Block (``BasicBlock``, expansion 1): ``y = relu(bn2(conv2(relu(bn1(conv1(x))))) + sc(x))``
with ``sc`` = identity or 1×1 strided conv + BN when the shape changes.
Stems: ``imagenet`` = 7×7/2 conv (pad 3) + 3×3/2 max-pool (pad 1);
``cifar`` = 3×3/1 conv (pad 1), no pool (for 32×32 inputs).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._conv import Conv, ConvImpl


class Stem(enum.Enum):
    """Input stem: torchvision's ImageNet stem, or a 3×3/1 stem without pooling."""

    IMAGENET = "imagenet"
    CIFAR = "cifar"


def _bn(train: bool, name: str) -> nn.BatchNorm:
    # torchvision: eps 1e-5, momentum 0.1 (flax's momentum is 1 − torch's).
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name)


class BasicBlock(nn.Module):
    """torchvision ``BasicBlock`` (two 3×3 convs, identity or projection shortcut)."""

    features: int
    strides: int = 1
    conv_impl: ConvImpl = ConvImpl.AUTO

    @nn.compact
    def __call__(self, x: Float[Array, "B H W Ci"], train: bool = False) -> Float[Array, "B h w C"]:
        s = (self.strides, self.strides)
        conv = functools.partial(Conv, use_bias=False, impl=self.conv_impl)
        y = conv(self.features, (3, 3), strides=s, padding=((1, 1), (1, 1)), name="conv1")(x)
        y = nn.relu(_bn(train, "bn1")(y))
        y = conv(self.features, (3, 3), padding=((1, 1), (1, 1)), name="conv2")(y)
        y = _bn(train, "bn2")(y)
        if self.strides != 1 or x.shape[-1] != self.features:
            x = conv(
                self.features, (1, 1), strides=s, padding=((0, 0), (0, 0)), name="downsample_conv"
            )(x)
            x = _bn(train, "downsample_bn")(x)
        return nn.relu(y + x)


class ResNet(nn.Module):
    """ResNet with basic blocks, torchvision layout, fresh ``Dense`` head ``head``.

    Attributes:
        num_classes: outputs of the head.
        stage_sizes: blocks per stage (ResNet-18: ``(2, 2, 2, 2)``, ResNet-34: ``(3, 4, 6, 3)``).
        stem: :class:`Stem`.
        width: channels of the first stage (64); doubles at every stage.
        conv_impl: :class:`~ttjax.models.ConvImpl`.

    Example:
        >>> import jax
        >>> m = ResNet18(num_classes=5, stem=Stem.CIFAR)
        >>> v = jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
        >>> v["params"]["head"]["kernel"].shape
        (512, 5)
    """

    num_classes: int
    stage_sizes: Sequence[int]
    stem: Stem = Stem.IMAGENET
    width: int = 64
    conv_impl: ConvImpl = ConvImpl.AUTO

    @nn.compact
    def __call__(self, x: Float[Array, "B S S 3"], train: bool = False) -> Float[Array, "B C"]:
        if self.stem is Stem.IMAGENET:
            x = Conv(
                self.width,
                (7, 7),
                strides=(2, 2),
                padding=((3, 3), (3, 3)),
                use_bias=False,
                impl=self.conv_impl,
                name="conv1",
            )(x)
            x = nn.relu(_bn(train, "bn1")(x))
            x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))  # pyright: ignore[reportArgumentType]
        else:
            x = Conv(
                self.width,
                (3, 3),
                padding=((1, 1), (1, 1)),
                use_bias=False,
                impl=self.conv_impl,
                name="conv1",
            )(x)
            x = nn.relu(_bn(train, "bn1")(x))
        for i, n_blocks in enumerate(self.stage_sizes):
            for j in range(n_blocks):
                x = BasicBlock(
                    self.width * 2**i,
                    strides=2 if (i > 0 and j == 0) else 1,
                    conv_impl=self.conv_impl,
                    name=f"layer{i + 1}_{j}",
                )(x, train)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)


ResNet18 = functools.partial(ResNet, stage_sizes=(2, 2, 2, 2))
ResNet34 = functools.partial(ResNet, stage_sizes=(3, 4, 6, 3))
