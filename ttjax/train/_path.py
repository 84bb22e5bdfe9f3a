"""The kernel's drift measured along the *predicted* trajectory: a walk of re-linearised segments.

The first K real steps show how the kernel has moved by step K; real fine-tuning often keeps
changing it afterwards (feature learning speeds ResNets up after 15–30 steps). This walk follows
the prediction itself, in weight space, and re-linearises the real network as it goes. From
w_j at step t_j it

1. measures the real outputs f_j = f(w_j), g_j = ∇_f L(f_j) and ‖∇_w L(w_j)‖², hence the
   kernel's scale along the gradient κ_j = (‖∇_w L(w_j)‖² / g_jᵀΘ₀g_j) / (same at w₀);
2. runs s linear heavy-ball steps in function space from f_j with κ_j Θ₀,
   u_{i+1} = m u_i − η_i κ_j Θ₀ ∇_f L(f_i), f_{i+1} = f_i + u_{i+1};
3. moves the weights as those steps would with the Jacobian J_j = ∂f/∂w at w_j — exact for a
   network linear in its weights —,

   .. math::

       w_{j+1} = w_j + \\Big(\\sum_{i=1}^{s} m^i\\Big) v_j
                 - J_j^\\top \\sum_{i<s} \\eta_i \\frac{1 - m^{s-i}}{1 - m} g_i,
       \\qquad v_{j+1} = m^s v_j - J_j^\\top \\sum_{i<s} \\eta_i m^{s-1-i} g_i

   (one vector–Jacobian product with two cotangents);
4. accepts the segment when the real loss at w_{j+1} is within ``tol`` of the linear
   segment's loss decrease of what the linear steps predicted; otherwise halves s and retries.
   Accepted segments double s, up to ``longest``.

Each point costs one full-set forward and backward pass and each segment one VJP, so the
walk is a budget of ``budget`` passes: where it runs out, κ is held at its last value. With
segments of one step the walk *is* real full-batch gradient descent with heavy-ball momentum
(the tests check it against :func:`ttjax.train.finetune`); SGD's walk is the mean (GD) path.
``DriftModel.PATH`` makes the dynamics follow the walk's κ_t.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from .. import losses as _losses
from .._config import Hyperparams
from .._errors import ConfigError
from .._types import PyTree
from ..data import Task

TOLERANCE = 0.25
"""Largest |real − linear| loss at a segment's end, as a fraction of the segment's decrease."""

BUDGET = 40
"""Full-set passes (forward + backward) the walk may spend: about 20 training steps."""


@dataclasses.dataclass(frozen=True)
class PathWalk:
    """The walk along the predicted trajectory (module docstring).

    Attributes:
        kernel_scale: κ_t for the updates t = 0..T−1 (κ_0 = 1; held after ``reached``), ``[T]``.
        loss: the real network's full-set loss at the accepted points, ``[J + 1]``.
        steps: the steps t_j of those points (0 first), ``[J + 1]``.
        reached: the last step the walk reached before its budget ran out (T: all of it).
        passes: full-set forward + backward passes spent (one per point, one per segment).
        seconds: wall-clock of the walk, compilation included.
        rejected: segments halved because the real loss left the linear one.
        step_equivalents: what the passes cost in the run's own training steps, passes · N/|B|
            (a full-set pass is N/|B| mini-batch steps: for small-batch SGD the walk can cost
            more than the T steps it predicts — the price is reported, not hidden).
    """

    kernel_scale: np.ndarray
    loss: np.ndarray
    steps: np.ndarray
    reached: int
    passes: int
    seconds: float
    rejected: int
    step_equivalents: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (κ and loss at the accepted points)."""
        return {
            "steps": self.steps.tolist(),
            "loss": self.loss.tolist(),
            "kernel_scale": self.kernel_scale[np.minimum(self.steps, len(self.kernel_scale) - 1)]
            .round(6)
            .tolist(),
            "reached": self.reached,
            "passes": self.passes,
            "seconds": self.seconds,
            "rejected": self.rejected,
            "step_equivalents": self.step_equivalents,
        }


def _sq_norm(tree: PyTree) -> jax.Array:
    return jnp.asarray(sum(jnp.vdot(a, a) for a in jax.tree_util.tree_leaves(tree)))


