"""Tε over a grid of hyper-parameters from one Θ (``ttjax sweep``): one vmapped solve."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from ._convergence import RunStatus, classify_criterion
from ._errors import ConfigError
from .dynamics import DEFAULT_DYNAMICS, DynamicsConfig, Problem
from .training_time import (
    Criterion,
    TrainingTimeStats,
    eps_key,
    epsilon_training_time,
    training_time_stats,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GridPoint:
    """One setting of :func:`predict_grid` and its predicted Tε (steps) per ε.

    ``stable``: within the linearised model's stability limit; ``status``:
    :func:`ttjax.classify_run` of the median predicted curve (an unstable setting is
    ``DIVERGED``). Tε is NaN unless the status is ``CONVERGED``.
    """

    lr: float
    momentum: float
    batch_size: int
    stable: bool
    max_stable_lr: float
    training_time: dict[float, TrainingTimeStats]
    final_loss: float
    final_error: float
    status: RunStatus = RunStatus.CONVERGED

    def to_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "batch_size": self.batch_size,
            "stable": self.stable,
            "status": self.status.value,
            "max_stable_lr": self.max_stable_lr,
            "training_time": {eps_key(e): s.to_dict() for e, s in self.training_time.items()},
            "final_loss": self.final_loss,
            "final_error": self.final_error,
        }


def predict_grid(
    problem: Problem,
    *,
    lrs: Sequence[float],
    momenta: Sequence[float],
    batch_sizes: Sequence[int],
    steps: int,
    eps: Sequence[float] = (0.01, 0.1, 0.4),
    paths: int = 64,
    dynamics: DynamicsConfig = DEFAULT_DYNAMICS,
    criterion: Criterion = Criterion.LOSS,
    key: jax.Array,
) -> list[GridPoint]:
    """Tε over the grid lr × momentum × batch size, reusing one Θ (one vmapped solve).

    Batch sizes ≥ N mean full-batch GD (no noise). Unstable settings are flagged, not
    raised, and get no training time (NaN statistics); so do settings whose median predicted
    curve does not settle (``GridPoint.status``, e.g. an SGD batch past its own edge).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax._config import Loss
        >>> p = Problem(jnp.eye(8), jnp.zeros((4, 2)), jnp.array([0, 1, 0, 1]), loss=Loss.MSE)
        >>> pts = predict_grid(p, lrs=[1.0, 9.0], momenta=[0.0], batch_sizes=[4], steps=10,
        ...                    key=jax.random.key(0))
        >>> [pt.stable for pt in pts]
        [True, False]
    """
    from ._config import Optimizer
    from .dynamics import simulate_grid

    grid = [(float(a), float(m), int(b)) for a in lrs for m in momenta for b in batch_sizes]
    if not grid:
        raise ConfigError("the sweep grid is empty: give at least one lr, momentum and batch size.")
    for _, m, b in grid:
        if not 0.0 <= m < 1.0 or b < 1:
            raise ConfigError(f"bad grid point momentum={m}, batch size={b}.")
    n = problem.n
    sgd = any(b < n for _, _, b in grid)
    res = simulate_grid(
        problem,
        optimizer=Optimizer.SGD if sgd else Optimizer.GD,
        lrs=np.array([g[0] for g in grid]),
        momenta=np.array([g[1] for g in grid]),
        batch_sizes=np.array([min(g[2], n) for g in grid], np.float64),
        steps=steps,
        config=dynamics,
        paths=paths,
        key=key,
    )
    nan = TrainingTimeStats(median=np.nan, mean=np.nan, q05=np.nan, q95=np.nan)
    out = []
    for i, (lr, m, b) in enumerate(grid):
        curve = res.loss[i] if criterion is Criterion.LOSS else res.error[i]
        ok = bool(res.stable[i]) and bool(np.all(np.isfinite(curve)))
        status = RunStatus.DIVERGED
        if ok:
            loss, error = np.median(res.loss[i], axis=0), np.median(res.error[i], axis=0)
            status = classify_criterion(loss, error, criterion)
        settled = status is RunStatus.CONVERGED
        tt = {
            float(e): training_time_stats(epsilon_training_time(curve, e)) if settled else nan
            for e in eps
        }
        out.append(
            GridPoint(
                lr=lr,
                momentum=m,
                batch_size=min(b, n),
                stable=ok,
                max_stable_lr=float(res.max_stable_lr[i]),
                training_time=tt,
                final_loss=float(np.median(res.loss[i][:, -1])) if ok else np.nan,
                final_error=float(np.median(res.error[i][:, -1])) if ok else np.nan,
                status=status,
            )
        )
    return out


__all__ = ["GridPoint", "predict_grid"]
