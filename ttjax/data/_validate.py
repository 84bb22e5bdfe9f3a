"""Check and normalise user arrays to the library's contract: uint8 [N,H,W,3], int64 [N]."""

from __future__ import annotations

import numpy as np

from .._errors import DataError
from .._types import Images, Labels


def as_rgb_uint8(images: np.ndarray, *, where: str) -> Images:
    """Images → ``uint8 [N, H, W, 3]``.

    Accepts ``[N,H,W]`` or ``[N,H,W,1|3]``; grey is repeated to 3 channels. Integer dtypes must
    hold values in 0–255; float images are read as [0, 1] if their maximum is ≤ 1, else as
    [0, 255], then rounded.

    Raises:
        DataError: wrong rank/channels, NaN/inf, values out of range, non-numeric dtype.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataError(
            f"{where}: images must have shape [N,H,W] or [N,H,W,1|3], got {x.shape}; "
            "store one image per row (channels last)."
        )
    if x.shape[0] == 0:
        raise DataError(f"{where}: there are no images (N = 0).")
    if x.dtype == np.uint8:
        out = x
    elif np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(
                f"{where}: integer images must be in 0–255, got values in [{lo}, {hi}]; "
                "rescale them to uint8."
            )
        out = x.astype(np.uint8)
    elif np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where}: the float images contain NaN or inf; clean the data.")
        lo, hi = float(x.min()), float(x.max())
        scale = 255.0 if hi <= 1.0 else 1.0
        if lo < 0 or hi * scale > 255.0 + 1e-6:
            raise DataError(
                f"{where}: float images must be in [0, 1] or [0, 255], got [{lo:g}, {hi:g}]."
            )
        out = np.clip(np.rint(x * scale), 0, 255).astype(np.uint8)
    else:
        raise DataError(
            f"{where}: images have dtype {x.dtype}; use uint8 (or a float/integer dtype)."
        )
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out)


def as_labels(labels: np.ndarray, *, n: int, where: str) -> Labels:
    """Labels → ``int64 [N]`` (non-negative integers, one per image).

    Raises:
        DataError: wrong shape/length, non-integer or negative values.
    """
    y = np.asarray(labels)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(
            f"{where}: labels must have shape [N] = [{n}] (one per image), got {y.shape}."
        )
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise DataError(f"{where}: labels must be integers, got non-integer values.")
    elif not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where}: labels have dtype {y.dtype}; use integer class ids.")
    y = y.astype(np.int64)
    if n and y.min() < 0:
        raise DataError(
            f"{where}: labels must be non-negative class ids, got minimum {int(y.min())}."
        )
    return y
