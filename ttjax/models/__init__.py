"""Flax networks with frozen BatchNorm and a fresh C-way head.

Public API: :func:`create_model`, :class:`Model`, :func:`available_models`, the convolution
switch :class:`ConvImpl`, the registry entry :class:`ModelSpec` and the checkpoint name maps
each network module owns (:func:`resnet_table`, :func:`efficientnet_lite0_table`).
"""

from ._conv import Conv as Conv
from ._conv import ConvImpl as ConvImpl
from ._conv import conv2d as conv2d
from ._conv import explicit_padding as explicit_padding
from ._conv import im2col_patches as im2col_patches
from ._efficientnet import EfficientNetLite0 as EfficientNetLite0
from ._efficientnet import efficientnet_lite0_table as efficientnet_lite0_table
from ._model import Model as Model
from ._registry import available_models as available_models
from ._registry import create_model as create_model
from ._resnet import ResNet as ResNet
from ._resnet import ResNet18 as ResNet18
from ._resnet import ResNet34 as ResNet34
from ._resnet import Stem as Stem
from ._resnet import resnet_table as resnet_table
from ._small import SmallCNN as SmallCNN
from ._small import TinyCNN as TinyCNN
from ._spec import ModelSpec as ModelSpec

__all__ = [
    "Conv",
    "ConvImpl",
    "EfficientNetLite0",
    "Model",
    "ModelSpec",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "SmallCNN",
    "Stem",
    "TinyCNN",
    "available_models",
    "conv2d",
    "create_model",
    "efficientnet_lite0_table",
    "explicit_padding",
    "im2col_patches",
    "resnet_table",
]
