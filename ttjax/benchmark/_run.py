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
from collections.abc import Callable, Sequence
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

Evaluate = Callable[[BenchmarkCase, PRNGKey], dict[str, Any]]


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


def evaluate_case(case: BenchmarkCase, key: PRNGKey) -> dict[str, Any]:
    """Predict and really fine-tune one case; returns the record's result fields.

    Timings: ``predict`` is the wall-clock of Θ (:func:`ttjax.predict.task_ntk`) plus
    :func:`ttjax.predict.predict_training_time` (dynamics, Tε; JIT compilation included, as a
    user would pay it; the one-real-step timing that only converts steps to seconds is
    skipped), ``finetune`` the
    time of the T training steps (``FinetuneResult.train_time_s``: compilation and the full-set
    evaluation that records the curve excluded, as in plain training); ``cost_ratio =
    train_steps / predict``. ``finetune_wall`` (everything) is recorded too. Model and data
    set-up is timed
    separately and excluded from both.
    """
    from .._convergence import classify_run
    from ..dynamics import Problem, check_stability
    from ..ntk import NtkConfig, NtkMethod
    from ..predict import predict_training_time, task_ntk
    from ..train import finetune

    k_head, k_pred, k_train = jax.random.split(key, 3)
    t0 = time.perf_counter()
    task = build_task(case.task)
    model = build_model(case.task, key=k_head)
    t1 = time.perf_counter()
    k_ntk, k_pred = jax.random.split(k_pred)
    ntk = task_ntk(model, task, config=NtkConfig(method=NtkMethod(case.ntk_method)), key=k_ntk)
    hparams = case.hparams
    problem = Problem.from_ntk(ntk, task.labels, loss=hparams.loss)  # once: λ_max, noise factor
    limit = None
    if case.lr_fraction is not None:
        limit = check_stability(problem, dataclasses.replace(hparams, lr=1e-12))
        hparams = dataclasses.replace(hparams, lr=case.lr_fraction * limit)
    pred = predict_training_time(
        model,
        task,
        hparams,
        eps=case.eps,
        paths=case.paths,
        ntk=ntk,
        problem=problem,
        key=k_pred,
        progress=False,
        measure_time=False,
    )
    t2 = time.perf_counter()
    real = finetune(model, task, hparams, key=k_train, progress=False)
    t3 = time.perf_counter()
    real_loss = np.asarray(real.loss, dtype=np.float64)
    stats = pred.training_time
    predicted = {eps_key(e): stats[e].to_dict() for e in case.eps}
    real_tt = {eps_key(e): int(epsilon_training_time(real_loss, e)) for e in case.eps}
    return {
        "predicted": predicted,
        "real": real_tt,
        "curves": {
            "pred_loss": _curve(pred.curves["loss"]),
            "pred_error": _curve(pred.curves["error"]),
            "real_loss": _curve(real_loss),
            "real_error": _curve(real.error),
        },
        "timing_s": {
            "setup": t1 - t0,
            "predict": t2 - t1,
            "finetune_wall": t3 - t2,
            "train_steps": float(real.train_time_s),
            "compile": float(real.compile_time_s),
        },
        "real_plateaued": plateaued(real_loss),
        "real_status": classify_run(real_loss).value,
        "ntk_method_resolved": ntk.method.value,
        "linearity": {
            k: v
            for k, v in pred.linearity.items()
            if k in ("regime", "kernel_scale_observed", "edge_of_stability_step", "band_widening")
        },
        "predicted_fixed_kernel": pred.linearity.get("fixed_kernel_training_time"),
        "step_time_s": float(real.step_time_s),
        "cost_ratio": float(real.train_time_s) / max(t2 - t1, 1e-9),
        "hparams_resolved": hparams.to_dict(),
        "max_stable_lr": limit,
        "ntk_time_s": float(ntk.timing_s["total"]),
        "num_params": int(model.num_params),
    }


def run_benchmark(
    cases: Sequence[BenchmarkCase],
    *,
    path: str | os.PathLike[str],
    key: PRNGKey,
    evaluate: Evaluate = evaluate_case,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every case not yet in ``path``; append each result as one JSON line.

    Each case gets the key ``fold_in(key, int(case.key[:8], 16))``, so its result does not
    depend on the order of the grid or on which cases were already done. A case that raises a
    :class:`ttjax.TTJaxError` is recorded with the message and a status
    (:class:`~ttjax.benchmark.CaseStatus`): ``"unavailable"`` for an environmental cause
    (dataset or weights missing, memory budget), retried by the next run; ``"failed"`` for the
    method's own failure (e.g. an unstable learning rate), kept. Any other exception
    propagates. Every record carries its ``split`` (:func:`~ttjax.benchmark.case_split`).

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
        k = jax.random.fold_in(key, int(case.key[:8], 16))
        record: dict[str, Any] = {"key": case.key, "case": case.to_dict()}
        record["split"] = case_split(case.key).value
        try:
            record.update(status=CaseStatus.OK.value, **evaluate(case, k))
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
