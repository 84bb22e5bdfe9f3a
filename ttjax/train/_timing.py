"""Wall-clock of one training step, for predict's "how long will it take" estimate.

Timing a step has two parts: compiling the real training step (seconds to tens of seconds on
a CPU, and none of it is training) and running it a few times. :func:`start_step_timing`
compiles in a background thread — XLA compiles release the GIL — so the compile overlaps
with Θ in :func:`ttjax.predict_training_time` (on machines with more than 2 cores: on 2 the
compile only slowed Θ down as much as it saved); the timed runs happen afterwards, on the
calling thread, when nothing else runs, so the measurement stays that of the step alone.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._config import Hyperparams
from .._errors import ConfigError
from .._types import PRNGKey
from ..data import Task
from ._finetune import prepare_inputs
from ._step import block, compile_timed, make_optimizer, make_step

BACKGROUND_MIN_CPUS = 2


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompiledStep:
    """The compiled training step of ``finetune`` and its inputs, ready to be timed."""

    step: Any
    args: tuple[Any, ...]
    compile_s: float


def compile_step(model: Any, task: Task, hparams: Hyperparams, *, key: PRNGKey) -> CompiledStep:
    """Build and AOT-compile exactly the step :func:`ttjax.train.finetune` runs (no execution)."""
    x, y = prepare_inputs(model, task)
    params = jax.tree_util.tree_map(jnp.asarray, model.params)
    opt_state = make_optimizer(hparams).init(params)
    step_fn = make_step(model.apply_fn, hparams, num_examples=task.num_examples)
    args = (params, opt_state, x, y, key)
    step, seconds = compile_timed(step_fn, *args, jnp.asarray(0, jnp.int32))
    return CompiledStep(step=step, args=args, compile_s=seconds)


def time_step(compiled: CompiledStep, *, warmup: int = 2, repeats: int = 5) -> float:
    """Median seconds of ``repeats`` runs of a compiled step, after ``warmup`` untimed ones."""
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"need repeats ≥ 1 and warmup ≥ 0, got {repeats=}, {warmup=}.")
    params, opt_state, x, y, key = compiled.args
    times = []
    for t in range(warmup + repeats):
        t0 = time.perf_counter()
        out = compiled.step(params, opt_state, x, y, key, jnp.asarray(t, jnp.int32))
        params, opt_state, _ = block(out)
        if t >= warmup:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


class StepTimer:
    """A training step compiling in a background thread; :meth:`result` times it.

    Example:
        >>> import jax
        >>> from ttjax.models import create_model
        >>> from ttjax.data import load_task
        >>> task = load_task("sample", classes=2, per_class=3, image_size=16, seed=0)
        >>> m = create_model("tiny", num_classes=2, image_size=16, weights=None,
        ...                  key=jax.random.key(0))
        >>> timer = start_step_timing(m, task, Hyperparams(), key=jax.random.key(1))
        >>> timer.result(warmup=1, repeats=2) > 0
        True
    """

    def __init__(
        self,
        model: Any,
        task: Task,
        hparams: Hyperparams,
        *,
        key: PRNGKey,
        background: bool | None = None,
    ) -> None:
        self._out: CompiledStep | None = None
        self._err: BaseException | None = None
        if background is None:
            background = (os.cpu_count() or 1) > BACKGROUND_MIN_CPUS

        def work() -> None:
            try:
                self._out = compile_step(model, task, hparams, key=key)
            except BaseException as err:  # re-raised on the caller's thread by result()
                self._err = err

        # daemon: a prediction that fails before result() does not wait for this compile
        self._thread = threading.Thread(target=work, name="ttjax-step-compile", daemon=True)
        if background:
            self._thread.start()
        self._started = background

    def compiled(self) -> CompiledStep:
        """Wait for the compile, or run it now if not in the background (raises what it raised)."""
        if not self._started:
            self._thread.start()
            self._started = True
        self._thread.join()
        if self._err is not None:
            raise self._err
        assert self._out is not None
        return self._out

    def result(self, *, warmup: int = 2, repeats: int = 5) -> float:
        """Wait for the compile, then time the step on this thread (see :func:`time_step`)."""
        return time_step(self.compiled(), warmup=warmup, repeats=repeats)


def start_step_timing(
    model: Any, task: Task, hparams: Hyperparams, *, key: PRNGKey, background: bool | None = None
) -> StepTimer:
    """Start compiling the real training step in the background (see :class:`StepTimer`).

    ``background`` None: only with more than ``BACKGROUND_MIN_CPUS`` cores. On the 2-core CPU
    the overlap gained nothing (Lite0, N = 100, no compile cache, two A/B pairs: the step stage
    fell 20.4 → 2.3 s but Θ, sharing the cores with the compile, rose 85 → 109 s), so there the
    step compiles when :meth:`StepTimer.result` is called (with the compilation cache, a read).
    """
    return StepTimer(model, task, hparams, key=key, background=background)


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
        raise ConfigError(f"need repeats ≥ 1 and warmup ≥ 0, got {repeats=}, {warmup=}.")
    return time_step(compile_step(model, task, hparams, key=key), warmup=warmup, repeats=repeats)
