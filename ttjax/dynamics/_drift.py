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


__all__ = ["EDGE_MARGIN", "kernel_scale_schedule"]
