"""The result of a solve: per-path curves, stability numbers, the kernel's drift, outputs."""

from __future__ import annotations

import dataclasses
import enum

import jax
import jax.numpy as jnp
import numpy as np

from .. import losses
from .._config import Loss
from .._errors import ConfigError


class Method(enum.Enum):
    """Which solver a configuration uses (see the module docstring)."""

    CLOSED_FORM = "closed_form"
    ODE = "ode"
    SCAN = "scan"


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """Predicted curves of M paths (index 0 = the pretrained model, T + 1 points).

    Attributes:
        loss, error: ``[M, T+1]`` (``M = 1`` for deterministic dynamics).
        method: the solver used.
        lambda_max: λ_max(Θ); curvature: λ_max(Θ H(f0)) (stability, see
            :mod:`ttjax.dynamics._stability`); max_stable_lr: the largest stable η
            of the kernel at w₀.
        kernel_scale: κ_t (Θ_t = κ_t Θ₀) used at steps t = 0..T−1, ``[T]`` (ones for a
            fixed kernel).
        scale_cap: the κ that brings the step to :data:`EDGE_MARGIN` of the stability edge
            (the drift model holds κ below it); ``inf`` for a fixed kernel.
        drift: whether the kernel drifted (``DriftModel.OBSERVED`` with observations).
        outputs: the predicted outputs f_t at ``output_steps``, ``[M, S, N, C]`` (None
            unless asked for with ``simulate(..., save_outputs=...)``).
        output_steps: the steps of ``outputs``.
    """

    loss: np.ndarray
    error: np.ndarray
    method: Method
    lambda_max: float
    curvature: float
    max_stable_lr: float
    kernel_scale: np.ndarray | None = None
    scale_cap: float = float("inf")
    drift: bool = False
    outputs: np.ndarray | None = None
    output_steps: tuple[int, ...] = ()

    def residuals(self, labels: np.ndarray, *, loss: Loss) -> np.ndarray:
        """∂ℓ_i/∂f_i at the saved outputs, ``[M, S, N, C]`` (softmax − one-hot for CE,
        f − one-hot for MSE); raises if no outputs were saved."""
        if self.outputs is None:
            raise ConfigError("no outputs were saved: simulate(..., save_outputs=[steps]).")
        f = jnp.asarray(self.outputs)
        n, c = f.shape[-2:]
        y = jnp.asarray(labels)
        per = jax.vmap(lambda fi: losses.loss_gradient(fi, y, loss=loss))(f.reshape(-1, n, c))
        return np.asarray(per).reshape(f.shape) * n

    @property
    def edge_of_stability_step(self) -> int | None:
        """First step whose observed kernel scale reached the stability edge, or None."""
        if not self.drift or self.kernel_scale is None or not np.isfinite(self.scale_cap):
            return None
        hit = np.flatnonzero(self.kernel_scale >= self.scale_cap * (1 - 1e-6))
        return int(hit[0]) if hit.size else None

    def quantiles(self, q: float) -> dict[str, np.ndarray]:
        """Per-step quantile ``q`` of the loss and error curves over paths."""
        return {
            "loss": np.quantile(self.loss, q, axis=0),
            "error": np.quantile(self.error, q, axis=0),
        }


__all__ = ["Method", "Trajectories"]
