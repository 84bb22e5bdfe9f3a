"""Flax networks with frozen BatchNorm and a fresh C-way head.

Public API: :func:`create_model`, :class:`Model`, :func:`available_models`, and the
convolution switch :class:`ConvImpl`.
"""

from ._conv import Conv as Conv
from ._conv import ConvImpl as ConvImpl
from ._conv import conv2d as conv2d
from ._model import Model as Model
from ._registry import available_models as available_models
from ._registry import create_model as create_model
from ._resnet import ResNet as ResNet
from ._resnet import ResNet18 as ResNet18
from ._resnet import ResNet34 as ResNet34
from ._resnet import Stem as Stem
from ._small import SmallCNN as SmallCNN
from ._small import TinyCNN as TinyCNN

__all__ = [
    "Conv",
    "ConvImpl",
    "Model",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "SmallCNN",
    "Stem",
    "TinyCNN",
    "available_models",
    "conv2d",
    "create_model",
]
