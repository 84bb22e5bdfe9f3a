"""How much of the linear model's error is the fresh head growing? (issue 10, item 1).

The paper's linear model freezes the backbone's Jacobian at the pretrained *head*: the backbone
part of Θ is J_φ J_φᵀ contracted with W₀W₀ᵀ, and a fresh head W₀ is small. In real fine-tuning
the head grows, and so does every backbone gradient J_φ W. :func:`evaluate_head_bilinear` is a
benchmark ``evaluate`` (:func:`ttjax.benchmark.run_benchmark`) that builds a case exactly as
:func:`ttjax.benchmark.evaluate_case` does (same head, learning rate and keys) and fine-tunes,
with :func:`ttjax.finetune` and the real run's mini-batches:

* ``linear`` — the linearised network f(w₀) + J(w − w₀) in weight space (the paper's model,
  trained step by step; no kernel drift);
* ``head_bilinear`` — the backbone linearised, the head exact
  (:func:`ttjax.ntk.linearize_backbone`): the head's growth feeds back into the backbone's
  gradients, nothing else is non-linear.

Both are point predictions (one run each, the real run's batches), stored as
``predicted_variants`` next to the variants of the reused record (``reuse_real``), with each
run's loss curve and its loss at T (``head_bilinear.loss_T``). Each is a whole fine-tuning run
whose forward pass carries a JVP (on the 2-core CPU, ≈ 2 min per model for a 150-step GD case
with N = 150, ResNet-18 stand-in or small_cnn): an analysis of where the linearisation
fails, not a predictor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import StabilityError
from .._types import PRNGKey
from ..training_time import eps_key, epsilon_training_time, training_time_stats
from ._backbone_summary import plateaued
from ._case import BenchmarkCase
from ._run import prepare_case

REFERENCE_MODELS = ("linear", "head_bilinear")
"""The weight-space reference models :func:`evaluate_head_bilinear` fine-tunes."""


def _point(loss: np.ndarray, eps: tuple[float, ...]) -> dict[str, dict[str, float]]:
    """Tε of one curve per ε, in a prediction's statistics (one sample: all four equal)."""
    return {eps_key(e): training_time_stats([float(epsilon_training_time(loss, e))]).to_dict()
            for e in eps}  # fmt: skip


