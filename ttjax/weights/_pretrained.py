"""Resolve ``weights=`` (``"imagenet"`` or a path) to backbone variables for a model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, WeightsError
from ._flax_io import FLAX_SUFFIXES, load_flax_variables
from ._name_map import Row, torch_to_flax
from ._sources import locate
from ._spec import CheckpointSpec
from ._torch_reader import load_torch_checkpoint

IMAGENET = "imagenet"
_WRAPPERS = ("state_dict.", "model.", "module.")


def _table(model_name: str, checkpoint: CheckpointSpec) -> tuple[Row, ...]:
    if checkpoint.table is None:
        raise WeightsError(
            f"{model_name} has no torch name map; load its weights from a .npz/.msgpack "
            "written by ttjax.weights.save_flax_variables."
        )
    return checkpoint.table


def _unwrap(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Strip ``state_dict.`` / ``model.`` / ``module.`` prefixes shared by every key."""
    changed = True
    while changed:
        changed = False
        for w in _WRAPPERS:
            if sd and all(k.startswith(w) for k in sd):
                sd = {k[len(w) :]: v for k, v in sd.items()}
                changed = True
    return sd


def load_pretrained_variables(
    *, model_name: str, checkpoint: CheckpointSpec, weights: str | os.PathLike[str]
) -> tuple[dict[str, Any], str]:
    """Flax variables (``params`` + ``batch_stats``; head ignored later) and a description.

    Args:
        model_name: the registry name, for messages.
        checkpoint: the model's :class:`CheckpointSpec` (name map and ImageNet source).
        weights: ``"imagenet"``, a flax variables file (``.npz``/``.msgpack``) or a torch
            checkpoint in the model's layout.

    Returns:
        ``(variables, description)``: ``description`` is ``"imagenet (<file name>)"`` or the
        path, as recorded in ``Model.weights``.

    Raises:
        ConfigError: ``"imagenet"`` for a model that has no ImageNet checkpoint.
        WeightsError, WeightsNotFoundError: see the loaders.
    """
    if isinstance(weights, str) and weights == IMAGENET:
        if checkpoint.imagenet is None:
            raise ConfigError(
                checkpoint.no_imagenet
                or f"{model_name} has no ImageNet weights; use --weights PATH to a file saved by "
                "ttjax.weights.save_flax_variables, or no weights (random init)."
            )
        path = locate(checkpoint.imagenet)
        sd = load_torch_checkpoint(path)
        return torch_to_flax(_unwrap(sd), _table(model_name, checkpoint), source=str(path)), (
            f"imagenet ({path.name})"
        )
    path = Path(weights)
    if path.suffix in FLAX_SUFFIXES:
        return load_flax_variables(path), str(path)
    table = _table(model_name, checkpoint)  # fails early for a network without a torch layout
    sd = load_torch_checkpoint(path)
    return torch_to_flax(_unwrap(sd), table, source=str(path)), str(path)
