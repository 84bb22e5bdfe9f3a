"""The compiled training step and full-set evaluation shared by ``finetune`` and timing.

One optimisation step (paper §3, the run that predictions are judged against):

.. math::

    g_t = \\nabla_w \\frac{1}{|B_t|} \\sum_{i \\in B_t} \\ell(f_w(x_i), y_i),\\qquad
    a_{t+1} = m\\,a_t + g_t,\\qquad w_{t+1} = w_t - \\eta\\, a_{t+1}

(optax ``sgd(lr, momentum=m)``; m = 0 is plain (S)GD). GD uses B_t = the whole set; SGD draws
|B_t| = ``batch_size`` *distinct* examples uniformly with key ``fold_in(key, t)``, independently
across steps (ARCHITECTURE.md, "SGD sampling").
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from .. import losses
from .._config import Hyperparams
from .._types import PyTree

StepFn = Callable[..., tuple[PyTree, Any, Array]]


def make_optimizer(hparams: Hyperparams) -> optax.GradientTransformation:
    """optax ``sgd(lr, momentum=m)`` (heavy ball, no Nesterov); ``momentum=None`` when m = 0.

    A scheduled run (``hparams.schedule`` not constant) gets the schedule
    ``η_t = hparams.learning_rate(t)`` through ``optax.inject_hyperparams``, so the optimiser
    state records the rate of the last update (``opt_state.hyperparams["learning_rate"]``,
    :func:`applied_learning_rate`); a constant lr builds the same optimiser as before.
    """
    momentum = hparams.momentum or None
    if not hparams.scheduled:
        return optax.sgd(hparams.lr, momentum=momentum)

    def rate(count: Array) -> Array:
        return hparams.learning_rate(jnp.asarray(count, jnp.float32))

    return optax.inject_hyperparams(optax.sgd)(learning_rate=rate, momentum=momentum)


def applied_learning_rate(opt_state: Any, hparams: Hyperparams) -> float:
    """The learning rate the last update used (η for a constant schedule)."""
    if not hparams.scheduled:
        return float(hparams.lr)
    return float(np.asarray(opt_state.hyperparams["learning_rate"]))


def make_step(
    apply_fn: Callable[[PyTree, Array], Array],
    hparams: Hyperparams,
    *,
    num_examples: int,
) -> Callable[..., tuple[PyTree, Any, Array]]:
    """``step(params, opt_state, x, y, key, t) -> (params, opt_state, batch_loss)`` (pure).

    GD (batch = N) uses the whole ``x``; otherwise a batch of distinct examples is drawn with
    ``jax.random.choice(fold_in(key, t), N, (B,), replace=False)``.
    """
    opt = make_optimizer(hparams)
    batch = hparams.resolved_batch_size(num_examples)
    full = batch == num_examples

    def batch_loss(params: PyTree, xb: Array, yb: Array) -> Array:
        return losses.mean_loss(apply_fn(params, xb), yb, loss=hparams.loss)

    def step(
        params: PyTree,
        opt_state: Any,
        x: Float[Array, "N S S 3"],
        y: Int[Array, " N"],
        key: Array,
        t: Int[Array, ""],
    ) -> tuple[PyTree, Any, Array]:
        if full:
            xb, yb = x, y
        else:
            idx = jax.random.choice(
                jax.random.fold_in(key, t), num_examples, (batch,), replace=False
            )
            xb, yb = x[idx], y[idx]
        value, grads = jax.value_and_grad(batch_loss)(params, xb, yb)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


@dataclasses.dataclass(frozen=True)
class EvalData:
    """The training set padded to whole chunks for the compiled evaluation."""

    x: Float[Array, "K B S S 3"]
    y: Int[Array, "K B"]
    mask: Float[Array, "K B"]
    n: int


def chunk_eval_data(x: Array, y: Array, *, chunk: int) -> EvalData:
    """Pad the set to a multiple of ``chunk`` and reshape to ``[chunks, chunk, ...]`` (once)."""
    n = int(x.shape[0])
    chunk = min(chunk, n)
    k = -(-n // chunk)
    pad = k * chunk - n
    xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]) if pad else x
    yp = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)]) if pad else y
    mask = (jnp.arange(k * chunk) < n).astype(jnp.float32)
    return EvalData(
        x=xp.reshape(k, chunk, *x.shape[1:]),
        y=yp.reshape(k, chunk),
        mask=mask.reshape(k, chunk),
        n=n,
    )


def make_eval(
    apply_fn: Callable[[PyTree, Array], Array], hparams: Hyperparams
) -> Callable[[PyTree, Array, Array, Array], tuple[Array, Array]]:
    """``evaluate(params, x_chunks, y_chunks, mask) -> (mean loss, error rate)`` on the full set.

    Chunks are mapped with ``lax.map`` so memory is one chunk's activations; per-example losses
    come from :func:`ttjax.losses.per_example_loss` (the same as the predictions use).
    """

    def evaluate(params: PyTree, x: Array, y: Array, mask: Array) -> tuple[Array, Array]:
        def one(args: tuple[Array, Array, Array]) -> tuple[Array, Array]:
            xc, yc, mc = args
            logits = apply_fn(params, xc)
            ell = losses.per_example_loss(logits, yc, loss=hparams.loss)
            wrong = (jnp.argmax(logits, axis=-1) != yc).astype(ell.dtype)
            return jnp.sum(ell * mc), jnp.sum(wrong * mc)

        ls, ws = jax.lax.map(one, (x, y, mask))
        n = jnp.sum(mask)
        return jnp.sum(ls) / n, jnp.sum(ws) / n

    return evaluate


def compile_timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """AOT-compile ``jax.jit(fn)`` for ``args``; returns (compiled, seconds)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def block(tree: PyTree) -> PyTree:
    """Wait for every array of ``tree`` (so wall-clock timings measure the work)."""
    return jax.block_until_ready(tree)


def to_float(a: Array) -> float:
    return float(np.asarray(a))
