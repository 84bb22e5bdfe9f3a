"""The network with its backbone linearised and its head kept exact (a reference model).

With a linear head, f(w, x) = φ(θ, x) W + b for backbone weights θ and head (W, b). The paper's
model linearises everything, so the backbone's Jacobian stays at the pretrained head W₀:
Θ_backbone = J_φ J_φᵀ contracted with W₀W₀ᵀ. In real fine-tuning the fresh head grows, and every
backbone gradient ∂f/∂θ = J_φ W grows with it. This model keeps exactly that coupling and
nothing else:

.. math::

    f_{bil}(θ, W, b; x) = φ(θ_0, x) W + b + \\big(J_φ(θ_0, x)(θ − θ_0)\\big) W,

linear in θ − θ₀ for a fixed head and exact in (W, b) for fixed θ (one ``jax.jvp`` of the real
network at the current head). Fine-tuned by :func:`ttjax.finetune` (it is a network like any
other) it separates the part of the linearisation's error that comes from the head's growth from
the backbone's own non-linearity. It costs a real run and more, so it is an analysis tool
(``scripts/bench_head_bilinear.py``), not a predictor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import PyTree
from ._linearize import _tree_sub


@dataclasses.dataclass(frozen=True)
class BackboneLinearizedModel:
    """``f(w) = F(θ₀, head) + ∂_θF(θ₀, head)·(θ − θ₀)`` for ``w = {θ…, head}``.

    Attributes:
        apply_fn: ``apply_fn(params, x) -> logits`` of the real network.
        params0: the pretrained parameters (a dict with the head under ``head_key``).
        head_key: the top-level key of the head in ``params``.

    Example:
        >>> import jax.numpy as jnp
        >>> f = lambda p, x: jnp.tanh(x @ p["a"]) @ p["head"]
        >>> p0 = {"a": jnp.zeros((2, 1)), "head": jnp.ones((1, 1))}
        >>> fb = linearize_backbone(f, p0)
        >>> fb({"a": jnp.ones((2, 1)), "head": 3 * jnp.ones((1, 1))}, jnp.ones((1, 2)))
        Array([[6.]], dtype=float32)
    """

    apply_fn: Callable[[PyTree, jax.Array], jax.Array]
    params0: PyTree
    head_key: str = "head"

    def __call__(self, params: PyTree, x: jax.Array) -> Float[Array, "B C"]:
        head = params[self.head_key]
        base = {k: v for k, v in self.params0.items() if k != self.head_key}
        moved = {k: v for k, v in params.items() if k != self.head_key}
        tangent = _tree_sub(moved, base)

        def at_head(backbone: PyTree) -> jax.Array:
            return self.apply_fn({**backbone, self.head_key: head}, x)

        out, dout = jax.jvp(at_head, (base,), (tangent,))
        return out + dout


def linearize_backbone(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array], params: PyTree, *, head_key: str = "head"
) -> BackboneLinearizedModel:
    """The network with its backbone linearised at ``params`` and its head exact.

    Args:
        apply_fn: ``apply_fn(params, x) -> logits``; ``params`` a dict holding the head under
            ``head_key`` (as every :class:`ttjax.models.Model` does).
        params: the expansion point (the pretrained weights with the fresh head).
        head_key: the head's key in ``params``.

    Returns:
        A :class:`BackboneLinearizedModel`, callable as ``apply_fn`` is; replace a model's
        ``apply_fn`` with it (``dataclasses.replace(model, apply_fn=...)``) to fine-tune it.

    Raises:
        KeyError: ``params`` has no ``head_key`` entry.
    """
    if not isinstance(params, dict) or head_key not in params:
        keys = list(params) if isinstance(params, dict) else type(params).__name__
        raise KeyError(f"linearize_backbone needs params with a {head_key!r} entry (the "
                       f"head); got {keys}. Pass head_key= for another name.")  # fmt: skip
    params0 = jax.tree_util.tree_map(jnp.asarray, params)
    return BackboneLinearizedModel(apply_fn=apply_fn, params0=params0, head_key=head_key)
