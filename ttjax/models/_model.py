"""The :class:`Model` container every other part of ttjax consumes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn
from jaxtyping import Array, Float

from .._types import PyTree

ApplyFn = Callable[[PyTree, Float[Array, "B S S 3"]], Float[Array, "B C"]]
PreprocessFn = Callable[[Any], Float[Array, "B S S 3"]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Model:
    """A network ready for fine-tuning / linearisation, with frozen BatchNorm.

    Attributes:
        name: the registry name (``"resnet18"``, ``"tiny"``, ...).
        params: trainable parameters: the *whole* network, with a fresh C-way head
            under ``params["head"]``.
        apply_fn: ``apply_fn(params, x) -> logits [B, C]`` for preprocessed float
            ``x [B, S, S, 3]``. BatchNorm runs in inference mode with the running
            statistics (``batch_stats``) closed over, so the output for one example
            depends only on ``params`` and that example.
        preprocess: ``uint8 [B, S, S, 3] -> float32 [B, S, S, 3]`` normalisation.
        image_size: ``S``, the square input size the model is built for.
        num_classes: ``C``, outputs of the head.
        weights: where the backbone weights came from (``"random"``, ``"imagenet (...)"``,
            or a path).
        module: the flax module (``module.apply({"params", "batch_stats"}, x, train=...)``),
            for code that trains BatchNorm statistics, e.g. offline pretraining.
        batch_stats: BatchNorm running statistics (empty dict for models without BN).
    """

    name: str
    params: PyTree
    apply_fn: ApplyFn
    preprocess: PreprocessFn
    image_size: int
    num_classes: int
    weights: str
    module: nn.Module
    batch_stats: PyTree

    @property
    def variables(self) -> dict[str, PyTree]:
        """``{"params": ..., "batch_stats": ...}`` as flax expects (for saving)."""
        return {"params": self.params, "batch_stats": self.batch_stats}

    @property
    def num_params(self) -> int:
        """Number of trainable scalars."""
        import jax

        return sum(int(x.size) for x in jax.tree_util.tree_leaves(self.params))
