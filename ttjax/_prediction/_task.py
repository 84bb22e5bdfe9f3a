"""From a model and a task: Θ (:func:`task_ntk`) and the whole prediction
(:func:`predict_training_time`): Θ → :class:`Problem` (once) → a few real steps (timing, kernel
drift) → :func:`ttjax._prediction._core.predict`."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import jax
import numpy as np

from .._band import BAND_CALIBRATION, BandCalibration
from .._config import Hyperparams
from .._errors import ConfigError
from .._fields import as_enum, check_key
from .._progress import stage
from .._protocols import Kernel, Network, TrainingSet
from .._types import PRNGKey
from ..data import Task
from ..dynamics import DEFAULT_DYNAMICS, DriftModel, DynamicsConfig, Problem, check_stability
from ..ntk import NtkConfig, NtkResult, compute_ntk
from ..train import (
    PATH_BUDGET,
    Observation,
    StepTimer,
    check_task,
    observe_steps,
    start_step_timing,
    walk_task_path,
)
from ..training_time import Criterion, parse_eps
from ._core import DEFAULT_EPS, predict
from ._json import JsonDict
from ._result import Prediction


def task_ntk(
    model: Network,
    task: TrainingSet,
    *,
    config: NtkConfig | None = None,
    key: PRNGKey,
    progress: bool = False,
) -> NtkResult:
    """Θ of ``model`` at its pretrained parameters on the task's training images.

    The one place where a :class:`ttjax.models.Model` and a :class:`ttjax.data.Task` meet the
    NTK engine: ``Θ = J Jᵀ`` with ``J = ∂f/∂w`` of ``model.apply_fn`` at ``model.params`` on
    ``model.preprocess(task.images)`` (layout and methods: :func:`ttjax.ntk.compute_ntk`).

    Args:
        model: the network (``apply_fn``, ``params``, ``preprocess``).
        task: the training set (uint8 ``images``).
        config: a :class:`ttjax.ntk.NtkConfig` (default: ``NtkConfig()``); ``progress``
            overrides its progress flag.
        key: PRNG key of the random projections / probes.
        progress: show a progress bar while Θ is built.

    Returns:
        The :class:`ttjax.ntk.NtkResult`.
    """
    cfg = config if config is not None else NtkConfig()
    cfg = dataclasses.replace(cfg, progress=progress)
    x = model.preprocess(task.images)
    return compute_ntk(model.apply_fn, model.params, x, config=cfg, key=key)


def _task_ntk_or_subset(
    model: Network,
    task: Task,
    hparams: Hyperparams,
    *,
    ntk_config: NtkConfig | None,
    ntk_subset: int | None,
    key: PRNGKey,
    progress: bool,
    timing: dict[str, float],
) -> Kernel:
    """Θ on all N examples, or on ``ntk_subset`` of them extrapolated to N (supp. §D)."""
    if ntk_subset is not None and ntk_subset != len(task.labels):
        from .._extrapolate import subset_task_ntk

        ntk, sub_timing = subset_task_ntk(
            model, task, ntk_subset, loss=hparams.loss, ntk_config=ntk_config, key=key,
            progress=progress,
        )  # fmt: skip
        timing.update(sub_timing)
        return ntk
    start = time.perf_counter()
    ntk = task_ntk(model, task, config=ntk_config, key=key, progress=progress)
    timing["ntk"] = time.perf_counter() - start
    return ntk


def _observe(
    model: Network,
    task: Task,
    hparams: Hyperparams,
    *,
    steps: int,
    key: PRNGKey,
    timer: StepTimer,
    progress: bool,
    timing: dict[str, float],
    gradient: bool = False,
) -> Observation:
    """The first ``steps`` real steps (step time, loss, κ_k), on the step compiled by ``timer``;
    ``gradient`` also records the full-set gradients (``DriftModel.GRADIENT``, ``ALIGNED``)."""
    text = f"running {steps} real steps (timing, kernel drift)"
    with stage(timing, "step_time", enabled=progress, text=text):
        compiled = timer.compiled()
        return observe_steps(
            model, task, hparams, key=key, steps=steps, compiled=compiled, gradient=gradient
        )


def predict_training_time(
    model: Network,
    task: Task,
    hparams: Hyperparams,
    *,
    eps: Sequence[float] = DEFAULT_EPS,
    paths: int = 256,
    ntk_config: NtkConfig | None = None,
    dynamics: DynamicsConfig = DEFAULT_DYNAMICS,
    criterion: Criterion = Criterion.LOSS,
    key: PRNGKey,
    progress: bool = True,
    ntk: Kernel | None = None,
    problem: Problem | None = None,
    measure_time: bool = True,
    observe: int = 4,
    ntk_subset: int | None = None,
    save_outputs: Sequence[int] | None = None,
    path_budget: int = PATH_BUDGET,
    band: BandCalibration | None = BAND_CALIBRATION,
) -> Prediction:
    """Predict the loss/error curves and Tε of fine-tuning ``model`` on ``task``.

    Θ = J Jᵀ at the pretrained weights (``ntk_config``, default the engine's), then the
    function-space dynamics ``df = −η̃ Θ ∇_f L dt (+ SGD noise)`` for ``paths`` Monte-Carlo
    paths (paper eq. 1), then Tε = min{t : L_t − L_T ≤ ε (L_0 − L_T)} per path. The
    wall-clock estimate multiplies steps by the measured time of one real training
    step on this device, compile excluded (the step compiles in a background thread while Θ
    is built on > 2 cores, and is timed after Θ, alone). Those real steps (``observe`` of
    them, :func:`ttjax.train.observe_steps`) also measure how far the kernel moves, κ_k =
    tr Θ(w_k) / tr Θ(w₀); the dynamics follow it (``DynamicsConfig.drift``) and
    ``Prediction.linearity`` reports the regime and a warning when the run is outside the
    linear one.

    Args:
        model: a :class:`ttjax.models.Model` (``apply_fn``, ``params``, ``preprocess``).
        task: a :class:`ttjax.data.Task` (``images`` uint8, ``labels``).
        hparams: the fine-tuning hyper-parameters (same object as for ``finetune``).
        eps: the ε values; paths: M; ntk_config: a :class:`ttjax.ntk.NtkConfig`.
        dynamics: :class:`ttjax.dynamics.DynamicsConfig`; criterion: loss or error curve.
        key: PRNG key (split once: Θ sketches, step timing, Monte Carlo).
        progress: show progress for Θ and the solve (stderr).
        ntk: a precomputed :class:`ttjax.ntk.NtkResult` (skips the Θ stage).
        problem: the :class:`ttjax.dynamics.Problem` of ``ntk`` with ``hparams.loss``, when
            the caller built it already (its cached curvature and noise factor are reused).
        measure_time: report the step time and wall-clock estimate.
        observe: real steps run for timing and drift (≥ 2; 0: fixed kernel, no wall-clock).
        ntk_subset: build Θ on this many stratified examples N0 < N only and extrapolate its
            spectrum to N (supplementary §D; :func:`ttjax.extrapolate.subset_task_ntk`);
            None or N: the full Θ.
        save_outputs: steps t whose outputs f_t ``Prediction.trajectories.outputs`` keeps.
        path_budget: full-set passes the walk along the predicted trajectory may spend
            (``DriftModel.PATH`` only; :func:`ttjax.train.walk_predicted_path`).
        band: the calibration of the 5–95% band (:func:`ttjax.predict.predict`); None: the
            Monte-Carlo band alone.

    Example:
        >>> import jax
        >>> from ttjax.models import create_model
        >>> from ttjax.data import load_task
        >>> task = load_task("sample", classes=3, per_class=4, image_size=16, seed=0)
        >>> m = create_model("tiny", num_classes=3, image_size=16, weights=None,
        ...                  key=jax.random.key(0))
        >>> pred = predict_training_time(m, task, Hyperparams(lr=0.05, steps=20),
        ...                              key=jax.random.key(1), progress=False)
        >>> len(pred.curves["loss"]), pred.step_time_s > 0
        (21, True)
    """
    if len(task.labels) < 2:
        raise ConfigError("the task needs at least 2 training examples.")
    check_key(key)
    check_task(model, task)  # before Θ, also when no real step is observed (observe=0)
    eps = parse_eps(eps)  # bad ε or criterion: refused now, not after Θ and the real steps
    criterion = as_enum(Criterion, criterion, name="criterion")
    if problem is not None and ntk is None:
        raise ConfigError("pass the ntk a problem was built from together with problem=.")
    k_ntk, k_time, k_dyn = jax.random.split(key, 3)
    timing: dict[str, float] = {}
    if observe == 1 or observe < 0:
        raise ConfigError(f"observe must be 0 or ≥ 2 real steps, got {observe}.")
    timer = None
    if observe:  # compile the real step in the background, overlapped with Θ (> 2 cores)
        timer = start_step_timing(model, task, hparams, key=k_time)
    if ntk is None:
        ntk = _task_ntk_or_subset(
            model, task, hparams, ntk_config=ntk_config, ntk_subset=ntk_subset, key=k_ntk,
            progress=progress, timing=timing,
        )  # fmt: skip
    if problem is None:
        problem = Problem.from_ntk(ntk, task.labels, loss=hparams.loss)
    check_stability(problem, hparams, config=dynamics)  # fail fast, before timing a step
    observation = None
    if timer is not None:
        observation = _observe(
            model, task, hparams, steps=observe, key=k_time, timer=timer, progress=progress,
            timing=timing, gradient=dynamics.drift in (DriftModel.GRADIENT, DriftModel.ALIGNED),
        )  # fmt: skip
    if observation is not None and dynamics.drift is DriftModel.PATH:
        with stage(timing, "path", enabled=progress, text="walking the predicted path"):
            walk = walk_task_path(model, task, problem.theta, hparams, budget=path_budget)
        observation = dataclasses.replace(observation, path=walk)
    step_time = observation.step_time_s if observation is not None and measure_time else None
    config: JsonDict = {
        "model": getattr(model, "name", None),
        "weights": getattr(model, "weights", None),
        "num_examples": len(task.labels),
        "num_classes": int(np.asarray(ntk.f0).shape[1]),
        "ntk_method": getattr(getattr(ntk, "method", None), "value", None),
        "ntk_subset": getattr(ntk, "n0", None),
    }
    pred = predict(
        problem,
        hparams,
        dynamics=dynamics,
        paths=paths,
        key=k_dyn,
        eps=eps,
        criterion=criterion,
        observation=observation,
        step_time_s=step_time,
        save_outputs=save_outputs,
        progress=progress,
        band=band,
    )
    return pred.with_context(config=config, timing_s=timing)


__all__ = ["predict_training_time", "task_ntk"]