def evaluate_head_bilinear(
    case: BenchmarkCase, key: PRNGKey, *, reuse_real: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A benchmark ``evaluate``: the real run (or ``reuse_real``'s) and the two reference
    models of the module docstring fine-tuned on the case.

    The record's ``predicted`` is ``head_bilinear``; ``predicted_variants`` holds ``linear``,
    ``head_bilinear`` and every variant of ``reuse_real``'s record (so one table compares them
    on the same runs). A reference run that blows up (NaN) is left out of the variants and
    named in ``head_bilinear.failed``.

    Example:
        >>> # run_benchmark(cases, path="head.jsonl", key=jax.random.key(0),
        >>> #               evaluate=evaluate_head_bilinear, reuse_real=reusable_runs(old))
    """
    from .._convergence import classify_run
    from ..ntk import linearize, linearize_backbone
    from ..train import finetune

    prep = prepare_case(case, key)
    model, params = prep.model, prep.model.params
    fns = {"linear": linearize(model.apply_fn, params),
           "head_bilinear": linearize_backbone(model.apply_fn, params)}  # fmt: skip
    variants: dict[str, Any] = dict((reuse_real or {}).get("predicted_variants") or {})
    curves: dict[str, list[float]] = {}
    failed: list[str] = []
    for name, fn in fns.items():
        reference = dataclasses.replace(model, apply_fn=fn)
        try:
            run = finetune(reference, prep.task, prep.hparams, key=prep.k_train, progress=False)
        except StabilityError:
            failed.append(name)
            continue
        loss = np.asarray(run.loss, np.float64)
        variants[name] = _point(loss, case.eps)
        curves[f"{name}_loss"] = loss.tolist()
    if reuse_real is None:
        real = finetune(model, prep.task, prep.hparams, key=prep.k_train, progress=False)
        real_loss = np.asarray(real.loss, np.float64)
        curves |= {"real_loss": real_loss.tolist(), "real_error": np.asarray(real.error).tolist()}
    else:
        real_loss = np.asarray(reuse_real["curves"]["real_loss"], np.float64)
        curves |= {k: reuse_real["curves"][k] for k in ("real_loss", "real_error")}
    levels = {"real": float(real_loss[-1])}
    levels |= {n: curves[f"{n}_loss"][-1] for n in fns if n not in failed}
    return {
        "predicted": variants.get("head_bilinear") or variants.get("linear") or {},
        "predicted_variants": variants,
        "real": {eps_key(e): int(epsilon_training_time(real_loss, e)) for e in case.eps},
        "real_plateaued": plateaued(real_loss),
        "real_reused": reuse_real is not None,
        "real_status": classify_run(real_loss).value,
        "curves": curves,
        "hparams_resolved": prep.hparams.to_dict(),
        "max_stable_lr": prep.max_stable_lr,
        "head_bilinear": {"failed": failed, "loss_T": levels},
    }


def converged_references(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records with each reference model's Tε kept only where its run converged.

    A reference run that blows up (:func:`ttjax.classify_run` of its stored loss curve is not
    ``converged``) has no training time (the convention of ``ttjax finetune``): its variant is
    removed, and ``head_bilinear.unconverged`` names it with its status. Stored records keep
    the raw Tε; this is applied when scoring.

    Example:
        >>> rec = {"predicted_variants": {"linear": {}, "head_bilinear": {}},
        ...        "curves": {"linear_loss": [1.0, 0.5], "head_bilinear_loss": [1.0, 1e9]},
        ...        "head_bilinear": {"failed": []}}
        >>> out = converged_references([rec])[0]
        >>> sorted(out["predicted_variants"]), out["head_bilinear"]["unconverged"]
        (['linear'], {'head_bilinear': 'diverged'})
    """
    from .._convergence import classify_run

    out = []
    for r in records:
        if "head_bilinear" not in r:
            out.append(dict(r))
            continue
        bad = {}
        for name in REFERENCE_MODELS:
            curve = r.get("curves", {}).get(f"{name}_loss")
            if curve is not None:
                status = classify_run(np.asarray(curve, np.float64)).value
                if status != "converged":
                    bad[name] = status
        variants = {k: v for k, v in r["predicted_variants"].items() if k not in bad}
        out.append({**r, "predicted_variants": variants,
                    "head_bilinear": {**r["head_bilinear"], "unconverged": bad}})  # fmt: skip
    return out


def loss_level_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per backbone (and ``all``): the median over cases of |log(L̂_T / L_T)| of each
    reference model's loss at T against the real run's, and how many cases each got within a
    factor 1.25 — the loss *level* a run reaches, which Tε (normalised by L_0 − L_T) does not
    score. A reference run that did not converge (``head_bilinear.unconverged``,
    :func:`converged_references`) counts as an infinite ratio (``unconverged`` cases).

    Example:
        >>> rec = {"status": "ok", "case": {"task": {"model": "m", "image_size": 8}},
        ...        "head_bilinear": {"loss_T": {"real": 0.2, "linear": 0.5,
        ...                                     "head_bilinear": 0.22}}}
        >>> [(r["backbone"], r["model"], r["within_1.25x"]) for r in loss_level_rows([rec])][:2]
        [('m@8', 'linear', 0.0), ('m@8', 'head_bilinear', 1.0)]
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("status") != "ok" or "head_bilinear" not in r:
            continue
        task = r["case"]["task"]
        groups.setdefault(f"{task['model']}@{task['image_size']}", []).append(r)
    groups["all"] = [r for g in list(groups.values()) for r in g]
    rows = []
    for backbone, recs in groups.items():
        for name in REFERENCE_MODELS:
            ratios, unconverged = [], 0
            for r in recs:
                lv, info = r["head_bilinear"]["loss_T"], r["head_bilinear"]
                if name in info.get("unconverged", {}):
                    ratios.append(float("inf"))
                    unconverged += 1
                elif name in lv and lv[name] > 0 and lv["real"] > 0:
                    ratios.append(abs(float(np.log(lv[name] / lv["real"]))))
            if not ratios:
                continue
            rows.append({
                "backbone": backbone, "model": name, "cases": len(ratios),
                "unconverged": unconverged, "median_abs_log_ratio": float(np.median(ratios)),
                "within_1.25x": float(np.mean([x <= np.log(1.25) for x in ratios])),
            })  # fmt: skip
    return rows
