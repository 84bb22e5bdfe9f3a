"""Resolve ``weights=`` (``"imagenet"`` or a path) to backbone variables for a model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, WeightsError
from ._efficientnet_map import efficientnet_lite0_table
from ._flax_io import FLAX_SUFFIXES, load_flax_variables
from ._name_map import Row, torch_to_flax
from ._resnet_map import RESNET_STAGES, resnet_table
from ._sources import TORCHVISION_IMAGENET, efficientnet_lite0_wheel_path, fetch_checkpoint
from ._torch_reader import load_torch_checkpoint

IMAGENET = "imagenet"
_WRAPPERS = ("state_dict.", "model.", "module.")


def _table(model_name: str, family: str) -> list[Row]:
    if family == "resnet":
        return resnet_table(RESNET_STAGES[model_name.removesuffix("_cifar")])
    if family == "efficientnet_lite0":
        return efficientnet_lite0_table()
    raise WeightsError(
        f"{model_name} has no torch name map; load its weights from a .npz/.msgpack "
        "written by ttjax.weights.save_flax_variables."
    )


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
    *, model_name: str, family: str, weights: str | os.PathLike[str]
) -> tuple[dict[str, Any], str]:
    """Flax variables (``params`` + ``batch_stats``; head ignored later) and a description.

    Raises:
        ConfigError: ``"imagenet"`` for a model that has no ImageNet checkpoint.
        WeightsError, WeightsNotFoundError: see the loaders.
    """
    if isinstance(weights, str) and weights == IMAGENET:
        if family == "efficientnet_lite0":
            path = efficientnet_lite0_wheel_path()
        elif family == "resnet" and model_name in TORCHVISION_IMAGENET:
            path = fetch_checkpoint(TORCHVISION_IMAGENET[model_name])
        elif family == "resnet":
            base = model_name.removesuffix("_cifar")
            raise ConfigError(
                f"ImageNet weights need the ImageNet stem: use --model {base} (the 3×3 stem "
                f"of {model_name} cannot hold the 7×7 ImageNet conv1)."
            )
        else:
            raise ConfigError(
                f"{model_name} has no ImageNet weights; use --weights PATH to a file saved by "
                "ttjax.weights.save_flax_variables, or no weights (random init)."
            )
        sd = load_torch_checkpoint(path)
        return torch_to_flax(_unwrap(sd), _table(model_name, family), source=str(path)), (
            f"imagenet ({path.name})"
        )
    path = Path(weights)
    if path.suffix in FLAX_SUFFIXES:
        return load_flax_variables(path), str(path)
    table = _table(model_name, family)  # fails early for models without a torch layout
    sd = load_torch_checkpoint(path)
    return torch_to_flax(_unwrap(sd), table, source=str(path)), str(path)
