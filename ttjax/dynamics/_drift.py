"""The drifting kernel Θ_t = κ_t Θ₀: the schedule of κ from observed real steps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._errors import ConfigError
from ._config import DriftModel, DynamicsConfig

EDGE_MARGIN = 0.95
"""A drifting kernel is held where η̃·κ·λ_max(ΘH) is this fraction of the stability edge 2."""


def kernel_scale_schedule(
    observed: Sequence[float] | np.ndarray | None,
    *,
    steps: int,
    cap: float,
    config: DynamicsConfig,
) -> np.ndarray:
    """κ_t for t = 0..T−1 from the observed κ_1..κ_K (κ_0 = 1; held at κ_K after step K).

    Observations are clipped to ``config.drift_bounds`` and to ``cap`` (the edge of
    stability). Ones when the kernel is fixed (``DriftModel.NONE`` or no observations).

    Example:
        >>> kernel_scale_schedule([0.8, 0.7], steps=5, cap=2.0, config=DynamicsConfig())
        array([1. , 0.8, 0.7, 0.7, 0.7])
    """
    kappa = np.ones(steps)
    if config.drift is DriftModel.NONE or observed is None or len(observed) == 0:
        return kappa
    obs = np.asarray(observed, np.float64)
    if obs.ndim != 1 or not np.all(np.isfinite(obs)) or np.any(obs <= 0):
        raise ConfigError(f"observed kernel scales must be finite and > 0, got {obs.tolist()}.")
    lo, hi = config.drift_bounds
    k = min(len(obs), steps - 1)
    if k > 0:
        kappa[1 : k + 1] = obs[:k]
        kappa[k + 1 :] = obs[k - 1]
    return np.minimum(np.clip(kappa, lo, hi), max(cap, lo))


def fit_alignment(
    gradient_scale: Sequence[float] | np.ndarray, rates: Sequence[float] | np.ndarray
) -> float:
    """γ̂ of ``DriftModel.ALIGNED`` from the observed steps themselves, in [0, 1].

    The aligned model says κ^g_k = [R₀(g_0) / R₀(g_k)]^γ along the real run (κ^g_0 = 1): the
    real rate along the gradient falls less than the fixed kernel's as the gradient moves
    into Θ₀'s slow directions. Least squares through the origin over k = 1..K,
    ``γ̂ = Σ x_k y_k / Σ x_k²`` with ``x_k = log(R₀(g_0)/R₀(g_k))``, ``y_k = log κ^g_k``,
    clipped to [0, 1]; 0 when R₀ did not move (x ≈ 0: nothing to fit). A network that stays
    linear has κ^g ≡ 1, so γ̂ = 0 and the model is ``GRADIENT``'s.

    Args:
        gradient_scale: κ^g_1..κ^g_K (:meth:`ttjax.train.Observation.gradient_scale`).
        rates: R₀(g_0)..R₀(g_K) (:meth:`ttjax.train.Observation.gradient_rates`).

    Example:
        >>> rates = np.array([4.0, 2.0, 1.0])  # the gradient moved into slow directions
        >>> fit_alignment(np.sqrt(rates[0] / rates[1:]), rates)  # κ^g = (R₀(g_0)/R₀(g_k))^½
        0.5
        >>> fit_alignment([1.0, 1.0], rates)  # a kernel that did not move
        0.0
    """
    y = np.log(np.asarray(gradient_scale, np.float64))
    r = np.asarray(rates, np.float64)
    if len(r) != len(y) + 1:
        raise ConfigError(f"need R₀(g_0..g_K) ({len(y) + 1} values) for K = {len(y)} scales.")
    x = np.log(r[0] / r[1:])
    sxx = float(x @ x)
    if not np.isfinite(sxx) or sxx < 1e-8 or not np.all(np.isfinite(y)):
        return 0.0
    return round(float(np.clip((x @ y) / sxx, 0.0, 1.0)), 12)


__all__ = ["EDGE_MARGIN", "fit_alignment", "kernel_scale_schedule"]
