"""torchvision ResNet-18/34 state dict ↔ :class:`ttjax.models.ResNet` variables.

=====================================  =====================================  ======
torchvision                            flax                                   kind
=====================================  =====================================  ======
``conv1``                              ``conv1``                              CONV
``bn1``                                ``bn1``                                BN
``layer{s}.{b}.conv1`` / ``.conv2``    ``layer{s}_{b}/conv1`` / ``conv2``     CONV
``layer{s}.{b}.bn1`` / ``.bn2``        ``layer{s}_{b}/bn1`` / ``bn2``         BN
``layer{s}.{b}.downsample.0``          ``layer{s}_{b}/downsample_conv``       CONV
``layer{s}.{b}.downsample.1``          ``layer{s}_{b}/downsample_bn``         BN
``fc``                                 (dropped: a fresh head is used)        DROP
=====================================  =====================================  ======

Downsample layers exist in the first block of stages 2–4 (stride 2, width doubles).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._name_map import Kind, Row

RESNET_STAGES: dict[str, tuple[int, ...]] = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}


def resnet_table(stage_sizes: Sequence[int]) -> list[Row]:
    """The name map of a torchvision basic-block ResNet with these stage sizes.

    Example:
        >>> resnet_table((2, 2, 2, 2))[2]
        ('layer1.0.conv1', 'layer1_0/conv1', <Kind.CONV: 'conv'>)
    """
    rows: list[Row] = [("conv1", "conv1", Kind.CONV), ("bn1", "bn1", Kind.BN)]
    for s, n_blocks in enumerate(stage_sizes, start=1):
        for b in range(n_blocks):
            t, f = f"layer{s}.{b}", f"layer{s}_{b}"
            rows += [
                (f"{t}.conv1", f"{f}/conv1", Kind.CONV),
                (f"{t}.bn1", f"{f}/bn1", Kind.BN),
                (f"{t}.conv2", f"{f}/conv2", Kind.CONV),
                (f"{t}.bn2", f"{f}/bn2", Kind.BN),
            ]
            if s > 1 and b == 0:
                rows += [
                    (f"{t}.downsample.0", f"{f}/downsample_conv", Kind.CONV),
                    (f"{t}.downsample.1", f"{f}/downsample_bn", Kind.BN),
                ]
    rows.append(("fc", "head", Kind.DROP))
    return rows
