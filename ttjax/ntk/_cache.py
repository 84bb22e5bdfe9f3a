"""On-disk cache of Θ: computed once per (model, weights, data, method, D′, seed).

Files are ``<cache_dir>/ntk-<key>.npz`` holding the arrays and a JSON header with a
SHA-256 of every array; they are written to a temporary file and renamed (atomic on
POSIX), and verified on load — a truncated or edited file is detected, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._errors import ConfigError, TTJaxError
from .._files import atomic_write, check_output_path
from .._types import PyTree
from ._config import DEFAULT_CONFIG, NtkConfig, NtkMethod, NtkResult
from ._driver import compute_ntk

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
    arrays = {k: getattr(result, k) for k in _ARRAYS if getattr(result, k) is not None}
    header = {
        "method": result.method.value,
        "timing_s": result.timing_s,
        "sha256": {k: _sha(v) for k, v in arrays.items()},
        "diagnostics": json.loads(json.dumps(result.diagnostics, default=str)),
    }
    with atomic_write(path, mode="wb", what="the Θ cache file") as fh:
        np.savez(fh, header=np.array(json.dumps(header)), **arrays)
    return path


def _check_header(header: object, path: str | os.PathLike) -> dict[str, Any]:
    """The header as a dict, or :class:`NtkCacheError` saying what is wrong with it."""

    def bad(why: str) -> NtkCacheError:
        return NtkCacheError(f"cached Θ file {path} has a malformed header ({why}); delete it.")

    if not isinstance(header, dict):
        raise bad(f"a JSON {type(header).__name__}, not an object")
    methods = [m.value for m in NtkMethod]
    if header.get("method") not in methods:
        raise bad(f"method {header.get('method')!r} is not one of {methods}")
    sha = header.get("sha256")
    if not isinstance(sha, dict) or not all(isinstance(v, str) for v in sha.values()):
        raise bad("no 'sha256' object of array checksums")
    missing = {"theta", "f0"} - set(sha)
    if missing:
        raise bad(f"no checksum for the required array(s) {sorted(missing)}")
    unknown = set(sha) - set(_ARRAYS)
    if unknown:
        raise bad(f"unknown array(s) {sorted(unknown)}")
    for k in ("timing_s", "diagnostics"):
        if not isinstance(header.get(k, {}), dict):
            raise bad(f"'{k}' is not an object")
    return header


def load_ntk(path: str | os.PathLike) -> NtkResult:
    """Read a file written by :func:`save_ntk`, verifying its header and every array.

    Checked: the header is an object naming a known ``method`` and a SHA-256 of ``theta``
    and ``f0`` (and of any optional array present); every array matches its checksum; Θ is
    a square matrix and Θ and f0 are finite (a NaN written by a failed run is never reused).

    Raises:
        NtkCacheError: if the file is unreadable, truncated, malformed, its arrays were
            altered, or they hold NaN/inf.
    """
    try:
        # Open the file ourselves: np.load(path) leaks its handle when the zip is truncated.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            header = _check_header(json.loads(str(z["header"])), path)
            arrays = {k: np.array(z[k]) for k in header["sha256"]}
    except NtkCacheError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise NtkCacheError(
            f"cached Θ file {path} is unreadable ({type(err).__name__}: {err}); "
            "delete it to recompute."
        ) from err
    for k, arr in arrays.items():
        if _sha(arr) != header["sha256"][k]:
            raise NtkCacheError(f"cached Θ file {path}: '{k}' fails its checksum; delete it.")
    theta = arrays["theta"]
    if theta.ndim != 2 or theta.shape[0] != theta.shape[1]:
        raise NtkCacheError(f"cached Θ file {path}: Θ has shape {theta.shape}, not square.")
    for k, arr in arrays.items():
        if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
            raise NtkCacheError(f"cached Θ file {path}: '{k}' holds NaN or inf; delete it.")
    return NtkResult(
        theta=theta,
        f0=arrays["f0"],
        features=arrays.get("features"),
        theta_per_class=arrays.get("theta_per_class"),
        method=NtkMethod(header["method"]),
        timing_s=dict(header.get("timing_s", {})),
        diagnostics={**header.get("diagnostics", {}), "cached": True},
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

    A corrupt, malformed or non-finite cache file (see :func:`load_ntk`) is reported as a
    :class:`RuntimeWarning` and recomputed over.

    Raises:
        ConfigError: the cache entry cannot be written (its path is a folder, ``cache_dir``
            is a file, or not writable), checked before Θ is computed.

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
    if path.is_dir():
        raise ConfigError(
            f"the Θ cache entry {path} is a folder, so Θ can be neither read from nor saved "
            "to it; remove that folder or pass another cache_dir."
        )
    if path.exists():
        try:
            return load_ntk(path)
        except NtkCacheError as err:
            warnings.warn(f"{err} Recomputing.", RuntimeWarning, stacklevel=2)
    check_output_path(path, what="the Θ cache file")  # before the (costly) computation
    result = compute_ntk(apply_fn, params, x, config=config, key=key)
    save_ntk(result, path)
    return result
