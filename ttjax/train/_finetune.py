"""Real fine-tuning: the ground-truth loss/error curves and the measured Tε.

Timing is honest by construction: each of the T training steps is one call of an AOT-compiled
step whose outputs are blocked on; only those calls are timed. The full-set evaluation that
records the curve runs *between* steps, as a separate compiled function, outside the timed
region. Compilation is timed separately (``compile_time_s``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Float

from .._config import Hyperparams
from .._convergence import RunStatus, classify_run
from .._errors import ConfigError, DataError, StabilityError
from .._fields import check_key
from .._progress import progress_bar
from .._types import PRNGKey, PyTree
from ..data import Task
from ..training_time import epsilon_training_time
from ._step import (
    applied_learning_rate,
    block,
    chunk_eval_data,
    compile_timed,
    make_eval,
    make_optimizer,
    make_step,
)

EVAL_CHUNK = 256
"""Examples per chunk of the full-set evaluation (bounds its activation memory)."""


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class FinetuneResult:
    """Outcome of :func:`finetune` (immutable).

    Attributes:
        loss: full-training-set mean loss L_0 … L_T (T + 1 points; L_0 = pretrained model).
        error: full-training-set error rate, same indexing.
        step_time_s: mean wall-clock seconds of one training step (compile and evaluation
            excluded).
        train_time_s: total wall-clock of the T training steps (= T × ``step_time_s``).
        compile_time_s: seconds spent compiling the training step and the evaluation.
        eval_time_s: total seconds of the T + 1 full-set evaluations (not part of training).
        hparams: the hyper-parameters used; ``batch_size``: the batch actually used.
        num_examples: N; ``params``: the fine-tuned parameters.
        learning_rate: η_t, the rate update t = 0 … T − 1 used, read back from the optimiser
            (``hparams.learning_rate(t)`` when a schedule is set; η otherwise).
        status: (property) :func:`ttjax.classify_run` of ``loss``: ``CONVERGED``, or
            ``DIVERGED`` (blew up without NaN) / ``NOT_DECREASING`` (L_T ≥ L_0): Tε ``None``.
    """

    loss: Float[np.ndarray, " T1"]
    error: Float[np.ndarray, " T1"]
    step_time_s: float
    train_time_s: float
    compile_time_s: float
    eval_time_s: float
    hparams: Hyperparams
    batch_size: int
    num_examples: int
    params: PyTree = None
    learning_rate: Float[np.ndarray, " T"] | None = None

    @property
    def status(self) -> RunStatus:
        """:func:`ttjax.classify_run` of the loss curve (computed from it, so never stale)."""
        return classify_run(self.loss)

    def training_time(self, eps: float, *, curve: str = "loss") -> int | None:
        """Tε = min{t ≤ T : L_t − L_T ≤ ε (L_0 − L_T)} of the loss (or ``curve="error"``).

        Uses :func:`ttjax.training_time.epsilon_training_time`, the definition predictions use.
        ``None`` when the run did not converge (``status``): a diverged run has no Tε.
        """
        if curve not in ("loss", "error"):
            raise ConfigError(f"curve must be 'loss' or 'error', got {curve!r}.")
        if self.status is not RunStatus.CONVERGED:
            return None
        values = self.loss if curve == "loss" else self.error
        return int(epsilon_training_time(values, eps))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (curves as lists, no parameters)."""
        return {
            "loss": self.loss.tolist(),
            "error": self.error.tolist(),
            "step_time_s": self.step_time_s,
            "train_time_s": self.train_time_s,
            "compile_time_s": self.compile_time_s,
            "eval_time_s": self.eval_time_s,
            "hparams": self.hparams.to_dict(),
            "batch_size": self.batch_size,
            "num_examples": self.num_examples,
            "status": self.status.value,
        }


def check_task(model: Any, task: Task) -> None:
    """Raise :class:`DataError` if the task does not fit the model (classes, image size)."""
    if task.num_examples == 0:
        raise DataError("the task has no examples.")
    c = int(model.num_classes)
    if int(task.labels.max()) >= c:  # Task itself checks its labels are 0..K−1
        raise DataError(
            f"the task has {task.num_classes} classes (labels up to {int(task.labels.max())}) but "
            f"the model has {c} outputs; create the model with num_classes={task.num_classes}."
        )
    if task.images.shape[1] != model.image_size:
        raise DataError(
            f"task images are {task.images.shape[1]}×{task.images.shape[2]} but the model expects "
            f"{model.image_size}×{model.image_size}; sample the task with image_size="
            f"{model.image_size}."
        )


