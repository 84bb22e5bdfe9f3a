"""Predict the fine-tuning curve and the ε-training-time without training (the product).

Pipeline: Θ at the pretrained weights (:mod:`ttjax.ntk`) → the function-space dynamics
(:mod:`ttjax.dynamics`, M paths, the kernel following the drift seen on the first real steps)
→ Tε of every path (the real run's definition) → wall-clock = steps × one real step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np

from . import _linearity
from ._config import Hyperparams
from ._errors import ConfigError
from ._sweep import GridPoint, predict_grid
from .dynamics import (
    DEFAULT_DYNAMICS,
    DynamicsConfig,
    Problem,
    Trajectories,
    batch_edge_ratio,
    check_stability,
    simulate,
)
from .train import Observation
from .training_time import (
    Criterion,
    TrainingTimeStats,
    eps_key,
    epsilon_training_time,
    training_time_stats,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Prediction:
    """A predicted fine-tuning run (immutable).

    Attributes:
        curves: ``loss``/``error`` (median over paths, T + 1 points) and
            ``loss_q05``/``loss_q95``/``error_q05``/``error_q95`` (5% / 95% bands).
        training_time: ε → :class:`TrainingTimeStats` (steps) on the ``criterion`` curve.
        training_time_other: the same on the other curve (error if criterion is loss).
        criterion: the curve Tε is read from.
        wall_clock_estimate_s: median Tε at the smallest ε × ``step_time_s`` (None if
            the step was not timed); ``wall_clock_s``: the same for every ε.
        step_time_s: measured seconds of one real training step (compile excluded).
        timing_s: seconds per stage (``ntk``, ``step_time``, ``solve``, ``total``).
        config: everything that defined the prediction (JSON-friendly).
        trajectories: the raw per-path curves and stability numbers.
        linearity: how far the run is from the linearised model (:func:`linearity_report`):
            ``regime`` (``"linear"``, ``"drifting"``, ``"edge_of_stability"`` or
            ``"unobserved"``), the observed kernel scales, the fixed-kernel Tε, and how much
            the band was widened for the kernel's drift.
    """

    curves: dict[str, np.ndarray]
    training_time: dict[float, TrainingTimeStats]
    training_time_other: dict[float, TrainingTimeStats]
    criterion: Criterion
    wall_clock_estimate_s: float | None
    wall_clock_s: dict[float, float] | None
    step_time_s: float | None
    timing_s: dict[str, float]
    config: dict[str, Any]
    trajectories: Trajectories
    linearity: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def warning(self) -> str | None:
        """A one-line warning when the run is outside the regime where the prediction holds."""
        return self.linearity.get("warning")

    def to_json_dict(self, eps_text: Sequence[str] | None = None) -> dict[str, Any]:
        """The ``--json`` document of docs/ARCHITECTURE.md (keys of ε as given)."""
        keys = list(eps_text) if eps_text is not None else [eps_key(e) for e in self.training_time]
        tt = {k: s.to_dict() for k, s in zip(keys, self.training_time.values(), strict=True)}
        other = {
            k: s.to_dict() for k, s in zip(keys, self.training_time_other.values(), strict=True)
        }
        return {
            "config": self.config,
            "curves": {k: np.asarray(v).tolist() for k, v in self.curves.items()},
            "training_time": tt,
            "wall_clock_estimate_s": self.wall_clock_estimate_s,
            "timing_s": dict(self.timing_s),
            "training_time_criterion": self.criterion.value,
            "training_time_other": other,
            "step_time_s": self.step_time_s,
            "wall_clock_s": None
            if self.wall_clock_s is None
            else dict(zip(keys, self.wall_clock_s.values(), strict=True)),
            "stability": {
                "lambda_max": self.trajectories.lambda_max,
                "curvature": self.trajectories.curvature,
                "max_stable_lr": self.trajectories.max_stable_lr,
            },
            "method": self.trajectories.method.value,
            "linearity": self.linearity,
        }


@contextlib.contextmanager
def _stage(timing: dict[str, float], name: str, *, progress: bool, text: str) -> Iterator[None]:
    start = time.perf_counter()
    if progress:
        from rich.console import Console

        with Console(stderr=True).status(text):
            yield
    else:
        yield
    timing[name] = time.perf_counter() - start


def summarize_paths(
    traj: Trajectories, eps: Sequence[float], criterion: Criterion
) -> tuple[dict[str, np.ndarray], dict[float, TrainingTimeStats], dict[float, TrainingTimeStats]]:
    """Median/5%/95% curves and the Tε distributions (criterion curve, other curve)."""
    curves: dict[str, np.ndarray] = {}
    for name, c in (("loss", traj.loss), ("error", traj.error)):
        q05, med, q95 = np.quantile(c, [0.05, 0.5, 0.95], axis=0)
        curves[name], curves[f"{name}_q05"], curves[f"{name}_q95"] = med, q05, q95
    main, other = (traj.loss, traj.error)[:: 1 if criterion is Criterion.LOSS else -1]
    tt = {float(e): training_time_stats(epsilon_training_time(main, e)) for e in eps}
    tt_other = {float(e): training_time_stats(epsilon_training_time(other, e)) for e in eps}
    return curves, tt, tt_other


def predict_from_ntk(
    ntk: Any,
    labels: np.ndarray | jax.Array,
    hparams: Hyperparams,
    *,
    eps: Sequence[float] = (0.01, 0.1, 0.4),
    paths: int = 256,
    dynamics: DynamicsConfig = DEFAULT_DYNAMICS,
    criterion: Criterion = Criterion.LOSS,
    step_time_s: float | None = None,
    key: jax.Array,
    progress: bool = False,
    problem: Problem | None = None,
    timing_s: dict[str, float] | None = None,
    config: dict[str, Any] | None = None,
    observation: Observation | None = None,
    save_outputs: Sequence[int] | None = None,
) -> Prediction:
    """Predict from an already computed Θ (an :class:`ttjax.ntk.NtkResult`).

    Reuse one Θ across many hyper-parameters by passing the same ``problem``
    (:class:`ttjax.dynamics.Problem`, which caches the noise factor and curvature).
    With an ``observation`` of the first real steps (:func:`ttjax.train.observe_steps`) the
    kernel follows the observed drift (``dynamics.drift``) and the band covers the drift's
    uncertainty (:mod:`ttjax._linearity`); ``Prediction.linearity`` gives the regime.
    ``save_outputs``: steps of ``Prediction.trajectories.outputs`` (:func:`ttjax.simulate`).

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
    timing = dict(timing_s or {})
    if problem is None:
        problem = Problem.from_ntk(ntk, labels, loss=hparams.loss)
    kappa = _linearity.observed_scale(observation, problem.theta, dynamics.drift)

    def solve(scale):
        traj = simulate(
            problem,
            hparams,
            config=dynamics,
            paths=paths,
            key=key,
            kernel_scale=scale,
            save_outputs=save_outputs if scale is kappa else None,
        )
        return traj, *summarize_paths(traj, eps, criterion)

    with _stage(timing, "solve", progress=progress, text=f"solving the dynamics ({paths} paths)"):
        traj, curves, tt, tt_other = solve(kappa)
        tt_narrow, tt_fixed = tt, None
        if traj.drift:
            assert kappa is not None
            alts = {k[0]: solve(k)[1:3] for k in _linearity.alternative_scales(kappa)}
            tt, curves = _linearity.widen(tt, curves, list(alts.values()))
            tt_fixed = alts[1.0][1]  # κ held at 1 is the fixed kernel
    edge = batch_edge_ratio(problem, hparams, key=jax.random.fold_in(key, 0xB5), config=dynamics)
    linearity = _linearity.report(
        batch_edge_ratio=edge,
        trace_scale=None if observation is None else observation.kernel_scale,
        kappa=kappa,
        observed_loss=None if observation is None else observation.loss,
        traj=traj,
        tt=tt,
        tt_narrow=tt_narrow,
        tt_fixed=tt_fixed,
        predicted_loss=curves["loss"],
        module_scale=None if observation is None else observation.module_scale,
        module_share=None if observation is None else observation.module_share,
    )
    wall = None if step_time_s is None else {e: s.median * step_time_s for e, s in tt.items()}
    timing["total"] = sum(v for k, v in timing.items() if k != "total")
    cfg = {
        **(config or {}),
        "hparams": hparams.to_dict(),
        "paths": paths,
        "dynamics": dynamics.to_dict(),
        "criterion": criterion.value,
        "eps": [float(e) for e in eps],
    }
    return Prediction(
        curves=curves,
        training_time=tt,
        training_time_other=tt_other,
        criterion=criterion,
        wall_clock_estimate_s=None if wall is None else wall[float(min(eps))],
        wall_clock_s=wall,
        step_time_s=step_time_s,
        timing_s=timing,
        config=cfg,
        trajectories=traj,
        linearity=linearity,
    )


