"""Test set-up: float64 available, jaxtyping shape checks on, a CPU-friendly JAX.

jaxtyping's import hook must be installed *before* anything imports ttjax: every function of
the package is then wrapped so that its jaxtyping annotations (dtype, rank, and named
dimensions shared between arguments and the return value) are checked by beartype at each
call. pytest imports this file before any test module, so the hook sees ttjax's first import.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# One on-disk XLA compilation cache for the whole test session, never ~/.cache/ttjax: the many
# tests that build the same tiny programs (in this process, in pytest-xdist workers and in the
# CLI and script subprocesses, which all inherit the variable from the first process) compile
# each once. The process that made the folder removes it at the end (pytest_unconfigure). Tests
# of the cache itself strip these variables and pass a temporary folder explicitly.
_MADE_CACHE = "TTJAX_COMPILE_CACHE_DIR" not in os.environ
if _MADE_CACHE:
    os.environ["TTJAX_COMPILE_CACHE_DIR"] = tempfile.mkdtemp(prefix="ttjax-test-xla-cache-")
TEST_COMPILE_CACHE = os.environ["TTJAX_COMPILE_CACHE_DIR"]

assert "ttjax" not in sys.modules, "ttjax was imported before the jaxtyping hook"

from jaxtyping import install_import_hook  # noqa: E402

# is_pep484_tower: an int is a valid `float` (PEP 484, as pyright reads the annotations too).
install_import_hook("ttjax", "beartype.beartype(conf=beartype.BeartypeConf(is_pep484_tower=True))")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # oracles run in float64; library code casts explicitly

from ttjax._compile_cache import enable_compilation_cache  # noqa: E402

enable_compilation_cache(TEST_COMPILE_CACHE)


def pytest_unconfigure(config) -> None:
    """The process that made the session's compilation cache removes it."""
    if _MADE_CACHE:
        shutil.rmtree(TEST_COMPILE_CACHE, ignore_errors=True)