@functools.partial(jax.jit, static_argnames=("loss",))
def _linear_segment(
    f: Float[Array, "N C"],
    u: Float[Array, "N C"],
    theta: Float[Array, "NC NC"],
    lrs: Float[Array, " S"],
    active: Bool[Array, " S"],
    kappa: Float[Array, ""],
    momentum: Float[Array, ""],
    y: Array,
    *,
    loss: Any,
) -> tuple[Float[Array, "N C"], Float[Array, "N C"], Float[Array, "S N C"], Float[Array, " S"]]:
    """The ``active`` ones of S linear heavy-ball steps in function space with κΘ₀ (step 2 of
    the module docstring; inactive steps leave the state alone, so every segment length shares
    one compilation): the end outputs and velocity, the gradients g_i at the start of each step
    and the loss after each."""
    grad = jax.grad(lambda o: _losses.mean_loss(o, y, loss=loss))

    def step(carry, inputs):
        fi, ui = carry
        lr, on = inputs
        gi = grad(fi)
        un = momentum * ui - lr * kappa * (theta @ gi.reshape(-1)).reshape(fi.shape)
        fi, ui = jnp.where(on, fi + un, fi), jnp.where(on, un, ui)
        return (fi, ui), (gi, _losses.mean_loss(fi, y, loss=loss))

    (f, u), (gs, ls) = jax.lax.scan(step, (f, u), (lrs, active))
    return f, u, gs, ls


def stacked_vjp(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array], x: jax.Array
) -> Callable[[PyTree, jax.Array], PyTree]:
    """``move(p, cot)``: the vector–Jacobian products J(p)ᵀ cot_k of stacked cotangents
    ``cot [K, N, C]`` (compiled once), the ``move`` of :func:`heavy_ball_move`.

    The inputs ``x`` enter the compiled program as an argument, not as a constant (a closed-over
    training set is constant-folded by XLA: minutes of compilation at N = 750, and a cache entry
    as large as the data that no other task of the same shape can reuse)."""

    @jax.jit
    def move_on(p: PyTree, cot: jax.Array, xs: jax.Array) -> PyTree:
        _, vjp = jax.vjp(lambda q: apply_fn(q, xs), p)
        return jax.vmap(lambda ct: vjp(ct)[0])(cot)

    return lambda p, cot: move_on(p, cot, x)


def heavy_ball_move(
    p: PyTree,
    v: PyTree,
    gs: Float[Array, "S N C"],
    lrs: Float[np.ndarray, " S"],
    s: int,
    m: float,
    move: Callable[[PyTree, jax.Array], PyTree],
) -> tuple[PyTree, PyTree]:
    """Weights and velocity after the first ``s`` of the linear steps whose output gradients are
    ``gs`` (step 3 of the module docstring; ``lrs`` zero past ``s``): ``move(p, cot)`` is the
    stacked vector–Jacobian product J(p)ᵀ cot of the two cotangents (displacement, velocity)."""
    i = np.arange(len(lrs))
    disp = -lrs * ((1 - m ** np.maximum(s - i, 0)) / (1 - m) if m else np.ones(len(lrs)))
    vel = -lrs * m ** np.maximum(s - 1 - i, 0)
    cot = jnp.einsum("ks,snc->knc", jnp.asarray(np.stack([disp, vel]), jnp.float32), gs)
    dw = move(p, cot)
    geo = float(sum(m**k for k in range(1, s + 1)))
    p_new = jax.tree_util.tree_map(lambda a, b, d: a + geo * b + d[0], p, v, dw)
    v_new = jax.tree_util.tree_map(lambda b, d: m**s * b + d[1], v, dw)
    return p_new, v_new