def prepare_inputs(model: Any, task: Task) -> tuple[jax.Array, jax.Array]:
    """Preprocessed float32 images and int32 labels, on the device."""
    check_task(model, task)
    x = jnp.asarray(model.preprocess(jnp.asarray(task.images)), jnp.float32)
    y = jnp.asarray(task.labels, jnp.int32)
    return x, y


def finetune(
    model: Any,
    task: Task,
    hparams: Hyperparams,
    *,
    key: PRNGKey,
    progress: bool = True,
) -> FinetuneResult:
    """Fine-tune ``model`` on ``task`` for T steps; record the full-set curves after every step.

    Implements the update of :mod:`ttjax.train._step` (optax SGD, momentum m, GD = full batch,
    SGD batches drawn with ``fold_in(key, t)``, learning rate ``η_t = hparams.learning_rate(t)``
    under a schedule) and evaluates the mean loss and error on all N
    training examples at t = 0 … T (so each curve has T + 1 points). A run that blows up
    without NaN is returned with ``status`` ``DIVERGED`` (:func:`ttjax.classify_run`).

    Raises:
        DataError: the task does not fit the model.
        StabilityError: the loss became NaN/inf (diverged): lower the learning rate.

    Example:
        >>> import jax
        >>> from ttjax.models import create_model
        >>> from ttjax.data import load_task
        >>> task = load_task("sample", classes=5, per_class=4, image_size=16, seed=0)
        >>> m = create_model("tiny", num_classes=5, image_size=16, weights=None,
        ...                  key=jax.random.key(0))
        >>> r = finetune(m, task, Hyperparams(lr=0.1, steps=3), key=jax.random.key(1),
        ...              progress=False)
        >>> len(r.loss)
        4
    """
    check_key(key)
    x, y = prepare_inputs(model, task)
    n = task.num_examples
    batch = hparams.resolved_batch_size(n)
    step_fn = make_step(model.apply_fn, hparams, num_examples=n)
    eval_fn = make_eval(model.apply_fn, hparams)
    data = chunk_eval_data(x, y, chunk=EVAL_CHUNK)
    params = jax.tree_util.tree_map(jnp.asarray, model.params)
    opt_state = make_optimizer(hparams).init(params)
    t_arg = jnp.asarray(0, jnp.int32)
    step, c1 = compile_timed(step_fn, params, opt_state, x, y, key, t_arg)
    evaluate, c2 = compile_timed(eval_fn, params, data.x, data.y, data.mask)

    steps = hparams.steps
    loss = np.empty(steps + 1)
    error = np.empty(steps + 1)
    step_times = np.empty(steps)
    rates = np.empty(steps)
    eval_time = 0.0

    def record(t: int, p: PyTree) -> None:
        nonlocal eval_time
        t0 = time.perf_counter()
        lv, ev = block(evaluate(p, data.x, data.y, data.mask))
        eval_time += time.perf_counter() - t0
        loss[t], error[t] = float(lv), float(ev)
        if not math.isfinite(loss[t]):
            raise StabilityError(
                f"the training loss became {loss[t]} at step {t} (the run diverged); lower the "
                f"learning rate (now lr={hparams.lr}, effective lr/(1−m)="
                f"{hparams.effective_lr:g}), e.g. --lr {hparams.lr / 10:g}; `ttjax predict` with "
                "the same flags prints the largest stable lr of the linearised model."
            )

    record(0, params)
    with progress_bar(progress, steps, "fine-tuning") as tick:
        for t in range(steps):
            t0 = time.perf_counter()
            params, opt_state, _ = block(
                step(params, opt_state, x, y, key, jnp.asarray(t, jnp.int32))
            )
            step_times[t] = time.perf_counter() - t0
            rates[t] = applied_learning_rate(opt_state, hparams)
            record(t + 1, params)
            tick(status=f"loss {loss[t + 1]:.4f}  error {error[t + 1]:.3f}")

    return FinetuneResult(
        loss=loss,
        error=error,
        step_time_s=float(step_times.mean()),
        train_time_s=float(step_times.sum()),
        compile_time_s=c1 + c2,
        eval_time_s=eval_time,
        hparams=hparams,
        batch_size=batch,
        num_examples=n,
        params=params,
        learning_rate=rates,
    )
