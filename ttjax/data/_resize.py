"""Image resizing, done once on the host with PIL (a matplotlib dependency)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from jaxtyping import UInt8
from PIL import Image

from .._types import Images


def resize_images(images: Images | Sequence[np.ndarray], size: int) -> UInt8[np.ndarray, "N S S 3"]:
    """Resize every ``uint8 [H, W, 3]`` image to ``size × size`` (PIL bilinear).

    PIL's bilinear filter widens its support when it shrinks an image, so downscaling is
    anti-aliased; upscaling is plain bilinear interpolation. Images already ``size × size``
    are returned unchanged (no resampling).

    Example:
        >>> resize_images(np.zeros((2, 28, 28, 3), np.uint8), 32).shape
        (2, 32, 32, 3)
    """
    if isinstance(images, np.ndarray) and images.shape[1:3] == (size, size):
        return images
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, img in enumerate(images):
        if img.shape[:2] == (size, size):
            out[i] = img
        else:
            pil = Image.fromarray(np.asarray(img, np.uint8))
            out[i] = np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR))
    return out


def stack_images(images: Sequence[np.ndarray], *, image_size: int | None, where: str) -> Images:
    """Stack ``[H_i, W_i, 3]`` images; images of different sizes need ``image_size``."""
    from .._errors import DataError

    shapes = {img.shape for img in images}
    if len(shapes) == 1 and image_size is None:
        return np.stack(images)
    if image_size is None:
        raise DataError(
            f"{where}: the images have {len(shapes)} different sizes; pass image_size=S "
            "(load_task does) so that each is resized to S×S on load."
        )
    return resize_images(images, image_size)
