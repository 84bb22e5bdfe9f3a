"""What a model says about its checkpoints: the torch name map and the ImageNet source.

Each network's module in the model package builds one :class:`CheckpointSpec` next to its
architecture (in the manner of big_vision's model modules, which own both a network and the
way its checkpoint's names map onto its parameters); :mod:`ttjax.weights` reads files and
applies the spec without knowing any architecture.
"""

from __future__ import annotations

import dataclasses

from ._name_map import Row
from ._sources import Source


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckpointSpec:
    """How ``weights=`` is resolved for one model.

    Attributes:
        table: the torch state dict → flax name map (``(torch_prefix, flax_path, Kind)`` rows,
            :mod:`ttjax.weights._name_map`); ``None``: the model has no torch layout and loads
            only flax variables files (``.npz``/``.msgpack``).
        imagenet: where ``weights="imagenet"`` comes from; ``None``: no ImageNet checkpoint.
        no_imagenet: the message of the ``ConfigError`` raised for ``weights="imagenet"`` when
            ``imagenet`` is ``None`` (``None``: a generic one naming the model).

    Example:
        >>> CheckpointSpec().table is None
        True
    """

    table: tuple[Row, ...] | None = None
    imagenet: Source | None = None
    no_imagenet: str | None = None
