"""Score re-linearisation with a full Θ (issue 10, 3b) on stored benchmark records.

For each ``ok`` record the case is rebuilt from its key exactly as the benchmark built it
(:func:`prepare_case`: same head, Θ₀ and learning rate — a record made with other pretrained
weights is refused), and :func:`ttjax.train.relinearised_path` gives the predicted loss curve
with Θ rebuilt (same engine, same key) at the predicted weights of the given fractions of T.
Its Tε (the mean path; SGD's noise is not simulated) is stored as a drift variant of the
record, ``relin@<fractions>`` (outputs carried on) and ``relin@<fractions>:restart``
(restarted from the real outputs at each stage), so that :func:`with_variant` and
:func:`backbone_rows` score it beside the other models on the same real runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._errors import DataError
from .._progress import progress_bar
from .._types import PRNGKey
from ..training_time import eps_key, epsilon_training_time
from ._case import BenchmarkCase
from ._run import case_prng, prepare_case

LR_RTOL = 1e-4
"""Largest relative difference between the rebuilt and the recorded learning rate."""


def variant_name(fractions: Sequence[float], *, continuous: bool) -> str:
    """``relin@0.125,0.25`` (outputs carried on) or ``relin@0.125,0.25:restart``;
    ``relin@none`` for no stage: the fixed-kernel model's mean path, the baseline on which the
    re-linearised mean paths are compared (the other variants' SGD Tε are Monte-Carlo medians).

    Example:
        >>> variant_name((0.25,), continuous=False), variant_name((), continuous=True)
        ('relin@0.25:restart', 'relin@none')
    """
    if not fractions:
        return "relin@none"
    name = "relin@" + ",".join(f"{f:g}" for f in fractions)
    return name if continuous else name + ":restart"


def _variants(stages: Sequence[Sequence[float]]) -> list[tuple[tuple[float, ...], bool]]:
    """The (fractions, continuous) pairs scored for ``stages``: the no-stage baseline once,
    every stage set in both modes."""
    return [((), True)] + [(tuple(s), c) for s in stages for c in (True, False)]


def relinearised_variants(
    record: Mapping[str, Any], stages: Sequence[Sequence[float]], *, key: PRNGKey
) -> dict[str, Any]:
    """Tε of the re-linearised model for each stage set in ``stages`` (fractions of T), both
    modes, and of the fixed kernel's mean path (``relin@none``), for one ``ok`` benchmark
    record; ``key`` is the benchmark run's key (seed).

    Returns:
        ``{"variants": {name: {eps: {"median": Tε}}}, "details": {name: Relinearised.to_dict()
        without the curve}}``.

    Raises:
        DataError: the record was made with other pretrained weights (its learning rate does
            not match the rebuilt case's).
        ConfigError: a fraction of T rounds to step 0 or T.
    """
    from ..train import relinearised_path

    case = BenchmarkCase.from_dict(record["case"])
    prep = prepare_case(case, case_prng(case, key))
    recorded = float(record.get("hparams_resolved", {}).get("lr", float("nan")))
    if not abs(prep.hparams.lr - recorded) <= LR_RTOL * abs(recorded):
        raise DataError(
            f"case {case.key}: the rebuilt learning rate {prep.hparams.lr:.6g} is not the "
            f"recorded {recorded:.6g}: the record was made with other pretrained weights (or "
            "another benchmark seed); re-run the benchmark for it with the weights now in the "
            "cache, then score it."
        )
    from ..predict import task_ntk

    model, task, hp = prep.model, prep.task, prep.hparams

    def kernel(params: Any) -> Any:
        moved = dataclasses.replace(model, params=params)
        return task_ntk(moved, task, config=prep.ntk_config, key=prep.k_ntk).theta

    x, y = model.preprocess(task.images), jnp.asarray(task.labels)
    variants: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for fractions, continuous in _variants(stages):
        steps = sorted({round(f * hp.steps) for f in fractions})
        r = relinearised_path(model.apply_fn, model.params, x, y, prep.ntk.theta, hp,
                              steps=steps, kernel=kernel, continuous=continuous)  # fmt: skip
        name = variant_name(fractions, continuous=continuous)
        curve = np.nan_to_num(r.loss, nan=np.inf)
        variants[name] = {
            eps_key(e): {"median": float(epsilon_training_time(curve, e))} for e in case.eps
        }
        details[name] = {k: v for k, v in r.to_dict().items() if k != "loss"}
    return {"variants": variants, "details": details}


def with_relinearised(
    records: Iterable[Mapping[str, Any]],
    stages: Sequence[Sequence[float]],
    *,
    key: PRNGKey,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """The records with the re-linearised variants added to ``predicted_variants`` (and
    ``relinearised``: stage steps, tr Θ ratios, real vs linear loss at each stage, seconds);
    records that are not ``ok``, and records that already carry every requested variant (an
    earlier run's output: the scoring resumes), pass unchanged."""
    names = {variant_name(s, continuous=c) for s, c in _variants(stages)}
    records = [dict(r) for r in records]
    ok = [
        r
        for r in records
        if r.get("status") == "ok" and not names <= set(r.get("predicted_variants") or {})
    ]
    with progress_bar(progress and bool(ok), len(ok), "re-linearising", unit="cases") as tick:
        for r in ok:
            out = relinearised_variants(r, stages, key=key)
            r["predicted_variants"] = {**(r.get("predicted_variants") or {}), **out["variants"]}
            r["relinearised"] = {**(r.get("relinearised") or {}), **out["details"]}
            tick(status=str(r["case"]["task"]["model"]))
    return records


__all__ = ["relinearised_variants", "variant_name", "with_relinearised"]
