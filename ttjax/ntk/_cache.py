"""On-disk cache of Θ: computed once per (model, weights, data, method, D′, seed).

Files are ``<cache_dir>/ntk-<key>.npz`` holding the arrays and a JSON header with a
SHA-256 of every array; they are written to a temporary file and renamed (atomic on
POSIX), and verified on load — a truncated or edited file is detected, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from .._errors import TTJaxError
from .._types import PyTree
from ._compute import compute_ntk
from ._config import DEFAULT_CONFIG, NtkConfig, NtkMethod, NtkResult

_ARRAYS = ("theta", "f0", "features", "theta_per_class")


class NtkCacheError(TTJaxError, ValueError):
    """A cached Θ file is corrupt or does not match its header."""


def params_digest(params: PyTree) -> str:
    """SHA-256 of the parameters' paths, shapes, dtypes and values."""
    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        arr = np.ascontiguousarray(np.asarray(leaf))
        h.update(jax.tree_util.keystr(path).encode())
        h.update(f"{arr.shape}{arr.dtype}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def data_digest(x: np.ndarray | jax.Array) -> str:
    """SHA-256 of the inputs' shape, dtype and values."""
    arr = np.ascontiguousarray(np.asarray(x))
    return hashlib.sha256(f"{arr.shape}{arr.dtype}".encode() + arr.tobytes()).hexdigest()


def cache_key(
    *, model_name: str, params: PyTree, x: np.ndarray | jax.Array, config: NtkConfig, key: jax.Array
) -> str:
    """Hex key of (model name + params digest, data digest, method config, D′, seed)."""
    payload = {
        "model": model_name,
        "params": params_digest(params),
        "data": data_digest(x),
        "config": config.cache_key(),
        "seed": np.asarray(jax.random.key_data(key)).tolist(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _sha(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def save_ntk(result: NtkResult, path: str | os.PathLike) -> Path:
    """Write ``result`` to ``path`` atomically (temp file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(result, k) for k in _ARRAYS if getattr(result, k) is not None}
    header = {
        "method": result.method.value,
        "timing_s": result.timing_s,
        "sha256": {k: _sha(v) for k, v in arrays.items()},
        "diagnostics": json.loads(json.dumps(result.diagnostics, default=str)),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, header=np.array(json.dumps(header)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_ntk(path: str | os.PathLike) -> NtkResult:
    """Read a file written by :func:`save_ntk`, verifying every array's SHA-256.

    Raises:
        NtkCacheError: if the file is unreadable, truncated or its arrays were altered.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            arrays = {k: np.array(z[k]) for k in header["sha256"]}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise NtkCacheError(
            f"cached Θ file {path} is unreadable ({err}); delete it to recompute."
        ) from err
    for k, arr in arrays.items():
        if _sha(arr) != header["sha256"][k]:
            raise NtkCacheError(f"cached Θ file {path}: '{k}' fails its checksum; delete it.")
    return NtkResult(
        theta=arrays["theta"],
        f0=arrays["f0"],
        features=arrays.get("features"),
        theta_per_class=arrays.get("theta_per_class"),
        method=NtkMethod(header["method"]),
        timing_s=dict(header["timing_s"]),
        diagnostics={**header["diagnostics"], "cached": True},
    )


def cached_ntk(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: np.ndarray | jax.Array,
    *,
    model_name: str,
    config: NtkConfig = DEFAULT_CONFIG,
    key: jax.Array,
    cache_dir: str | os.PathLike,
) -> NtkResult:
    """:func:`compute_ntk`, re-using ``<cache_dir>/ntk-<key>.npz`` when present and valid.

    A corrupt cache file is reported (a warning) and recomputed over.

    Example:
        >>> import jax, jax.numpy as jnp, tempfile
        >>> f = lambda p, x: x @ p
        >>> r = cached_ntk(f, jnp.ones((2, 2)), jnp.eye(2), model_name="lin",
        ...                config=NtkConfig(method=NtkMethod.EXACT), key=jax.random.key(0),
        ...                cache_dir=tempfile.mkdtemp())
        >>> r.theta.shape
        (4, 4)
    """
    import warnings

    name = cache_key(model_name=model_name, params=params, x=x, config=config, key=key)
    path = Path(cache_dir) / f"ntk-{name}.npz"
    if path.exists():
        try:
            return load_ntk(path)
        except NtkCacheError as err:
            warnings.warn(f"{err} Recomputing.", RuntimeWarning, stacklevel=2)
    result = compute_ntk(apply_fn, params, x, config=config, key=key)
    save_ntk(result, path)
    return result
