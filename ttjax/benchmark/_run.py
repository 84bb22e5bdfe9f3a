"""Run a benchmark grid: predict + fine-tune each case, append one JSON line per finished case.

Resumable: cases whose key is already in the file as ``ok`` or ``failed`` are skipped (an
``unavailable`` one — missing data or weights, over the memory budget — is retried), so a killed
benchmark restarted with the same grid and file loses at most the case that was running.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from .._errors import TTJaxError
from .._progress import progress_bar
from .._types import Images, Labels, PRNGKey
from ..data import Task
from ..models import Model
from ..training_time import eps_key, epsilon_training_time
from ._backbone_summary import plateaued
from ._case import BenchmarkCase, TaskSpec
from ._split import case_split
from ._store import CaseStatus, append_record, completed_keys, error_status, read_records

Evaluate = Callable[..., dict[str, Any]]
"""``evaluate(case, key[, reuse_real=record]) -> record fields`` (:func:`evaluate_case`)."""


@functools.lru_cache(maxsize=8)
def _source(data: str, class_subset: tuple[int, ...] | None) -> tuple[Images, Labels]:
    from ..data import load_source

    images, labels = load_source(data)
    if class_subset is not None:
        keep = np.isin(labels, np.asarray(class_subset))
        images, labels = images[keep], labels[keep]
    return images, labels


def build_task(spec: TaskSpec) -> Task:
    """The :class:`ttjax.data.Task` of a spec (sources are cached across cases)."""
    from ..data import sample_task

    images, labels = _source(spec.data, spec.class_subset)
    return sample_task(
        images,
        labels,
        classes=spec.classes,
        per_class=spec.per_class,
        image_size=spec.image_size,
        seed=spec.seed,
        source=spec.data,
    )


def build_model(spec: TaskSpec, *, key: PRNGKey) -> Model:
    """``create_model`` for a spec (fresh head from ``key``)."""
    from ..models import create_model
    from ._pretrain import resolve_weights

    return create_model(
        spec.model,
        num_classes=spec.classes,
        image_size=spec.image_size,
        weights=resolve_weights(spec.weights),
        key=key,
    )


def _curve(x: Any) -> list[float]:
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def case_prng(case: BenchmarkCase, key: PRNGKey) -> PRNGKey:
    """The case's own key in a benchmark run with ``key``: ``fold_in(key, int(case.key[:8], 16))``
    (independent of the grid's order and of which cases ran before)."""
    return jax.random.fold_in(key, int(case.key[:8], 16))


@dataclasses.dataclass(frozen=True)
class PreparedCase:
    """A case's task, model (fresh head), Θ₀ and resolved hyper-parameters, built from its key
    exactly as :func:`evaluate_case` builds them (so a later analysis sees the same Θ₀, head
    and learning rate as the stored record).

    Attributes:
        task, model: the training set and the network; ntk: Θ₀ (:func:`ttjax.predict.task_ntk`).
        ntk_config, k_ntk: the engine and key Θ₀ was built with (to build Θ elsewhere alike).
        problem: Θ₀, f₀ and labels (:class:`ttjax.dynamics.Problem`).
        hparams: the case's hyper-parameters with ``lr = lr_fraction × limit`` resolved.
        max_stable_lr: that limit (None when the case gives an absolute lr).
        k_pred, k_train: the keys of the prediction and of the real run.
        t_setup: ``time.perf_counter()`` after the task and model were built (before Θ₀).
    """

    task: Task
    model: Model
    ntk: Any
    ntk_config: Any
    k_ntk: PRNGKey
    problem: Any
    hparams: Any
    max_stable_lr: float | None
    k_pred: PRNGKey
    k_train: PRNGKey
    t_setup: float

    def prediction_keys(self) -> tuple[PRNGKey, PRNGKey]:
        """(timing/observation key, dynamics key): ``k_pred`` split as
        :func:`ttjax.predict_training_time` splits its key, so an analysis that observes the
        real steps and solves the dynamics itself sees what the benchmark's prediction saw."""
        _, k_time, k_dyn = jax.random.split(self.k_pred, 3)
        return k_time, k_dyn


def prepare_case(case: BenchmarkCase, key: PRNGKey) -> PreparedCase:
    """Build a case's task, model and Θ₀ and resolve its learning rate (:class:`PreparedCase`).

    Raises:
        StabilityError: the resolved learning rate is past the linear model's stability limit.
    """
    from ..dynamics import Problem, check_stability
    from ..ntk import NtkConfig, NtkMethod
    from ..predict import task_ntk

    k_head, k_pred, k_train = jax.random.split(key, 3)
    task = build_task(case.task)
    model = build_model(case.task, key=k_head)
    t_setup = time.perf_counter()
    k_ntk, k_pred = jax.random.split(k_pred)
    config = NtkConfig(method=NtkMethod(case.ntk_method))
    ntk = task_ntk(model, task, config=config, key=k_ntk)
    hparams = case.hparams
    problem = Problem.from_ntk(ntk, task.labels, loss=hparams.loss)  # once: λ_max, noise factor
    limit = None
    if case.lr_fraction is not None:
        limit = check_stability(problem, dataclasses.replace(hparams, lr=1e-12))
        hparams = dataclasses.replace(hparams, lr=case.lr_fraction * limit)
    check_stability(problem, hparams)
    return PreparedCase(
        task=task, model=model, ntk=ntk, ntk_config=config, k_ntk=k_ntk, problem=problem,
        hparams=hparams, max_stable_lr=limit, k_pred=k_pred, k_train=k_train, t_setup=t_setup,
    )  # fmt: skip


def evaluate_case(
    case: BenchmarkCase, key: PRNGKey, *, reuse_real: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Predict and really fine-tune one case; returns the record's result fields.

    The prediction is the default of :func:`ttjax.predict_training_time` (Θ, the first real
    steps observed, the drifting kernel); from the same Θ and the same observed steps the
    record also keeps every drift model's Tε (``predicted_variants``: ``observed`` — κ by the
    trace —, ``gradient`` — κ along the loss gradient —, ``path`` — κ along the predicted
    trajectory, :func:`ttjax.train.walk_predicted_path` — and ``none``, the fixed kernel), so
    that models can be compared on identical inputs (``path_walk``: the walk's summary).
    ``reuse_real``: an earlier ``ok`` record of the same case whose real run (curves, timings)
    is kept instead of fine-tuning again — re-scoring a changed predictor costs predictions
    only. The walk runs after the default prediction is timed (it is opt-in for users).

    Timings: ``predict`` is the wall-clock of Θ (:func:`ttjax.predict.task_ntk`) plus the
    observed steps and the default prediction (dynamics, Tε; JIT compilation included, as a
    user would pay it; the step time itself is not converted to seconds), ``finetune`` the
    time of the T training steps (``FinetuneResult.train_time_s``: compilation and the full-set
    evaluation that records the curve excluded, as in plain training); ``cost_ratio =
    train_steps / predict``. ``finetune_wall`` (everything) is recorded too. Model and data
    set-up is timed separately and excluded from both.
    """
    from .._convergence import classify_run
    from ..dynamics import DEFAULT_DYNAMICS, DriftModel
    from ..predict import predict
    from ..train import finetune, observe_steps, walk_task_path

    t0 = time.perf_counter()
    prep = prepare_case(case, key)
    task, model, ntk, problem, hparams = prep.task, prep.model, prep.ntk, prep.problem, prep.hparams
    t1, limit, k_train = prep.t_setup, prep.max_stable_lr, prep.k_train
    k_time, k_dyn = prep.prediction_keys()
    obs = observe_steps(model, task, hparams, key=k_time, steps=4, gradient=True)

    def predict_with(drift: DriftModel):
        dyn = dataclasses.replace(DEFAULT_DYNAMICS, drift=drift)
        return predict(problem, hparams, dynamics=dyn, paths=case.paths, key=k_dyn,
                       eps=case.eps, observation=obs)  # fmt: skip

    pred = predict_with(DEFAULT_DYNAMICS.drift)
    t2 = time.perf_counter()
    walk = walk_task_path(model, task, problem.theta, hparams)  # for DriftModel.PATH
    obs = dataclasses.replace(obs, path=walk)
    variants = {
        d.value: {eps_key(e): s.to_dict() for e, s in predict_with(d).training_time.items()}
        for d in DriftModel
        if d is not DEFAULT_DYNAMICS.drift
    }
    variants[DEFAULT_DYNAMICS.drift.value] = {
        eps_key(e): s.to_dict() for e, s in pred.training_time.items()
    }
    if reuse_real is None:
        t_ft = time.perf_counter()
        real = finetune(model, task, hparams, key=k_train, progress=False)
        real_loss = np.asarray(real.loss, dtype=np.float64)
        real_curves = {"real_loss": _curve(real_loss), "real_error": _curve(real.error)}
        real_timing = {
            "finetune_wall": time.perf_counter() - t_ft,
            "train_steps": float(real.train_time_s),
            "compile": float(real.compile_time_s),
        }
        step_time = float(real.step_time_s)
    else:
        real_loss = np.asarray(reuse_real["curves"]["real_loss"], dtype=np.float64)
        real_curves = {k: reuse_real["curves"][k] for k in ("real_loss", "real_error")}
        kept = ("finetune_wall", "train_steps", "compile")
        real_timing = {k: reuse_real["timing_s"][k] for k in kept}
        step_time = float(reuse_real["step_time_s"])
    real_tt = {eps_key(e): int(epsilon_training_time(real_loss, e)) for e in case.eps}
    return {
        "predicted": variants[DEFAULT_DYNAMICS.drift.value],
        "predicted_variants": variants,
        "real": real_tt,
        "real_reused": reuse_real is not None,
        "curves": {
            "pred_loss": _curve(pred.curves["loss"]),
            "pred_error": _curve(pred.curves["error"]),
            **real_curves,
        },
        "timing_s": {"setup": t1 - t0, "predict": t2 - t1, **real_timing},
        "real_plateaued": plateaued(real_loss),
        "real_status": classify_run(real_loss).value,
        "predicted_status": pred.status.value,
        "ntk_method_resolved": ntk.method.value,
        "linearity": {k: v for k, v in pred.linearity.items() if k in _LINEARITY_KEYS},
        "gradient_scale_observed": _maybe_list(obs.gradient_scale(problem.theta)),
        "path_walk": walk.to_dict(),
        "predicted_fixed_kernel": pred.linearity.get("fixed_kernel_training_time"),
        "step_time_s": step_time,
        "cost_ratio": float(real_timing["train_steps"]) / max(t2 - t1, 1e-9),
        "hparams_resolved": hparams.to_dict(),
        "max_stable_lr": limit,
        "ntk_time_s": float(ntk.timing_s["total"]),
        "num_params": int(model.num_params),
    }


_LINEARITY_KEYS = (
    "regime",
    "kernel_scale_observed",
    "trace_scale_observed",
    "edge_of_stability_step",
    "band_widening",
    "band_calibration",
    "batch_edge_ratio",
)


def _maybe_list(x: Any) -> list[float] | None:
    return None if x is None else _curve(x)


def run_benchmark(
    cases: Sequence[BenchmarkCase],
    *,
    path: str | os.PathLike[str],
    key: PRNGKey,
    evaluate: Evaluate = evaluate_case,
    progress: bool = True,
    reuse_real: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """Run every case not yet in ``path``; append each result as one JSON line.

    Each case gets the key ``fold_in(key, int(case.key[:8], 16))``, so its result does not
    depend on the order of the grid or on which cases were already done. A case that raises a
    :class:`ttjax.TTJaxError` is recorded with the message and a status
    (:class:`~ttjax.benchmark.CaseStatus`): ``"unavailable"`` for an environmental cause
    (dataset or weights missing, memory budget), retried by the next run; ``"failed"`` for the
    method's own failure (e.g. an unstable learning rate), kept. Any other exception
    propagates. Every record carries its ``split`` (:func:`~ttjax.benchmark.case_split`).
    ``reuse_real`` maps case keys to earlier ``ok`` records whose real runs are reused
    (``evaluate(case, key, reuse_real=record)``): the predictor is re-scored, not retrained.
    ``seed``: the integer ``key`` was made from, stored in each record (``seed``) so that a
    file is never resumed with another seed (:func:`~ttjax.benchmark.check_run_seed`).

    Returns:
        All records in the file after the run (old and new).

    Example:
        >>> # run_benchmark(benchmark_grid(preset=GridPreset.TINY), path="results/b.jsonl",
        >>> #               key=jax.random.key(0))
    """
    done = completed_keys(read_records(path))
    todo = [c for c in cases if c.key not in done]
    seen: set[str] = set()
    todo = [c for c in todo if not (c.key in seen or seen.add(c.key))]  # drop duplicate cases

    def one(case: BenchmarkCase) -> None:
        k = case_prng(case, key)
        record: dict[str, Any] = {"key": case.key, "case": case.to_dict()}
        record["split"] = case_split(case.key).value
        if seed is not None:
            record["seed"] = int(seed)
        try:
            old = None if reuse_real is None else reuse_real.get(case.key)
            result = evaluate(case, k) if old is None else evaluate(case, k, reuse_real=old)
            record.update(status=CaseStatus.OK.value, **result)
        except (TTJaxError, FloatingPointError) as err:
            message = f"{type(err).__name__}: {err}"
            if isinstance(err, FloatingPointError):
                message = traceback.format_exc(limit=1)
            record.update(status=error_status(err).value, error=message)
        append_record(path, record)

    label = f"benchmark ({len(done)} done before)"
    with progress_bar(progress and bool(todo), len(todo), label, unit="cases") as tick:
        for case in todo:
            tick.describe(case.task.label()[:40])
            one(case)
            tick()
    return read_records(path)
