"""The structural types where the layers meet: a network, a training set, a kernel.

The prediction core, the real run and the dynamics ask only for these attributes, so a
:class:`ttjax.models.Model`, a :class:`ttjax.data.Task` and a :class:`ttjax.ntk.NtkResult` fit,
and so does any object with the same fields (a hand-written linear model in a test, the
extrapolated :class:`ttjax.extrapolate.SurrogateNtk`). ``runtime_checkable``: under pytest the
jaxtyping/beartype hook checks the attributes at each call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
from jaxtyping import Array, Float, Int, UInt8

from ._types import PyTree

ApplyFn = Callable[[PyTree, Float[Array, "B S S 3"]], Float[Array, "B C"]]
"""``apply_fn(params, x) -> logits``: x preprocessed float ``[B, S, S, 3]``."""

PreprocessFn = Callable[[UInt8[np.ndarray, "B S S 3"]], Float[Array, "B S S 3"]]
"""``preprocess(uint8 images) -> float images``, the model's own normalisation."""


@runtime_checkable
class Network(Protocol):
    """A network at its pretrained parameters: what Θ, the real run and the timing need.

    ``f(x) = apply_fn(params, preprocess(images))``; the head has ``num_classes`` outputs and
    the input is ``image_size × image_size``.
    """

    @property
    def params(self) -> PyTree: ...

    @property
    def apply_fn(self) -> ApplyFn: ...

    @property
    def preprocess(self) -> PreprocessFn: ...

    @property
    def image_size(self) -> int: ...

    @property
    def num_classes(self) -> int: ...


@runtime_checkable
class TrainingSet(Protocol):
    """The N training examples of a task: uint8 images and labels in 0..K−1."""

    @property
    def images(self) -> UInt8[np.ndarray, "N S S 3"]: ...

    @property
    def labels(self) -> Int[np.ndarray, " N"]: ...

    @property
    def num_classes(self) -> int: ...

    @property
    def num_examples(self) -> int: ...


@runtime_checkable
class Kernel(Protocol):
    """Θ ``[N·C, N·C]`` (example-major), f0 ``[N, C]`` and an optional factor F (F Fᵀ ≈ Θ)."""

    @property
    def theta(self) -> Float[np.ndarray, "NC NC"] | Float[Array, "NC NC"]: ...

    @property
    def f0(self) -> Float[np.ndarray, "N C"] | Float[Array, "N C"]: ...

    @property
    def features(self) -> Float[np.ndarray, "R D"] | Float[Array, "R D"] | None: ...


__all__ = ["ApplyFn", "Kernel", "Network", "PreprocessFn", "TrainingSet"]
