"""Wall-clock of one training step, for predict's "how long will it take" estimate."""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._config import Hyperparams
from .._types import PRNGKey
from ..data import Task
from ._finetune import prepare_inputs
from ._step import block, compile_timed, make_optimizer, make_step


def measure_step_time(
    model: Any,
    task: Task,
    hparams: Hyperparams,
    *,
    key: PRNGKey,
    warmup: int = 2,
    repeats: int = 5,
) -> float:
    """Median wall-clock seconds of one compiled training step (compile excluded).

    Builds exactly the step :func:`ttjax.train.finetune` runs (same optimiser, batch size and
    sampling), runs ``warmup`` untimed steps, then times ``repeats`` steps one by one (blocking
    on each) and returns the median — robust to a noisy, shared CPU.

    Example:
        >>> import jax
        >>> from ttjax.models import create_model
        >>> from ttjax.data import load_task
        >>> task = load_task("sample", classes=5, per_class=4, image_size=16, seed=0)
        >>> m = create_model("tiny", num_classes=5, image_size=16, weights=None,
        ...                  key=jax.random.key(0))
        >>> measure_step_time(m, task, Hyperparams(), key=jax.random.key(1)) > 0
        True
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats ≥ 1 and warmup ≥ 0, got {repeats=}, {warmup=}.")
    x, y = prepare_inputs(model, task)
    params = jax.tree_util.tree_map(jnp.asarray, model.params)
    opt_state = make_optimizer(hparams).init(params)
    step_fn = make_step(model.apply_fn, hparams, num_examples=task.num_examples)
    step, _ = compile_timed(step_fn, params, opt_state, x, y, key, jnp.asarray(0, jnp.int32))
    times = []
    for t in range(warmup + repeats):
        t0 = time.perf_counter()
        params, opt_state, _ = block(step(params, opt_state, x, y, key, jnp.asarray(t, jnp.int32)))
        if t >= warmup:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))
