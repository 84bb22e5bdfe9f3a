"""Pretrained weights: a torch-free ``.pth`` reader, a name-map engine, sources, flax I/O.

Nothing here knows an architecture: each network's module in the model package owns its
:class:`CheckpointSpec` (its torch name map and where its ImageNet weights come from).

Public API: :func:`load_torch_checkpoint`, :func:`save_flax_variables`,
:func:`load_flax_variables`, the name-map engine (:func:`torch_to_flax`, :func:`flax_to_torch`),
:func:`load_pretrained_variables` (``weights=`` → variables, given a :class:`CheckpointSpec`),
:func:`merge_backbone`, the checkpoint sources and the cache location.
"""

from ._flax_io import load_flax_variables as load_flax_variables
from ._flax_io import save_flax_variables as save_flax_variables
from ._merge import merge_backbone as merge_backbone
from ._name_map import Kind as Kind
from ._name_map import Row as Row
from ._name_map import flax_to_torch as flax_to_torch
from ._name_map import torch_to_flax as torch_to_flax
from ._pretrained import load_pretrained_variables as load_pretrained_variables
from ._sources import Checkpoint as Checkpoint
from ._sources import PackagedCheckpoint as PackagedCheckpoint
from ._sources import cache_dir as cache_dir
from ._sources import fetch_checkpoint as fetch_checkpoint
from ._sources import locate as locate
from ._spec import CheckpointSpec as CheckpointSpec
from ._torch_reader import load_torch_checkpoint as load_torch_checkpoint

__all__ = [
    "Checkpoint",
    "CheckpointSpec",
    "Kind",
    "PackagedCheckpoint",
    "Row",
    "cache_dir",
    "fetch_checkpoint",
    "flax_to_torch",
    "load_flax_variables",
    "load_pretrained_variables",
    "load_torch_checkpoint",
    "locate",
    "merge_backbone",
    "save_flax_variables",
    "torch_to_flax",
]
