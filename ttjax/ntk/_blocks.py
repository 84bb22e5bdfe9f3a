"""The padded, sharded example block of the Θ driver."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding


def example_block(
    x: jax.Array, lo: int, hi: int, size: int, sharding: NamedSharding | None
) -> jax.Array:
    """Examples ``x[lo:hi]`` zero-padded to ``size`` rows (one compiled block shape), split
    along the example axis over the mesh when ``sharding`` is given."""
    xb = x[lo:hi]
    if hi - lo < size:
        xb = jnp.concatenate([xb, jnp.zeros((size - (hi - lo), *x.shape[1:]), x.dtype)])
    return xb if sharding is None else jax.device_put(xb, sharding)
