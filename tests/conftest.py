"""Test set-up: float64 available, jaxtyping shape checks on, a CPU-friendly JAX."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# the CLI turns on JAX's on-disk compilation cache under ~/.cache/ttjax: not from the tests
# (tests of the cache itself pass a temporary folder explicitly)
os.environ.setdefault("TTJAX_NO_COMPILE_CACHE", "1")

import jax

jax.config.update("jax_enable_x64", True)  # oracles run in float64; library code casts explicitly
