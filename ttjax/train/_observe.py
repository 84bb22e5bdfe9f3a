"""The first K real steps, observed: step time, loss and how far the kernel has moved.

``ttjax predict`` has always run a few real training steps to time one. The same steps
also tell how far the network is from its linearisation, at almost no extra cost: after
each step the kernel scale

.. math::

    \\kappa_k = \\frac{\\operatorname{tr}\\Theta(w_k)}{\\operatorname{tr}\\Theta(w_0)},
    \\qquad \\operatorname{tr}\\Theta(w)
        \\approx \\sum_{i \\in S} \\|\\nabla_w (z_i^\\top f_i(w))\\|^2

is estimated on a fixed random subset S of examples with fixed Rademacher probes
z_i ∈ {±1}^C (Hutchinson: unbiased for Σ_{i∈S} Σ_c ‖∂f_ic/∂w‖²; the same S and z at every
k, so the ratio's noise is mostly common-mode). The linearised model assumes κ ≡ 1; the
dynamics (``DriftModel.OBSERVED``) follow the observed κ instead, and κ far from 1 is
the diagnostic that the prediction is outside the lazy regime.

The trace weighs every direction of Θ alike; the loss only feels Θ along its gradient,
dL/dt = −η̃ gᵀ Θ_t g with g = ∇_f L. So each observed point also records the full-set
gradient ‖∇_w L(w_k)‖² = g_kᵀ Θ(w_k) g_k and g_k itself, from which
:meth:`Observation.gradient_scale` gives the kernel's scale *along the gradient*

.. math::

    \\kappa^{g}_k = \\frac{\\|\\nabla_w L(w_k)\\|^2 / g_k^\\top \\Theta_0 g_k}
                       {\\|\\nabla_w L(w_0)\\|^2 / g_0^\\top \\Theta_0 g_0}

(normalised by its value at w₀, so an approximate Θ₀'s bias cancels to first order): the
scalar κ that makes a drifting model's loss-decrease rate exact at the observed points.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import losses as _losses
from .._config import Hyperparams, Loss
from .._errors import ConfigError
from .._types import PRNGKey, PyTree
from ..data import Task
from ._path import PathWalk
from ._step import block
from ._timing import CompiledStep, compile_step


@dataclasses.dataclass(frozen=True)
class Observation:
    """What the first K real steps showed.

    Attributes:
        loss: the step's (batch) loss at w_0 … w_{K−1} (full-set loss for GD), ``[K]``.
        kernel_scale: κ_k = tr Θ(w_k) / tr Θ(w₀) for k = 1..K, ``[K]``.
        module_scale: per top-level parameter module (e.g. ``"blocks_3"``, ``"head"``): its
            part of tr Θ after step K over its part at w₀ — which layers drift.
        module_share: each module's share of tr Θ(w₀).
        step_time_s: median seconds of one compiled step (the steps after ``warmup``).
        compile_s: seconds to compile the step.
        probe_s: seconds spent estimating tr Θ (all K + 1 points).
        grad_sq: ‖∇_w L(w_k)‖² of the full-set loss at w_0 … w_K, ``[K + 1]`` (None when
            not measured).
        loss_grad: g_k = ∇_f L(f(w_k)) on the full set at w_0 … w_K, ``[K + 1, N, C]``.
        outputs: the real outputs f(w_k) on the full set at w_0 … w_K, ``[K + 1, N, C]``
            (recorded with the gradients; the state a closed-loop prediction restarts from).
        path: the walk along the predicted trajectory (``DriftModel.PATH``;
            :func:`ttjax.train.walk_predicted_path`), None when not walked.
    """

    loss: np.ndarray
    kernel_scale: np.ndarray
    module_scale: dict[str, float]
    module_share: dict[str, float]
    step_time_s: float
    compile_s: float
    probe_s: float
    grad_sq: np.ndarray | None = None
    loss_grad: np.ndarray | None = None
    path: PathWalk | None = None
    outputs: np.ndarray | None = None

    def first(self, k: int) -> Observation:
        """The observation of the first ``k`` of its K steps (as if only ``k`` had been run;
        the step time, compile time and per-module scales stay those of all K).

        Example:
            >>> obs = Observation(loss=np.ones(4), kernel_scale=np.arange(1.0, 5.0),
            ...                   module_scale={}, module_share={}, step_time_s=0.1,
            ...                   compile_s=1.0, probe_s=0.0)
            >>> obs.first(2).kernel_scale.tolist()
            [1.0, 2.0]
        """
        if not 1 <= k <= len(self.kernel_scale):
            raise ConfigError(f"first(k) needs 1 ≤ k ≤ {len(self.kernel_scale)}, got {k}.")

        def head(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[: k + 1]

        return dataclasses.replace(
            self,
            loss=self.loss[:k],
            kernel_scale=self.kernel_scale[:k],
            grad_sq=head(self.grad_sq),
            loss_grad=head(self.loss_grad),
            outputs=head(self.outputs),
            path=None,
        )

    def _gradient_forms(self, theta: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(g_kᵀΘ₀g_k, ‖g_k‖²) for k = 0..K of the recorded full-set loss gradients (float64);
        None when they were not recorded."""
        if self.loss_grad is None:
            return None
        g = np.asarray(self.loss_grad, np.float64)
        g = g.reshape(g.shape[0], -1)
        quad = np.einsum("ki,ij,kj->k", g, np.asarray(theta, np.float64), g)
        return quad, np.einsum("ki,ki->k", g, g)

    def gradient_scale(self, theta: Any) -> np.ndarray | None:
        """κ^g_k for k = 1..K against the kernel ``theta`` = Θ₀ ``[N·C, N·C]`` (module
        docstring); None when the gradients were not recorded or gᵀΘ₀g vanishes."""
        if self.grad_sq is None:
            return None
        forms = self._gradient_forms(theta)
        if forms is None:
            return None
        quad = forms[0]
        sq = np.asarray(self.grad_sq, np.float64)
        if not np.all(quad > 0) or not np.all(np.isfinite(sq)) or sq[0] <= 0:
            return None
        ratio = sq / quad
        return ratio[1:] / ratio[0]

    def gradient_rates(self, theta: Any) -> np.ndarray | None:
        """R₀(g_k) = g_kᵀ Θ₀ g_k / ‖g_k‖² for k = 0..K, g_k = ∇_f L(f(w_k)) on the full set,
        against ``theta`` = Θ₀ (how fast the fixed kernel moves the outputs along each real
        gradient); None when the gradients were not recorded or one vanishes."""
        forms = self._gradient_forms(theta)
        if forms is None:
            return None
        quad, sq = forms
        if not np.all(np.isfinite(sq)) or np.any(sq <= 0):
            return None
        rates = quad / sq
        return rates if np.all(np.isfinite(rates)) and np.all(rates > 0) else None

    def rate_reference(self, theta: Any) -> float | None:
        """R₀(g_K) of the last observed step (:meth:`gradient_rates`), the reference of
        ``DriftModel.ALIGNED``; None when unavailable."""
        rates = self.gradient_rates(theta)
        return None if rates is None else float(rates[-1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "loss": self.loss.tolist(),
            "kernel_scale": self.kernel_scale.tolist(),
            "module_scale": dict(self.module_scale),
            "module_share": dict(self.module_share),
            "step_time_s": self.step_time_s,
            "compile_s": self.compile_s,
            "probe_s": self.probe_s,
            "grad_sq": None if self.grad_sq is None else self.grad_sq.tolist(),
            "path": None if self.path is None else self.path.to_dict(),
        }


def trace_probe(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    x: jax.Array,
    *,
    num_classes: int,
    key: PRNGKey,
    subset: int = 32,
    chunk: int = 8,
) -> Callable[[PyTree], dict[str, float]]:
    """A function ``w ↦`` Hutchinson estimate of Σ_{i∈S} Σ_c ‖∂f_ic(w)/∂w‖² (module docstring).

    S (``subset`` examples) and the probes are drawn once from ``key``; the per-example
    gradients are vmapped over padded chunks of ``chunk``, all chunks in one compiled
    program (``lax.map``; one dispatch and one host transfer per call). The
    estimate is returned split by top-level parameter module (``{name: part}``; a
    parameter pytree that is not a dict is one module, ``"params"``).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> f = lambda w, x: x @ w                     # linear: Θ = (x xᵀ) ⊗ I_C exactly
        >>> x = jax.random.normal(jax.random.key(0), (6, 3))
        >>> w = jnp.zeros((3, 2))
        >>> tr = trace_probe(f, x, num_classes=2, key=jax.random.key(1), subset=6)
        >>> round(tr(w)["params"] / float(2 * jnp.sum(x * x)), 5)  # ‖z_iᵀ∂f_i/∂w‖² = C‖x_i‖²
        1.0
    """
    if subset < 1 or chunk < 1:
        raise ConfigError(f"subset and chunk must be ≥ 1, got {subset=}, {chunk=}.")
    n = int(x.shape[0])
    k_sub, k_z = jax.random.split(key)
    m = min(n, subset)
    idx = np.arange(n) if m == n else np.sort(np.asarray(jax.random.permutation(k_sub, n)[:m]))
    size = min(chunk, m)
    pad = -m % size
    idx = np.concatenate([idx, np.repeat(idx[:1], pad)])
    weight = jnp.asarray(np.r_[np.ones(m), np.zeros(pad)], jnp.float32)
    xs = x[idx].reshape(-1, size, *x.shape[1:])
    z = jax.random.rademacher(k_z, (len(idx), num_classes), dtype=jnp.float32)
    z = z.reshape(-1, size, num_classes)
    weight = weight.reshape(-1, size)

    def sq_norms(p: PyTree, xi: jax.Array, zi: jax.Array) -> dict[str, jax.Array]:
        g = jax.grad(lambda q: jnp.vdot(apply_fn(q, xi[None])[0], zi.astype(xi.dtype)))(p)
        groups = g if isinstance(g, dict) else {"params": g}
        return {
            name: jnp.asarray(sum(jnp.vdot(a, a) for a in jax.tree_util.tree_leaves(sub)))
            for name, sub in groups.items()
        }

    @jax.jit
    def chunk_sums(p: PyTree, xc: jax.Array, zc: jax.Array, wc: jax.Array):
        """Every chunk's sums ``{name: [chunks]}`` in one program (``lax.map`` over chunks)."""

        def one(args: tuple[jax.Array, jax.Array, jax.Array]) -> dict[str, jax.Array]:
            xb, zb, wb = args
            parts = jax.vmap(sq_norms, in_axes=(None, 0, 0))(p, xb, zb)
            return {name: jnp.sum(wb * v) for name, v in parts.items()}

        return jax.lax.map(one, (xc, zc, wc))

    def trace(p: PyTree) -> dict[str, float]:
        # one dispatch and one transfer per call; chunks summed on the host in float64, in order
        parts = jax.device_get(chunk_sums(p, xs, z, weight))
        return {name: sum(float(v) for v in np.asarray(col)) for name, col in parts.items()}

    return trace


def gradient_probe(
    apply_fn: Callable[[PyTree, jax.Array], jax.Array],
    x: jax.Array,
    y: jax.Array,
    *,
    loss: Loss,
) -> Callable[[PyTree], tuple[float, np.ndarray, np.ndarray]]:
    """A function ``w ↦ (‖∇_w L(w)‖², ∇_f L(f(w)), f(w))`` of the full-set mean loss (one
    jit).

    ``‖∇_w L‖² = gᵀ Θ(w) g`` with ``g = ∇_f L`` (Θ = J Jᵀ, J = ∂f/∂w): the kernel's size
    along the loss gradient.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax._config import Loss
        >>> f = lambda w, x: x @ w                      # Θ = (x xᵀ) ⊗ I
        >>> x = jax.random.normal(jax.random.key(0), (5, 3))
        >>> y = jnp.array([0, 1, 0, 1, 1])
        >>> sq, g, out = gradient_probe(f, x, y, loss=Loss.MSE)(jnp.zeros((3, 2)))
        >>> theta = jnp.kron(x @ x.T, jnp.eye(2))
        >>> round(sq / float(g.reshape(-1) @ theta @ g.reshape(-1)), 5)
        1.0
    """

    @jax.jit
    def info(p: PyTree, xs: jax.Array, ys: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        # the data are arguments, not constants XLA would fold (see ttjax.train stacked_vjp)
        f, vjp = jax.vjp(lambda q: apply_fn(q, xs), p)
        g_f = jax.grad(lambda out: _losses.mean_loss(out, ys, loss=loss))(f)
        (g_w,) = vjp(g_f)
        sq = sum(jnp.vdot(a, a) for a in jax.tree_util.tree_leaves(g_w))
        return jnp.asarray(sq), g_f, f

    def probe(p: PyTree) -> tuple[float, np.ndarray, np.ndarray]:
        sq, g_f, f = info(p, x, y)
        return float(sq), np.asarray(g_f), np.asarray(f)

    return probe


def observe_steps(
    model: Any,
    task: Task,
    hparams: Hyperparams,
    *,
    key: PRNGKey,
    steps: int = 4,
    warmup: int = 1,
    subset: int = 32,
    compiled: CompiledStep | None = None,
    gradient: bool = False,
) -> Observation:
    """Run the first ``steps`` real training steps; time them and measure κ_k after each.

    The step is exactly the one :func:`ttjax.train.finetune` runs (same optimiser, batch
    size and sampling, compiled once); the ``steps − warmup`` steps after the first
    ``warmup`` are timed one by one (blocking) and their median is the step time.

    Args:
        model: the network (``apply_fn``, ``params``, ``preprocess``).
        task: the training set.
        hparams: the fine-tuning hyper-parameters.
        key: PRNG key (SGD batches, probe subset and probes).
        steps: K real steps (≥ 2 so that one is timed after a warm-up step).
        warmup: untimed steps before timing.
        subset: examples of the tr Θ probe.
        compiled: the step already compiled by :func:`ttjax.train._timing.compile_step`
            (e.g. in the background while Θ was built); None compiles it here.
        gradient: also record ‖∇_w L(w_k)‖² and g_k on the full set (``grad_sq``,
            ``loss_grad``; :meth:`Observation.gradient_scale`) and the outputs f(w_k)
            (``outputs``), one full-set forward and backward pass per observed point (K + 1
            of them).

    Example:
        >>> import jax
        >>> from ttjax.models import create_model
        >>> from ttjax.data import load_task
        >>> task = load_task("sample", classes=3, per_class=4, image_size=16, seed=0)
        >>> m = create_model("tiny", num_classes=3, image_size=16, weights=None,
        ...                  key=jax.random.key(0))
        >>> obs = observe_steps(m, task, Hyperparams(lr=0.1), key=jax.random.key(1))
        >>> obs.kernel_scale.shape, obs.step_time_s > 0
        ((4,), True)
    """
    if steps < warmup + 1 or warmup < 0:
        raise ConfigError(f"need steps ≥ warmup + 1 and warmup ≥ 0, got {steps=}, {warmup=}.")
    k_step, k_probe = jax.random.split(key)
    if compiled is None:
        compiled = compile_step(model, task, hparams, key=k_step)
    step, compile_s = compiled.step, compiled.compile_s
    params, opt_state, x, y, k_step = compiled.args
    probe = trace_probe(model.apply_fn, x, num_classes=task.num_classes, key=k_probe, subset=subset)
    grad_info = gradient_probe(model.apply_fn, x, y, loss=hparams.loss) if gradient else None
    t0 = time.perf_counter()
    parts0 = probe(params)
    tr0 = sum(parts0.values())
    grads = [] if grad_info is None else [grad_info(params)]
    probe_s = time.perf_counter() - t0
    losses, scales, times = [], [], []
    parts = parts0
    for t in range(steps):
        t0 = time.perf_counter()
        params, opt_state, value = block(
            step(params, opt_state, x, y, k_step, jnp.asarray(t, jnp.int32))
        )
        if t >= warmup:
            times.append(time.perf_counter() - t0)
        losses.append(float(value))
        t0 = time.perf_counter()
        parts = probe(params)
        scales.append(sum(parts.values()) / tr0 if tr0 > 0 else 1.0)
        if grad_info is not None:
            grads.append(grad_info(params))
        probe_s += time.perf_counter() - t0
    return Observation(
        loss=np.asarray(losses),
        kernel_scale=np.asarray(scales),
        module_scale={k: parts[k] / v if v > 0 else 1.0 for k, v in parts0.items()},
        module_share={k: v / tr0 if tr0 > 0 else 0.0 for k, v in parts0.items()},
        step_time_s=float(np.median(times)),
        compile_s=float(compile_s),
        probe_s=probe_s,
        grad_sq=np.asarray([g[0] for g in grads]) if grads else None,
        loss_grad=np.stack([g[1] for g in grads]) if grads else None,
        outputs=np.stack([g[2] for g in grads]) if grads else None,
    )


__all__ = ["Observation", "gradient_probe", "observe_steps", "trace_probe"]
