"""Test set-up: float64 available, jaxtyping shape checks on, a CPU-friendly JAX.

jaxtyping's import hook must be installed *before* anything imports ttjax: every function of
the package is then wrapped so that its jaxtyping annotations (dtype, rank, and named
dimensions shared between arguments and the return value) are checked by beartype at each
call. pytest imports this file before any test module, so the hook sees ttjax's first import.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# the CLI turns on JAX's on-disk compilation cache under ~/.cache/ttjax: not from the tests
# (tests of the cache itself pass a temporary folder explicitly)
os.environ.setdefault("TTJAX_NO_COMPILE_CACHE", "1")

assert "ttjax" not in sys.modules, "ttjax was imported before the jaxtyping hook"

from jaxtyping import install_import_hook  # noqa: E402

# is_pep484_tower: an int is a valid `float` (PEP 484, as pyright reads the annotations too).
install_import_hook("ttjax", "beartype.beartype(conf=beartype.BeartypeConf(is_pep484_tower=True))")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # oracles run in float64; library code casts explicitly
