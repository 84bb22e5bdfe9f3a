"""Θ cache robustness: every malformed or non-finite entry is detected, warned about and
recomputed; an entry that cannot be written is a clear ConfigError before any computation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from test_ntk_helpers import MLP, make

from ttjax._errors import ConfigError
from ttjax.ntk import NtkCacheError, NtkConfig, NtkMethod, cached_ntk, load_ntk

KEY = jax.random.key(3)
CFG = NtkConfig(method=NtkMethod.EXACT, compute_dtype=np.float64)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _entry(tmp_path: Path) -> tuple[Any, Path]:
    """Compute one cache entry; returns (the cached_ntk call, the entry's path)."""
    apply_fn, params, x = make(MLP(), (3, 5))

    def call() -> Any:
        return cached_ntk(apply_fn, params, x, model_name="mlp", config=CFG, key=KEY,
                          cache_dir=tmp_path)  # fmt: skip

    first = call()
    (path,) = tmp_path.glob("ntk-*.npz")
    return (call, first), path


def _rewrite(path: Path, header: object, **arrays: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, header=np.array(json.dumps(header)), **arrays)


def _good_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: np.array(z[k]) for k in z.files if k != "header"}


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("list_header", "malformed header"),
        ("no_method", "method None"),
        ("unknown_method", "method 'magic'"),
        ("sha_without_f0", r"required array\(s\) \['f0'\]"),
        ("nan_theta", "'theta' holds NaN or inf"),
        ("inf_f0", "'f0' holds NaN or inf"),
        ("truncated", "unreadable"),
    ],
)
def test_bad_cache_entry_is_warned_about_and_recomputed(
    tmp_path: Path, case: str, match: str
) -> None:
    (call, first), path = _entry(tmp_path)
    arrays = _good_arrays(path)
    header = {"method": "exact", "timing_s": {}, "diagnostics": {},
              "sha256": {k: _sha(v) for k, v in arrays.items()}}  # fmt: skip
    if case == "list_header":
        _rewrite(path, [], **arrays)
    elif case == "no_method":
        _rewrite(path, {k: v for k, v in header.items() if k != "method"}, **arrays)
    elif case == "unknown_method":
        _rewrite(path, {**header, "method": "magic"}, **arrays)
    elif case == "sha_without_f0":
        _rewrite(path, {**header, "sha256": {"theta": header["sha256"]["theta"]}}, **arrays)
    elif case in ("nan_theta", "inf_f0"):
        name, value = ("theta", np.nan) if case == "nan_theta" else ("f0", np.inf)
        bad = arrays[name].copy()
        bad.flat[0] = value
        # the checksum matches the corrupted values: only the finiteness check can catch it
        _rewrite(path, {**header, "sha256": {**header["sha256"], name: _sha(bad)}},
                 **{**arrays, name: bad})  # fmt: skip
    else:
        path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(NtkCacheError, match=match):
        load_ntk(path)
    with pytest.warns(RuntimeWarning, match="Recomputing"):
        fresh = call()
    assert "cached" not in fresh.diagnostics  # really recomputed
    np.testing.assert_array_equal(fresh.theta, first.theta)
    assert np.all(np.isfinite(load_ntk(path).theta))  # and the entry was repaired
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_entry_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    (call, _), path = _entry(tmp_path)
    path.unlink()
    path.mkdir()
    with pytest.raises(ConfigError, match=f"Θ cache entry {path} is a folder"):
        call()


def test_cache_dir_that_is_a_file_fails_before_computing(tmp_path: Path) -> None:
    _, params, x = make(MLP(), (3, 5))
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")

    def boom(p: Any, xx: Any) -> Any:
        raise AssertionError("Θ must not be computed when it cannot be saved")

    with pytest.raises(ConfigError, match="is a file, not a folder"):
        cached_ntk(boom, params, x, model_name="mlp", config=CFG, key=KEY,
                   cache_dir=not_a_dir / "cache")  # fmt: skip
