"""Input normalisations: uint8 ``[B, S, S, 3]`` images to float32 network inputs."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's ImageNet statistics (on [0, 1])
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(images: np.ndarray | Array) -> Float[Array, "B S S 3"]:
    """torchvision ResNet normalisation ``(x/255 − mean) / std`` per channel.

    Example:
        >>> imagenet_normalize(np.zeros((1, 2, 2, 3), np.uint8)).dtype
        dtype('float32')
    """
    x = jnp.asarray(images).astype(jnp.float32) / 255.0
    mean = jnp.asarray(IMAGENET_MEAN, jnp.float32)
    std = jnp.asarray(IMAGENET_STD, jnp.float32)
    return (x - mean) / std


def efficientnet_lite_normalize(images: np.ndarray | Array) -> Float[Array, "B S S 3"]:
    """EfficientNet-Lite normalisation ``(x − 127) / 128`` on uint8 pixel values
    (``x·255`` for the ``[0, 1]`` images of the reference code).

    Example:
        >>> float(efficientnet_lite_normalize(np.full((1, 1, 1, 3), 255, np.uint8))[0, 0, 0, 0])
        1.0
    """
    x = jnp.asarray(images).astype(jnp.float32)
    return (x - 127.0) / 128.0


def unit_normalize(images: np.ndarray | Array) -> Float[Array, "B S S 3"]:
    """``x / 255 − 0.5`` (used by the small test networks).

    Example:
        >>> float(unit_normalize(np.zeros((1, 1, 1, 3), np.uint8))[0, 0, 0, 0])
        -0.5
    """
    return jnp.asarray(images).astype(jnp.float32) / 255.0 - 0.5
