"""Test set-up: float64 available, jaxtyping shape checks on, a CPU-friendly JAX."""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax

jax.config.update("jax_enable_x64", True)  # oracles run in float64; library code casts explicitly
