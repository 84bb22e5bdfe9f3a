"""JAX's persistent compilation cache under the ttjax cache directory.

A repeated ``ttjax predict`` / ``finetune`` with the same shapes compiles the same XLA
programs again (tens of seconds for EfficientNet-Lite0 on a CPU). JAX can keep the compiled
executables on disk, keyed by the program, the backend and the compile options; this module
points that cache at ``<ttjax cache>/jax_compilation_cache`` (``$TTJAX_CACHE`` or
``~/.cache/ttjax``, :func:`ttjax.weights.cache_dir`; ``$TTJAX_COMPILE_CACHE_DIR`` overrides
the folder) and lowers JAX's thresholds so that our
compiles (most take 0.1–30 s) are written. The CLI turns it on for every subcommand unless
``--no-compile-cache`` is given or ``TTJAX_NO_COMPILE_CACHE=1`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from ._env import env_flag

DISABLE_ENV = "TTJAX_NO_COMPILE_CACHE"
DIR_ENV = "TTJAX_COMPILE_CACHE_DIR"
SUBDIR = "jax_compilation_cache"
# Compiles faster than this are cheaper to redo than to read back (and would flood the cache
# with the eager one-op programs of every jnp call outside jit).
MIN_COMPILE_TIME_S = 0.2


def default_compilation_cache_dir() -> Path:
    """``$TTJAX_COMPILE_CACHE_DIR``, else ``<ttjax cache>/jax_compilation_cache``.

    The ttjax cache is ``$TTJAX_CACHE`` or ``~/.cache/ttjax`` (where the weights live too).

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"TTJAX_CACHE": "/tmp/ttjax-doc"}):
        ...     os.environ.pop(DIR_ENV, None) and None
        ...     str(default_compilation_cache_dir())
        '/tmp/ttjax-doc/jax_compilation_cache'
    """
    from .weights import cache_dir

    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    return cache_dir() / SUBDIR


def compilation_cache_disabled_by_env() -> bool:
    """True when ``$TTJAX_NO_COMPILE_CACHE`` is set to anything but ``""``/``0``/``false``.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {DISABLE_ENV: "1"}):
        ...     compilation_cache_disabled_by_env()
        True
        >>> with mock.patch.dict("os.environ", {DISABLE_ENV: "0"}):
        ...     compilation_cache_disabled_by_env()
        False
    """
    return env_flag(DISABLE_ENV)


def enable_compilation_cache(
    path: str | os.PathLike[str] | None = None,
    *,
    min_compile_time_s: float = MIN_COMPILE_TIME_S,
) -> Path:
    """Turn on JAX's persistent compilation cache (for this process) and return its folder.

    Every later compile that takes at least ``min_compile_time_s`` is written to ``path``
    (created if missing; default :func:`default_compilation_cache_dir`), whatever its size, and
    every compile first looks there. Call it before the first compile for the whole benefit;
    calling it again with another folder moves the cache.

    Args:
        path: the cache folder (default ``<ttjax cache>/jax_compilation_cache``).
        min_compile_time_s: compiles faster than this are not written.

    Returns:
        The folder in use.

    Example:
        >>> import tempfile, jax, jax.numpy as jnp
        >>> folder = enable_compilation_cache(tempfile.mkdtemp(), min_compile_time_s=0.0)
        >>> float(jax.jit(lambda x: x * 2.0)(jnp.float32(1.5)))
        3.0
        >>> any(folder.iterdir())
        True
        >>> disable_compilation_cache()
    """
    folder = Path(path) if path is not None else default_compilation_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    from jax.experimental.compilation_cache import compilation_cache as cc

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # no size floor
    cc.reset_cache()  # re-read the settings at the next compile (no-op before the first one)
    return folder


def disable_compilation_cache() -> None:
    """Stop using the persistent compilation cache in this process (what is on disk stays)."""
    from jax.experimental.compilation_cache import compilation_cache as cc

    jax.config.update("jax_compilation_cache_dir", None)
    cc.reset_cache()


def cli_compilation_cache(*, disabled: bool) -> Path | None:
    """What the CLI does: enable the default cache unless ``disabled`` or the env var says no."""
    if disabled or compilation_cache_disabled_by_env():
        return None
    return enable_compilation_cache()


__all__ = [
    "DIR_ENV",
    "DISABLE_ENV",
    "cli_compilation_cache",
    "compilation_cache_disabled_by_env",
    "default_compilation_cache_dir",
    "disable_compilation_cache",
    "enable_compilation_cache",
]
