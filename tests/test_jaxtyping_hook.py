"""The jaxtyping import hook of tests/conftest.py is really on: annotations are checked."""

from __future__ import annotations

import jaxtyping
import numpy as np
import pytest

from ttjax.data import resize_images
from ttjax.training_time import epsilon_training_time


def test_dtype_annotation_is_enforced() -> None:
    # Without the hook an integer curve is accepted (it is converted to float64 inside).
    with pytest.raises(jaxtyping.TypeCheckError, match="curve"):
        epsilon_training_time(np.arange(5, 0, -1), 0.1)
    assert int(epsilon_training_time(np.arange(5.0, 0.0, -1.0), 0.1)) == 4


def test_shape_annotation_is_enforced_on_return_values() -> None:
    # resize_images -> UInt8[ndarray, "N S S 3"]: an output that is not square would fail.
    out = resize_images(np.zeros((2, 7, 9, 3), np.uint8), 16)
    assert out.shape == (2, 16, 16, 3)
    with pytest.raises(jaxtyping.TypeCheckError, match="images"):
        resize_images(np.zeros((2, 7, 9), np.uint8), 16)  # not [N, H, W, 3]
