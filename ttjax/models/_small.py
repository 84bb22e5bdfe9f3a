"""Small CNNs: ``tiny`` (one residual block, for tests) and ``small_cnn`` (~93 k params).

Both use :class:`~ttjax.models._conv.Conv` and BatchNorm (inference mode unless
``train=True``), global average pooling and a fresh ``Dense`` head named ``head``. Neither has
a torch layout nor ImageNet weights: pretrained weights are flax variables files (e.g. from
:func:`ttjax.benchmark.pretrain`).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._conv import Conv, ConvImpl
from ._preprocess import unit_normalize
from ._spec import ModelSpec

_PAD1 = ((1, 1), (1, 1))


class TinyCNN(nn.Module):
    """stem conv 3×3 → one basic residual block (two 3×3 convs + BN) → pool → head.

    With ``width=16`` it has ≈ 5 k parameters plus the head (16·C + C).

    Example:
        >>> import jax
        >>> m = TinyCNN(num_classes=3)
        >>> v = m.init(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))
        >>> m.apply(v, jnp.zeros((2, 8, 8, 3))).shape
        (2, 3)
    """

    num_classes: int
    width: int = 16
    conv_impl: ConvImpl = ConvImpl.AUTO

    @nn.compact
    def __call__(self, x: Float[Array, "B S S 3"], train: bool = False) -> Float[Array, "B C"]:
        def bn(name: str) -> nn.BatchNorm:
            return nn.BatchNorm(use_running_average=not train, momentum=0.9, name=name)

        x = Conv(
            self.width, (3, 3), padding=_PAD1, use_bias=False, impl=self.conv_impl, name="conv_init"
        )(x)
        x = nn.relu(bn("bn_init")(x))
        r = Conv(
            self.width, (3, 3), padding=_PAD1, use_bias=False, impl=self.conv_impl, name="conv1"
        )(x)
        r = nn.relu(bn("bn1")(r))
        r = Conv(
            self.width, (3, 3), padding=_PAD1, use_bias=False, impl=self.conv_impl, name="conv2"
        )(r)
        x = nn.relu(x + bn("bn2")(r))
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)


class SmallCNN(nn.Module):
    """Conv-BN-ReLU stages with 2×2 max-pooling between them, global pool, head.

    Default ``stages=((32, 32), (64, 64), (48,))``: 93 k parameters without the head,
    the size of the network measured in ``PERFORMANCE.md``. Fine-tunes fast on a CPU.

    Example:
        >>> import jax
        >>> m = SmallCNN(num_classes=5)
        >>> v = m.init(jax.random.key(0), jnp.zeros((1, 28, 28, 3)))
        >>> m.apply(v, jnp.zeros((2, 28, 28, 3))).shape
        (2, 5)
    """

    num_classes: int
    stages: Sequence[Sequence[int]] = ((32, 32), (64, 64), (48,))
    conv_impl: ConvImpl = ConvImpl.AUTO

    @nn.compact
    def __call__(self, x: Float[Array, "B S S 3"], train: bool = False) -> Float[Array, "B C"]:
        for i, stage in enumerate(self.stages):
            if i > 0:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
            for j, width in enumerate(stage):
                x = Conv(
                    width,
                    (3, 3),
                    padding=_PAD1,
                    use_bias=False,
                    impl=self.conv_impl,
                    name=f"conv{i}_{j}",
                )(x)
                x = nn.BatchNorm(use_running_average=not train, momentum=0.9, name=f"bn{i}_{j}")(x)
                x = nn.relu(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, name="head")(x)


TINY = ModelSpec(make=TinyCNN, preprocess=unit_normalize, min_size=1)
SMALL_CNN = ModelSpec(make=SmallCNN, preprocess=unit_normalize, min_size=4)
