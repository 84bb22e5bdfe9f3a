"""Save / load flax variables (``{"params": ..., "batch_stats": ...}``) as ``.npz`` or ``.msgpack``.

Used to reload a network pretrained offline (e.g. on Fashion-MNIST classes 0–4)
through ``create_model(..., weights=PATH)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from .._errors import WeightsError, WeightsNotFoundError
from .._files import atomic_write

_SEP = "/"
FLAX_SUFFIXES = (".npz", ".msgpack")


def _flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            if _SEP in str(k):
                raise WeightsError(f"variable name {k!r} contains {_SEP!r}; rename it to save.")
            out.update(_flatten(v, f"{prefix}{k}{_SEP}"))
    else:
        value = np.asarray(jax.device_get(tree))
        if value.dtype.kind == "V":  # bfloat16 / float8 (ml_dtypes): npz would store raw bytes
            value = value.astype(np.float32)  # exact for every ml_dtypes float
        out[prefix[:-1]] = value
    return out


def _unflatten(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(_SEP)
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def save_flax_variables(path: str | os.PathLike[str], variables: dict[str, Any]) -> Path:
    """Write flax variables (nested dicts of arrays) to ``path`` atomically.

    The format follows the suffix: ``.npz`` (keys ``"params/conv1/kernel"``...) or
    ``.msgpack`` (``flax.serialization``). Low-precision floats that numpy cannot store
    (bfloat16, float8) are written as float32 (exactly).

    Raises:
        WeightsError: a suffix other than ``.npz``/``.msgpack``, or a name containing ``/``.
        ConfigError: the file cannot be written there (e.g. a parent is a file).

    Example:
        >>> import tempfile, numpy as np
        >>> d = tempfile.mkdtemp()
        >>> p = save_flax_variables(d + "/w.npz", {"params": {"w": np.ones(2)}})
        >>> load_flax_variables(p)["params"]["w"].tolist()
        [1.0, 1.0]
    """
    path = Path(path)
    if path.suffix not in FLAX_SUFFIXES:
        raise WeightsError(f"cannot save flax variables to {path}: use a .npz or .msgpack suffix.")
    flat = _flatten(dict(variables))
    if path.suffix == ".npz":
        import io

        buf = io.BytesIO()
        np.savez(buf, **flat)  # pyright: ignore[reportArgumentType]
        data = buf.getvalue()
    else:
        data = flax.serialization.msgpack_serialize(_unflatten(flat))
    with atomic_write(path, mode="wb", what="the weights file") as fh:
        fh.write(data)
    return path


def load_flax_variables(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read variables written by :func:`save_flax_variables` (nested dicts of numpy arrays).

    Raises:
        WeightsNotFoundError: no file at ``path``.
        WeightsError: wrong suffix or a file that cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"no weights file at {path}; check the path.")
    if path.suffix not in FLAX_SUFFIXES:
        raise WeightsError(f"{path} is not a flax variables file (.npz or .msgpack).")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                flat = {k: z[k] for k in z.files}
            raw = sorted(k for k, v in flat.items() if v.dtype.kind == "V")
            if raw:  # e.g. bfloat16 saved by np.savez: the dtype is lost, only bytes remain
                raise WeightsError(
                    f"{path}: {raw[0]!r} (and {len(raw) - 1} more) hold raw bytes of dtype "
                    f"{flat[raw[0]].dtype}, not numbers (bfloat16 written by numpy loses its "
                    "dtype); save the variables as float32, or with "
                    "ttjax.weights.save_flax_variables, which converts them."
                )
            tree = _unflatten(flat)
        else:
            tree = flax.serialization.msgpack_restore(path.read_bytes())
    except WeightsError:
        raise
    except Exception as e:  # corrupt zip / msgpack / pickled object arrays
        if "allow_pickle" in str(e) or "pickled" in str(e):  # numpy's advice is to unpickle
            raise WeightsError(
                f"cannot read flax variables from {path}: it is not an .npz of arrays (corrupt, "
                "or pickled Python objects, which ttjax does not load); re-save the weights with "
                "ttjax.weights.save_flax_variables."
            ) from e
        raise WeightsError(
            f"cannot read flax variables from {path} ({e}); re-save it with "
            "ttjax.weights.save_flax_variables."
        ) from e
    if not isinstance(tree, dict) or "params" not in tree:
        raise WeightsError(
            f"{path} has no 'params' collection; save {{'params': ..., "
            "'batch_stats': ...}} with ttjax.weights.save_flax_variables."
        )
    return {k: v for k, v in tree.items()}
