"""The training losses and the error rate, in one place.

Real fine-tuning (:mod:`ttjax.train`) and the predicted dynamics
(:mod:`ttjax.dynamics`) both call these functions, so the predicted and the real
curves measure exactly the same quantity.

Definitions (mean over the N examples):

.. math::

    L_{CE}(f) = \\frac1N \\sum_i \\big(\\operatorname{logsumexp}(f_i) - f_{i,y_i}\\big),\\qquad
    L_{MSE}(f) = \\frac1N \\sum_i \\tfrac12 \\lVert f_i - e_{y_i} \\rVert^2,

and the error is the fraction of examples with ``argmax f_i ≠ y_i``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._config import Loss


def per_example_loss(
    logits: Float[Array, "*batch C"], labels: Int[Array, "*batch"], *, loss: Loss
) -> Float[Array, "*batch"]:
    """Per-example loss ℓ(f_i, y_i) (no averaging).

    Example:
        >>> import jax.numpy as jnp
        >>> per_example_loss(jnp.zeros((1, 2)), jnp.array([0]), loss=Loss.MSE)
        Array([0.5], dtype=float32)
    """
    if loss is Loss.CE:
        logz = jax.nn.logsumexp(logits, axis=-1)
        picked = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
        return logz - picked
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return 0.5 * jnp.sum((logits - onehot) ** 2, axis=-1)


def mean_loss(
    logits: Float[Array, "*batch N C"], labels: Int[Array, "*batch N"], *, loss: Loss
) -> Float[Array, "*batch"]:
    """Mean loss over the example axis (the second-to-last axis of ``logits``)."""
    return jnp.mean(per_example_loss(logits, labels, loss=loss), axis=-1)


def error_rate(
    logits: Float[Array, "*batch N C"], labels: Int[Array, "*batch N"]
) -> Float[Array, "*batch"]:
    """Fraction of misclassified examples (argmax over classes)."""
    return jnp.mean((jnp.argmax(logits, axis=-1) != labels).astype(logits.dtype), axis=-1)


def loss_gradient(
    logits: Float[Array, "N C"], labels: Int[Array, " N"], *, loss: Loss
) -> Float[Array, "N C"]:
    """∇_f L of the *mean* loss with respect to the outputs f (shape of ``logits``).

    CE: (softmax(f_i) − e_{y_i}) / N;  MSE: (f_i − e_{y_i}) / N.
    """
    n = logits.shape[-2]
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    if loss is Loss.CE:
        return (jax.nn.softmax(logits, axis=-1) - onehot) / n
    return (logits - onehot) / n
