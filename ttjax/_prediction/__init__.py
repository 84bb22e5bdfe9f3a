"""The prediction core (public names via :mod:`ttjax.predict` and :mod:`ttjax`).

* :mod:`._core`: :func:`predict` — a :class:`ttjax.dynamics.Problem` and the run's
  :class:`ttjax.Hyperparams` → a :class:`Prediction` (the one single-prediction path);
* :mod:`._task`: Θ of a model on a task (:func:`task_ntk`) and the whole pipeline from a model
  and a task (:func:`predict_training_time`);
* :mod:`._result` / :mod:`._json`: the immutable result and its ``--json`` document;
* :mod:`._summary`: per-path curves → median/quantile curves and Tε statistics;
* :mod:`._kernel_drift`: Θ(w_k) against Θ(w₀) along a real run (:func:`kernel_drift`).

The grid (Tε over lr × momentum × batch size) is :mod:`ttjax._sweep`.
"""

from ._core import DEFAULT_EPS as DEFAULT_EPS
from ._core import predict as predict
from ._kernel_drift import KernelDrift as KernelDrift
from ._kernel_drift import kernel_drift as kernel_drift
from ._result import Prediction as Prediction
from ._summary import summarize_paths as summarize_paths
from ._task import predict_training_time as predict_training_time
from ._task import task_ntk as task_ntk

__all__ = [
    "DEFAULT_EPS",
    "KernelDrift",
    "Prediction",
    "kernel_drift",
    "predict",
    "predict_training_time",
    "summarize_paths",
    "task_ntk",
]
