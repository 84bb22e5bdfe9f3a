"""Strict JSON from the library's objects: the one conversion every JSON writer shares."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: mappings (keys as str), lists, numbers, strings, None.

    Objects with ``to_dict`` are converted through it, enums become their value, numpy/JAX
    arrays and scalars lists/numbers, paths strings, and every NaN or ±∞ float ``None`` (so
    ``json.dumps(..., allow_nan=False)`` holds: strict JSON has no ``Infinity``).

    Example:
        >>> import json, numpy as np
        >>> json.dumps(jsonable({"a": np.array([1.0, np.inf]), "b": float("nan")}))
        '{"a": [1.0, null], "b": null}'
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    if hasattr(obj, "value") and hasattr(obj, "name") and not isinstance(obj, (int, float)):
        return obj.value  # enums
    if isinstance(obj, (np.ndarray, np.generic)) or type(obj).__module__.startswith("jax"):
        return jsonable(np.asarray(obj).tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
