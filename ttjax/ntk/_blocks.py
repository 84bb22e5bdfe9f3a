"""Helpers shared by both Θ drivers: a progress bar and the padded, sharded example block."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, label: str) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total} blocks",
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def example_block(
    x: jax.Array, lo: int, hi: int, size: int, sharding: NamedSharding | None
) -> jax.Array:
    """Examples ``x[lo:hi]`` zero-padded to ``size`` rows (one compiled block shape), split
    along the example axis over the mesh when ``sharding`` is given."""
    xb = x[lo:hi]
    if hi - lo < size:
        xb = jnp.concatenate([xb, jnp.zeros((size - (hi - lo), *x.shape[1:]), x.dtype)])
    return xb if sharding is None else jax.device_put(xb, sharding)
