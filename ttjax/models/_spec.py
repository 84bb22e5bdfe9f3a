""":class:`ModelSpec`: one registry entry — how to build a network and load its checkpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn

from ..weights import CheckpointSpec
from ._model import PreprocessFn


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything :func:`ttjax.models.create_model` needs to know about one model name.

    Attributes:
        make: ``make(num_classes=, conv_impl=) -> nn.Module``.
        preprocess: the network's input normalisation (uint8 images → float32).
        min_size: the smallest square input the network accepts.
        checkpoint: its torch name map and ImageNet source (:class:`ttjax.weights.CheckpointSpec`;
            default: neither, so only flax variables files load).

    Example:
        >>> from ._preprocess import unit_normalize
        >>> from ._small import TinyCNN
        >>> ModelSpec(make=TinyCNN, preprocess=unit_normalize, min_size=1).checkpoint.table is None
        True
    """

    make: Callable[..., nn.Module]
    preprocess: PreprocessFn
    min_size: int
    checkpoint: CheckpointSpec = dataclasses.field(default_factory=CheckpointSpec)
