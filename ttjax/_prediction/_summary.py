"""Monte-Carlo paths → the median and 5–95% curves and the Tε statistics of each ε."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..dynamics import Trajectories
from ..training_time import (
    Criterion,
    TrainingTimeStats,
    epsilon_training_time,
    training_time_stats,
)

Curves = dict[str, np.ndarray]
TimesByEps = dict[float, TrainingTimeStats]


def summarize_paths(
    traj: Trajectories, eps: Sequence[float], criterion: Criterion
) -> tuple[Curves, TimesByEps, TimesByEps]:
    """Median/5%/95% curves and the Tε distributions (criterion curve, other curve).

    For every path m, ``Tε_m = min{t ≤ T : L_t − L_T ≤ ε (L_0 − L_T)}``
    (:func:`ttjax.training_time.epsilon_training_time`); the statistics are over m.

    Returns:
        ``(curves, tt, tt_other)``: ``curves`` has ``loss``/``error`` (median over paths) and
        ``{loss,error}_q05``/``_q95``; ``tt`` and ``tt_other`` map ε to the statistics on the
        ``criterion`` curve and on the other one.
    """
    curves: Curves = {}
    for name, c in (("loss", traj.loss), ("error", traj.error)):
        q05, med, q95 = np.quantile(c, [0.05, 0.5, 0.95], axis=0)
        curves[name], curves[f"{name}_q05"], curves[f"{name}_q95"] = med, q05, q95
    main, other = (
        (traj.loss, traj.error) if criterion is Criterion.LOSS else (traj.error, traj.loss)
    )
    tt = {float(e): training_time_stats(epsilon_training_time(main, e)) for e in eps}
    tt_other = {float(e): training_time_stats(epsilon_training_time(other, e)) for e in eps}
    return curves, tt, tt_other


__all__ = ["Curves", "TimesByEps", "summarize_paths"]