def walk_predicted_path(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    params: PyTree,
    x: jax.Array,
    y: jax.Array,
    theta: Float[Array | np.ndarray, "NC NC"],
    hparams: Hyperparams,
    *,
    tol: float = TOLERANCE,
    first: int = 2,
    longest: int = 64,
    budget: int = BUDGET,
) -> PathWalk:
    """Walk the predicted trajectory in re-linearised segments (module docstring).

    Args:
        apply_fn: ``f(params, x) -> [N, C]`` logits; params: w₀.
        x: the (preprocessed) training inputs; y: labels ``[N]``.
        theta: Θ₀ ``[N·C, N·C]`` (example-major), the kernel the prediction uses.
        hparams: the run (lr schedule, momentum, T, loss; SGD walks the mean path).
        tol: acceptance tolerance; first: the first segment's length; longest: the longest.
        budget: full-set passes the walk may spend (≥ 3).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> f = lambda w, x: x @ w                       # linear in w: the walk is exact
        >>> x = jax.random.normal(jax.random.key(0), (8, 4))
        >>> y = jnp.arange(8) % 2
        >>> theta = jnp.kron(x @ x.T, jnp.eye(2))
        >>> walk = walk_predicted_path(f, jnp.zeros((4, 2)), x, y, theta,
        ...                            Hyperparams(lr=0.05, steps=30))
        >>> walk.reached, bool(jnp.allclose(walk.kernel_scale, 1.0, atol=1e-4))
        (30, True)
    """
    if budget < 3 or first < 1 or longest < first or not tol > 0:
        raise ConfigError(
            f"the path walk needs budget ≥ 3, 1 ≤ first ≤ longest and tol > 0, got {budget=}, "
            f"{first=}, {longest=}, {tol=}."
        )
    start = time.perf_counter()
    loss = hparams.loss
    n = int(y.shape[0])
    th = jnp.asarray(theta, jnp.float32)
    if th.shape[0] % n:
        raise ConfigError(f"Θ is {th.shape[0]}×{th.shape[0]}, not N·C × N·C for N = {n}.")

    @jax.jit
    def point_on(
        p: PyTree, xs: jax.Array, ys: jax.Array, k: jax.Array
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        # data and Θ are arguments, not constants (see stacked_vjp)
        f, vjp = jax.vjp(lambda q: apply_fn(q, xs), p)
        g = jax.grad(lambda o: _losses.mean_loss(o, ys, loss=loss))(f)
        (gw,) = vjp(g)
        quad = jnp.vdot(g.reshape(-1), k @ g.reshape(-1))
        return f, _sq_norm(gw) / quad, _losses.mean_loss(f, ys, loss=loss)

    def point(p: PyTree) -> tuple[jax.Array, jax.Array, jax.Array]:
        return point_on(p, x, y, th)

    move = stacked_vjp(apply_fn, x)
    m, steps = float(hparams.momentum), hparams.steps
    lrs_all = np.asarray(hparams.learning_rate(jnp.arange(steps, dtype=jnp.float32)), np.float32)
    p = jax.tree_util.tree_map(jnp.asarray, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, p)
    f, ratio, value = point(p)
    ratio0 = float(ratio)
    if not (np.isfinite(ratio0) and ratio0 > 0):
        raise ConfigError("the loss gradient vanishes at w₀: there is nothing to train.")
    u = jnp.zeros_like(f)
    kappa = np.ones(steps)
    kap, t, s, passes, rejected = 1.0, 0, first, 1, 0
    width = min(longest, steps)  # one compiled segment shape
    losses, points = [float(value)], [0]
    while t < steps and passes + 2 <= budget:
        s = min(s, steps - t)
        lrs = np.zeros(width, np.float32)
        lrs[:s] = lrs_all[t : t + s]
        _, u_end, gs, seg = _linear_segment(
            f, u, th, jnp.asarray(lrs), jnp.arange(width) < s, jnp.float32(kap),
            jnp.float32(m), y, loss=loss,
        )  # fmt: skip
        p_new, v_new = heavy_ball_move(p, v, gs, lrs, s, m, move)
        f_new, ratio, value = point(p_new)
        passes += 2
        predicted = float(seg[s - 1])
        drop = max(losses[-1] - predicted, 1e-3 * abs(losses[-1]), 1e-12)
        if not np.isfinite(float(value)) or (abs(float(value) - predicted) > tol * drop and s > 1):
            s, rejected = max(1, s // 2), rejected + 1
            continue
        kappa[t : t + s] = kap
        t += s
        p, f, u = p_new, f_new, u_end  # function-space velocity: the linear one (approximation)
        v = v_new
        losses.append(float(value))
        points.append(t)
        new = float(ratio) / ratio0
        kap = new if np.isfinite(new) and new > 0 else kap
        if abs(float(value) - predicted) <= 0.5 * tol * drop:
            s = min(2 * s, longest)
    kappa[t:] = kap
    return PathWalk(
        kernel_scale=kappa,
        loss=np.asarray(losses),
        steps=np.asarray(points),
        reached=t,
        passes=passes,
        seconds=time.perf_counter() - start,
        rejected=rejected,
        step_equivalents=passes * n / hparams.resolved_batch_size(n),
    )


def walk_task_path(
    model: Any, task: Task, theta: Any, hparams: Hyperparams, **kwargs: Any
) -> PathWalk:
    """:func:`walk_predicted_path` of ``model`` (``apply_fn``, ``params``, ``preprocess``) on
    the task's training set."""
    x = model.preprocess(task.images)
    return walk_predicted_path(
        model.apply_fn, model.params, x, jnp.asarray(task.labels), theta, hparams, **kwargs
    )


__all__ = ["BUDGET", "TOLERANCE", "PathWalk", "walk_predicted_path", "walk_task_path"]
