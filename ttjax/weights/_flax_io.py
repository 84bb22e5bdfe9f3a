"""Save / load flax variables (``{"params": ..., "batch_stats": ...}``) as ``.npz`` or ``.msgpack``.

Used to reload a network pretrained offline (e.g. on Fashion-MNIST classes 0–4)
through ``create_model(..., weights=PATH)``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import flax.serialization
import jax
import numpy as np

from .._errors import WeightsError, WeightsNotFoundError

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
        out[prefix[:-1]] = np.asarray(jax.device_get(tree))
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


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_flax_variables(path: str | os.PathLike[str], variables: dict[str, Any]) -> Path:
    """Write flax variables (nested dicts of arrays) to ``path`` atomically.

    The format follows the suffix: ``.npz`` (keys ``"params/conv1/kernel"``...) or
    ``.msgpack`` (``flax.serialization``).

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
        _atomic_write(path, buf.getvalue())
    else:
        _atomic_write(path, flax.serialization.msgpack_serialize(_unflatten(flat)))
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
                tree = _unflatten({k: z[k] for k in z.files})
        else:
            tree = flax.serialization.msgpack_restore(path.read_bytes())
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
