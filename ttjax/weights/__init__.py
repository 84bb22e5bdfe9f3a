"""Pretrained weights: a torch-free ``.pth`` reader, name maps, download cache, flax I/O.

Public API: :func:`load_torch_checkpoint`, :func:`save_flax_variables`,
:func:`load_flax_variables`, the name-map helpers and the cache location.
"""

from ._efficientnet_map import efficientnet_lite0_table as efficientnet_lite0_table
from ._flax_io import load_flax_variables as load_flax_variables
from ._flax_io import save_flax_variables as save_flax_variables
from ._name_map import Kind as Kind
from ._name_map import flax_to_torch as flax_to_torch
from ._name_map import torch_to_flax as torch_to_flax
from ._resnet_map import resnet_table as resnet_table
from ._sources import TORCHVISION_IMAGENET as TORCHVISION_IMAGENET
from ._sources import Checkpoint as Checkpoint
from ._sources import cache_dir as cache_dir
from ._sources import fetch_checkpoint as fetch_checkpoint
from ._torch_reader import load_torch_checkpoint as load_torch_checkpoint

__all__ = [
    "TORCHVISION_IMAGENET",
    "Checkpoint",
    "Kind",
    "cache_dir",
    "efficientnet_lite0_table",
    "fetch_checkpoint",
    "flax_to_torch",
    "load_flax_variables",
    "load_torch_checkpoint",
    "resnet_table",
    "save_flax_variables",
    "torch_to_flax",
]
