"""Predict the fine-tuning curve and the ε-training-time without training (the product).

Pipeline: Θ at the pretrained weights (:mod:`ttjax.ntk`) → the function-space dynamics
(:mod:`ttjax.dynamics`, M paths, the kernel following the drift seen on the first real steps)
→ Tε of every path (the real run's definition) → wall-clock = steps × one real step.

The public entry points; the code lives in :mod:`ttjax._prediction` (``predict`` on a
:class:`ttjax.dynamics.Problem`, the model-and-task pipeline, the result and its JSON) and
:mod:`ttjax._sweep` (the grid).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ._band import BAND_CALIBRATION, BandCalibration
from ._config import Hyperparams
from ._errors import ConfigError
from ._prediction import (
    DEFAULT_EPS,
    Prediction,
    predict,
    predict_training_time,
    summarize_paths,
    task_ntk,
)
from ._protocols import Kernel
from ._sweep import GridPoint, predict_grid
from ._types import Array, Int, Labels, PRNGKey
from .dynamics import DEFAULT_DYNAMICS, DynamicsConfig, Problem
from .train import Observation
from .training_time import Criterion


def predict_from_ntk(
    ntk: Kernel | None,
    labels: Labels | Int[Array, " N"],
    hparams: Hyperparams,
    *,
    eps: Sequence[float] = DEFAULT_EPS,
    paths: int = 256,
    dynamics: DynamicsConfig = DEFAULT_DYNAMICS,
    criterion: Criterion = Criterion.LOSS,
    step_time_s: float | None = None,
    key: PRNGKey,
    progress: bool = False,
    problem: Problem | None = None,
    timing_s: Mapping[str, float] | None = None,
    config: Mapping[str, object] | None = None,
    observation: Observation | None = None,
    save_outputs: Sequence[int] | None = None,
    band: BandCalibration | None = BAND_CALIBRATION,
) -> Prediction:
    """Predict from an already computed Θ (an :class:`ttjax.ntk.NtkResult`, or any object with
    ``theta``, ``f0`` and ``features``): :func:`predict` on ``Problem.from_ntk(ntk, labels)``.

    With an ``observation`` of the first real steps (:func:`ttjax.train.observe_steps`) the
    kernel follows the observed drift (``dynamics.drift``) and the band covers the drift's
    uncertainty (:mod:`ttjax._linearity`); ``Prediction.linearity`` gives the regime.
    ``save_outputs``: steps of ``Prediction.trajectories.outputs`` (:func:`ttjax.simulate`).
    ``band``: the calibration of the 5–95% band (:func:`predict`; None: Monte-Carlo only).

    Deprecated keywords (kept as pass-throughs): ``problem=`` — call :func:`predict` on the
    :class:`ttjax.dynamics.Problem` instead (``ntk`` is then ignored and may be None);
    ``timing_s=`` / ``config=`` — earlier stages and context, now
    :meth:`Prediction.with_context`.

    Example:
        >>> import jax, jax.numpy as jnp, numpy as np
        >>> from types import SimpleNamespace
        >>> x = np.random.default_rng(0).normal(size=(10, 6))
        >>> ntk = SimpleNamespace(theta=np.kron(x @ x.T, np.eye(2)), f0=np.zeros((10, 2)),
        ...                       features=None)
        >>> pred = predict_from_ntk(ntk, np.arange(10) % 2, Hyperparams(lr=0.5, steps=30),
        ...                         key=jax.random.key(0))
        >>> sorted(pred.training_time), len(pred.curves["loss"])
        ([0.01, 0.1, 0.4], 31)
    """
    if problem is None:
        if ntk is None:
            raise ConfigError("predict_from_ntk needs the NTK: pass ntk= (an NtkResult).")
        problem = Problem.from_ntk(ntk, labels, loss=hparams.loss)
    pred = predict(
        problem,
        hparams,
        dynamics=dynamics,
        paths=paths,
        key=key,
        eps=eps,
        criterion=criterion,
        observation=observation,
        step_time_s=step_time_s,
        save_outputs=save_outputs,
        progress=progress,
        band=band,
    )
    if timing_s is None and config is None:
        return pred
    return pred.with_context(config=config or {}, timing_s=timing_s or {})


__all__ = [
    "Criterion",
    "GridPoint",
    "Prediction",
    "predict",
    "predict_from_ntk",
    "predict_grid",
    "predict_training_time",
    "summarize_paths",
    "task_ntk",
]
