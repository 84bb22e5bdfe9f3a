"""ResNet-18/34 in torchvision's layout (``torchvision.models.resnet``), Flax, and its checkpoint.

This module owns both the network and how torchvision's checkpoints map onto it (in the manner
of big_vision's model modules): the stage sizes (:data:`STAGE_SIZES`) are defined once here and
give both the architecture and the name map, and :data:`TORCHVISION_IMAGENET` says where the
ImageNet weights come from.

Module names follow torchvision's state-dict names so that the name map
(:func:`resnet_table`) stays a readable one-to-one table:
``conv1, bn1, layer{1..4}_{i}/{conv1, bn1, conv2, bn2, downsample_conv, downsample_bn}``
and the fresh classifier ``head`` (torchvision's ``fc``, dropped on load).

Block (``BasicBlock``, expansion 1): ``y = relu(bn2(conv2(relu(bn1(conv1(x))))) + sc(x))``
with ``sc`` = identity or 1×1 strided conv + BN when the shape changes.
Stems: ``imagenet`` = 7×7/2 conv (pad 3) + 3×3/2 max-pool (pad 1);
``cifar`` = 3×3/1 conv (pad 1), no pool (for 32×32 inputs).

=====================================  =====================================  ======
torchvision                            flax                                   kind
=====================================  =====================================  ======
``conv1``                              ``conv1``                              CONV
``bn1``                                ``bn1``                                BN
``layer{s}.{b}.conv1`` / ``.conv2``    ``layer{s}_{b}/conv1`` / ``conv2``     CONV
``layer{s}.{b}.bn1`` / ``.bn2``        ``layer{s}_{b}/bn1`` / ``bn2``         BN
``layer{s}.{b}.downsample.0``          ``layer{s}_{b}/downsample_conv``       CONV
``layer{s}.{b}.downsample.1``          ``layer{s}_{b}/downsample_bn``         BN
``fc``                                 (dropped: a fresh head is used)        DROP
=====================================  =====================================  ======

Downsample layers exist in the first block of stages 2–4 (stride 2, width doubles).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from ..weights import Checkpoint, CheckpointSpec, Kind, Row
from ._conv import Conv, ConvImpl
from ._preprocess import imagenet_normalize
from ._spec import ModelSpec

STAGE_SIZES: dict[str, tuple[int, ...]] = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
"""Basic blocks per stage of each depth: the one definition used by the network and the map."""

TORCHVISION_IMAGENET: dict[str, Checkpoint] = {
    "resnet18": Checkpoint(
        "resnet18-f37072fd.pth",
        "https://download.pytorch.org/models/resnet18-f37072fd.pth",
        "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
    ),
    "resnet34": Checkpoint(
        "resnet34-b627a593.pth",
        "https://download.pytorch.org/models/resnet34-b627a593.pth",
        "b627a593bcbe140c234610266fe4f8ae95ea42fc881d091c9b6052e6b1d0590f",
    ),
}
"""torchvision's published ImageNet checkpoints (file name, URL, full SHA-256)."""


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


ResNet18 = functools.partial(ResNet, stage_sizes=STAGE_SIZES["resnet18"])
ResNet34 = functools.partial(ResNet, stage_sizes=STAGE_SIZES["resnet34"])


def resnet_table(stage_sizes: Sequence[int]) -> list[Row]:
    """The name map of a torchvision basic-block ResNet with these stage sizes.

    Example:
        >>> resnet_table((2, 2, 2, 2))[2]
        ('layer1.0.conv1', 'layer1_0/conv1', <Kind.CONV: 'conv'>)
    """
    rows: list[Row] = [("conv1", "conv1", Kind.CONV), ("bn1", "bn1", Kind.BN)]
    for s, n_blocks in enumerate(stage_sizes, start=1):
        for b in range(n_blocks):
            t, f = f"layer{s}.{b}", f"layer{s}_{b}"
            rows += [
                (f"{t}.conv1", f"{f}/conv1", Kind.CONV),
                (f"{t}.bn1", f"{f}/bn1", Kind.BN),
                (f"{t}.conv2", f"{f}/conv2", Kind.CONV),
                (f"{t}.bn2", f"{f}/bn2", Kind.BN),
            ]
            if s > 1 and b == 0:
                rows += [
                    (f"{t}.downsample.0", f"{f}/downsample_conv", Kind.CONV),
                    (f"{t}.downsample.1", f"{f}/downsample_bn", Kind.BN),
                ]
    rows.append(("fc", "head", Kind.DROP))
    return rows


def resnet_spec(depth: str, *, stem: Stem) -> ModelSpec:
    """The registry entry of ``depth`` (a key of :data:`STAGE_SIZES`) with ``stem``.

    Both stems share torchvision's name map (a torchvision-layout file loads into either; the
    3×3 stem then fails the shape check). Only the ImageNet stem has ImageNet weights.

    Example:
        >>> resnet_spec("resnet18", stem=Stem.CIFAR).min_size
        8
    """
    stages = STAGE_SIZES[depth]
    table = tuple(resnet_table(stages))
    if stem is Stem.IMAGENET:
        checkpoint = CheckpointSpec(table=table, imagenet=TORCHVISION_IMAGENET[depth])
    else:
        checkpoint = CheckpointSpec(
            table=table,
            no_imagenet=(
                f"ImageNet weights need the ImageNet stem: use --model {depth} (the 3×3 stem "
                f"of {depth}_cifar cannot hold the 7×7 ImageNet conv1)."
            ),
        )
    return ModelSpec(
        make=functools.partial(ResNet, stage_sizes=stages, stem=stem),
        preprocess=imagenet_normalize,
        min_size=32 if stem is Stem.IMAGENET else 8,
        checkpoint=checkpoint,
    )


RESNET18 = resnet_spec("resnet18", stem=Stem.IMAGENET)
RESNET34 = resnet_spec("resnet34", stem=Stem.IMAGENET)
RESNET18_CIFAR = resnet_spec("resnet18", stem=Stem.CIFAR)
RESNET34_CIFAR = resnet_spec("resnet34", stem=Stem.CIFAR)