def task_ntk(
    model: Any,
    task: Any,
    *,
    config: Any = None,
    key: jax.Array,
    progress: bool = False,
) -> Any:
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
    from .ntk import NtkConfig, compute_ntk

    cfg = config if config is not None else NtkConfig()
    cfg = dataclasses.replace(cfg, progress=progress)
    x = model.preprocess(task.images)
    return compute_ntk(model.apply_fn, model.params, x, config=cfg, key=key)


def predict_training_time(
    model: Any,
    task: Any,
    hparams: Hyperparams,
    *,
    eps: Sequence[float] = (0.01, 0.1, 0.4),
    paths: int = 256,
    ntk_config: Any = None,
    dynamics: DynamicsConfig = DEFAULT_DYNAMICS,
    criterion: Criterion = Criterion.LOSS,
    key: jax.Array,
    progress: bool = True,
    ntk: Any = None,
    measure_time: bool = True,
    observe: int = 4,
    ntk_subset: int | None = None,
    save_outputs: Sequence[int] | None = None,
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
        measure_time: report the step time and wall-clock estimate.
        observe: real steps run for timing and drift (≥ 2; 0: fixed kernel, no wall-clock).
        ntk_subset: build Θ on this many stratified examples N0 < N only and extrapolate its
            spectrum to N (supplementary §D; :func:`ttjax.extrapolate.subset_task_ntk`);
            None or N: the full Θ.
        save_outputs: steps t whose outputs f_t ``Prediction.trajectories.outputs`` keeps.

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
    if observe == 1 or observe < 0:
        raise ConfigError(f"observe must be 0 or ≥ 2 real steps, got {observe}.")
    k_ntk, k_time, k_dyn = jax.random.split(key, 3)
    timing: dict[str, float] = {}
    timer = None
    if observe:  # compile the real step in the background, overlapped with Θ (> 2 cores)
        from .train._timing import start_step_timing

        timer = start_step_timing(model, task, hparams, key=k_time)
    if ntk is None and ntk_subset is not None and ntk_subset != len(task.labels):
        from ._extrapolate._subset import subset_task_ntk

        ntk, sub_timing = subset_task_ntk(
            model, task, ntk_subset, loss=hparams.loss, ntk_config=ntk_config, key=k_ntk,
            progress=progress,
        )  # fmt: skip
        timing.update(sub_timing)
    elif ntk is None:
        start = time.perf_counter()
        ntk = task_ntk(model, task, config=ntk_config, key=k_ntk, progress=progress)
        timing["ntk"] = time.perf_counter() - start
    problem = Problem.from_ntk(ntk, task.labels, loss=hparams.loss)
    check_stability(problem, hparams, config=dynamics)  # fail fast, before timing a step
    step_time, observation = None, None
    if timer is not None:
        from .train import observe_steps

        text = f"running {observe} real steps (timing, kernel drift)"
        with _stage(timing, "step_time", progress=progress, text=text):
            compiled = timer.compiled()
            observation = observe_steps(
                model, task, hparams, key=k_time, steps=observe, compiled=compiled
            )
        step_time = observation.step_time_s if measure_time else None
    config = {
        "model": getattr(model, "name", None),
        "weights": getattr(model, "weights", None),
        "num_examples": len(task.labels),
        "num_classes": int(np.asarray(ntk.f0).shape[1]),
        "ntk_method": getattr(getattr(ntk, "method", None), "value", None),
        "ntk_subset": getattr(ntk, "n0", None),
    }
    return predict_from_ntk(
        ntk,
        np.asarray(task.labels),
        hparams,
        eps=eps,
        paths=paths,
        dynamics=dynamics,
        criterion=criterion,
        step_time_s=step_time,
        key=k_dyn,
        progress=progress,
        timing_s=timing,
        config=config,
        problem=problem,
        observation=observation,
        save_outputs=save_outputs,
    )


__all__ = [
    "Criterion", "GridPoint", "Prediction", "predict_from_ntk", "predict_grid",
    "predict_training_time", "task_ntk",
]  # fmt: skip
