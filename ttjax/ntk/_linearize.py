"""The linearised network f_lin(w, x) = f(w₀, x) + J(x)(w − w₀) (paper eq. 1, §3).

Training f_lin with gradient descent on the mean loss is exactly the function-space
flow df/dt = −η Θ ∇_f L that :mod:`ttjax.dynamics` integrates; this module gives the
same model in weight space (outputs, gradients, a GD step) to check that claim.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .. import losses
from .._config import Loss
from .._types import PyTree


def _tree_sub(a: PyTree, b: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda u, v: u - v.astype(u.dtype), a, b)


@dataclasses.dataclass(frozen=True)
class LinearizedModel:
    """First-order Taylor model of ``apply_fn`` around ``params0``.

    Calling it, ``f_lin(params, x)``, evaluates ``f(w₀, x) + ∂f/∂w(w₀, x)·(w − w₀)``
    with one ``jax.jvp`` (a forward pass and its tangent); it is linear in ``params``
    and differentiable (``jax.grad`` transposes the JVP).

    Example:
        >>> import jax.numpy as jnp
        >>> f = lambda p, x: jnp.tanh(x @ p)
        >>> f_lin = linearize(f, jnp.zeros((2, 1)))
        >>> f_lin(jnp.ones((2, 1)), jnp.ones((1, 2)))  # tanh'(0) = 1
        Array([[2.]], dtype=float32)
    """

    apply_fn: Callable[[PyTree, jax.Array], jax.Array]
    params0: PyTree

    def __call__(self, params: PyTree, x: jax.Array) -> Float[Array, "B C"]:
        tangent = _tree_sub(params, self.params0)
        out, dout = jax.jvp(lambda p: self.apply_fn(p, x), (self.params0,), (tangent,))
        return out + dout

    def loss(self, params: PyTree, x: jax.Array, labels: Int[Array, " B"], *, loss: Loss):
        """Mean training loss of the linear model (:func:`ttjax.losses.mean_loss`)."""
        return losses.mean_loss(self(params, x), labels, loss=loss)

    def grad(self, params: PyTree, x: jax.Array, labels: Int[Array, " B"], *, loss: Loss):
        """∇_w L(f_lin(w)) = J(w₀)ᵀ ∇_f L — the gradient the linear model trains with."""
        return jax.grad(lambda p: self.loss(p, x, labels, loss=loss))(params)

    def gd_step(
        self, params: PyTree, x: jax.Array, labels: Int[Array, " B"], *, lr: float, loss: Loss
    ) -> PyTree:
        """One gradient-descent step w ← w − η ∇_w L(f_lin(w)) (jit it around the caller)."""
        g = self.grad(params, x, labels, loss=loss)
        return jax.tree_util.tree_map(lambda w, gw: w - lr * gw, params, g)

    def on(self, x: jax.Array) -> tuple[jax.Array, Callable[[PyTree], jax.Array]]:
        """``(f(w₀, x), δw ↦ J(x) δw)`` via ``jax.linearize``: the forward pass is done once
        and re-used for every later ``δw`` on the same inputs."""
        f0, jvp = jax.linearize(lambda p: self.apply_fn(p, x), self.params0)
        return f0, jvp


def linearize(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array], params: PyTree
) -> LinearizedModel:
    """The linearisation of ``apply_fn`` at ``params`` (as neural-tangents' ``linearize``).

    Args:
        apply_fn: ``apply_fn(params, x) -> logits``.
        params: the expansion point w₀ (the pretrained weights).

    Returns:
        A :class:`LinearizedModel` ``f_lin`` with ``f_lin(params, x)``, ``.loss``,
        ``.grad``, ``.gd_step`` and ``.on(x)``.
    """
    params0 = jax.tree_util.tree_map(jnp.asarray, params)
    return LinearizedModel(apply_fn=apply_fn, params0=params0)
