"""Observing more real steps before predicting (issue 10, option 3c), scored on real runs.

``ttjax predict`` runs K = 4 real steps (to time one) and follows the kernel drift they show.
Would more observed steps buy accuracy, and at what cost? :func:`evaluate_closed_loop` is a
benchmark ``evaluate`` (:func:`ttjax.benchmark.run_benchmark`) that builds a case exactly as
:func:`ttjax.benchmark.evaluate_case` does (same head, Θ₀, learning rate and keys), runs
``max(observe)`` real steps once (:func:`ttjax.train.observe_steps`, with the full-set
gradients and outputs), fine-tunes the case for real, and stores for each K in ``observe``:

* ``observed@K`` — the default drift model (κ by the trace) fed the first K steps;
* ``gradient@K`` — κ along the loss gradient (``--drift gradient``) fed the first K steps;
* ``aligned{γ}@K`` (for each γ in ``alignments``) — ``--drift aligned`` with
  ``DynamicsConfig.drift_alignment = γ`` fed the first K steps (the rate along the residual
  partly held after step K; γ = 0 is ``gradient@K``); ``alignedfit@K`` for γ = None (fitted
  to the K observed steps, :func:`ttjax.dynamics.fit_alignment`);
* ``restart@K`` — the closed loop: the first K steps *are* real (the full-set loss of the
  observed run), and the linear model is restarted from the real outputs f(w_K) with the
  kernel κ_K Θ₀ for the remaining T − K steps. Heavy-ball momentum carries a velocity the
  restarted linear model does not have, so this variant is stored for momentum-0 runs only
  (and not when the learning rate is past the linear model's limit at f(w_K)).

The K observed steps are paid on top of Θ: a prediction that observes K of T steps costs
K/T of the fine-tuning plus Θ (``closed_loop.step_equivalents``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from .. import losses as _losses
from .._errors import ConfigError, StabilityError
from .._types import PRNGKey
from ..training_time import eps_key, epsilon_training_time, training_time_stats
from ._backbone_summary import plateaued
from ._case import BenchmarkCase
from ._run import _LINEARITY_KEYS, _maybe_list, prepare_case

OBSERVE_STEPS = (4, 8, 16, 32)
"""The K scored by default: the shipped 4, then doubling up to about a fifth of T = 150."""


def _stats(samples: np.ndarray) -> dict[str, float]:
    return training_time_stats(samples).to_dict()


def alignment_name(gamma: float | None) -> str:
    """The variant name of ``DriftModel.ALIGNED`` with γ = ``gamma`` (None: fitted).

    Example:
        >>> alignment_name(0.5), alignment_name(None)
        ('aligned0.5', 'alignedfit')
    """
    return "alignedfit" if gamma is None else f"aligned{gamma:g}"


def restarted_curves(
    problem: Any,
    hparams: Any,
    outputs: np.ndarray,
    kappa: float,
    *,
    dynamics: Any,
    paths: int,
    key: PRNGKey,
) -> np.ndarray:
    """Loss curves ``[M, T + 1]``: the real full-set losses of ``outputs`` (f(w_0) … f(w_K),
    ``[K + 1, N, C]``) for t ≤ K, then the linear model restarted from f(w_K) with the
    kernel ``kappa`` Θ₀ for the remaining T − K steps (M Monte-Carlo paths for SGD).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax._config import Hyperparams, Loss
        >>> from ttjax.dynamics import DEFAULT_DYNAMICS, Problem
        >>> x = jax.random.normal(jax.random.key(0), (6, 4))
        >>> p = Problem(jnp.kron(x @ x.T, jnp.eye(2)), jnp.zeros((6, 2)), jnp.arange(6) % 2,
        ...             loss=Loss.MSE)
        >>> outs = np.zeros((3, 6, 2), np.float32)  # a "real" run that did not move
        >>> c = restarted_curves(p, Hyperparams(lr=0.05, steps=10, loss=Loss.MSE), outs, 1.0,
        ...                      dynamics=DEFAULT_DYNAMICS, paths=1, key=jax.random.key(1))
        >>> c.shape, bool(c[0, 0] == c[0, 2])
        ((1, 11), True)
    """
    from ..dynamics import Problem, simulate

    k = len(outputs) - 1
    if not 1 <= k < hparams.steps:
        raise ConfigError(f"restart needs 1 ≤ K < T real steps, got K = {k}, T = {hparams.steps}.")
    prefix = np.asarray(_full_losses(outputs[:k], problem.labels, hparams.loss))
    restarted = Problem(problem.theta, jnp.asarray(outputs[k]), problem.labels, loss=problem.loss,
                        features=problem.features)  # fmt: skip
    rest = dataclasses.replace(hparams, steps=hparams.steps - k)
    traj = simulate(restarted, rest, config=dynamics, paths=paths, key=key,
                    kernel_scale=np.full(2, kappa))  # fmt: skip
    loss = np.asarray(traj.loss, np.float64)
    return np.concatenate([np.broadcast_to(prefix, (len(loss), k)), loss], axis=1)


def closed_loop_variants(
    prep: Any,
    observation: Any,
    *,
    observe: Sequence[int],
    eps: Sequence[float],
    paths: int,
    key: PRNGKey,
    alignments: Sequence[float | None] = (),
) -> dict[str, dict[str, dict[str, float]]]:
    """Tε statistics of every variant of the module docstring, from one observation of
    ``max(observe)`` real steps (recorded with ``gradient=True``) of the prepared case ``prep``
    (:func:`ttjax.benchmark.prepare_case`)."""
    return _variants(prep, observation, observe=observe, eps=eps, paths=paths, key=key,
                     alignments=alignments)[0]  # fmt: skip


def _variants(
    prep: Any,
    observation: Any,
    *,
    observe: Sequence[int],
    eps: Sequence[float],
    paths: int,
    key: PRNGKey,
    alignments: Sequence[float | None],
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, Any]]]:
    """:func:`closed_loop_variants`, and the ``linearity`` block of each ``observed@K``
    prediction (the shipped default's flags, for the record)."""
    from ..dynamics import DEFAULT_DYNAMICS, DriftModel
    from ..predict import predict

    problem, hp = prep.problem, prep.hparams
    variants: dict[str, dict[str, dict[str, float]]] = {}
    linearity: dict[str, dict[str, Any]] = {}
    for k in observe:
        obs = observation.first(k)
        models = {f"{d.value}@{k}": dataclasses.replace(DEFAULT_DYNAMICS, drift=d)
                  for d in (DriftModel.OBSERVED, DriftModel.GRADIENT)}  # fmt: skip
        for gamma in alignments:
            models[f"{alignment_name(gamma)}@{k}"] = dataclasses.replace(
                DEFAULT_DYNAMICS, drift=DriftModel.ALIGNED, drift_alignment=gamma
            )
        for name, dyn in models.items():
            pred = predict(problem, hp, dynamics=dyn, paths=paths, key=key, eps=eps,
                           observation=obs, band=None)  # fmt: skip
            variants[name] = {eps_key(e): s.to_dict() for e, s in pred.training_time.items()}
            if dyn.drift is DriftModel.OBSERVED:
                linearity[name] = pred.linearity
        if hp.momentum == 0 and obs.outputs is not None and k < hp.steps:
            kappa = float(obs.kernel_scale[-1])
            try:
                curves = restarted_curves(
                    problem, hp, obs.outputs, kappa, dynamics=DEFAULT_DYNAMICS, paths=paths, key=key
                )
            except StabilityError:  # the CE curvature at f(w_K) puts lr past the linear limit
                continue
            curves = np.nan_to_num(curves, nan=np.inf)
            variants[f"restart@{k}"] = {
                eps_key(e): _stats(epsilon_training_time(curves, e)) for e in eps
            }
    return variants, linearity


def evaluate_closed_loop(
    case: BenchmarkCase,
    key: PRNGKey,
    *,
    observe: Sequence[int] = OBSERVE_STEPS,
    alignments: Sequence[float | None] = (),
    reuse_real: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A benchmark ``evaluate`` (:func:`ttjax.benchmark.run_benchmark`): the case's real run
    and the closed-loop variants of the module docstring (``predicted_variants``; the record's
    ``predicted`` is ``observed@4``, the shipped default without its calibrated band, and
    ``linearity`` its flags — regime, observed κ — as :func:`ttjax.benchmark.evaluate_case`
    keeps them, so :func:`ttjax.benchmark.calibrate_band` and ``with_band`` take these records).

    ``alignments``: the γ of the ``aligned{γ}@K`` variants (none by default).
    ``reuse_real``: an earlier ``ok`` record of the same case whose real run is kept.

    Example:
        >>> # run_benchmark(cases, path="closed_loop.jsonl", key=jax.random.key(0),
        >>> #               evaluate=functools.partial(evaluate_closed_loop, observe=(4, 8)))
    """
    from .._convergence import classify_run
    from ..train import finetune, observe_steps

    if not observe or min(observe) < 2:
        raise ConfigError(f"observe needs K ≥ 2 real steps, got {list(observe)}.")
    ks = sorted(set(observe))
    prep = prepare_case(case, key)
    k_time, k_dyn = prep.prediction_keys()
    obs = observe_steps(prep.model, prep.task, prep.hparams, key=k_time, steps=ks[-1],
                        gradient=True)  # fmt: skip
    variants, linearity = _variants(prep, obs, observe=ks, eps=case.eps, paths=case.paths,
                                    key=k_dyn, alignments=alignments)  # fmt: skip
    if reuse_real is None:
        real = finetune(prep.model, prep.task, prep.hparams, key=prep.k_train, progress=False)
        real_loss = np.asarray(real.loss, np.float64)
        curves = {"real_loss": real_loss.tolist(), "real_error": np.asarray(real.error).tolist()}
    else:
        real_loss = np.asarray(reuse_real["curves"]["real_loss"], np.float64)
        curves = {k: reuse_real["curves"][k] for k in ("real_loss", "real_error")}
    shipped = f"observed@{4 if 4 in ks else ks[0]}"
    return {
        "predicted": variants[shipped],
        "real_plateaued": plateaued(real_loss),
        "predicted_variants": variants,
        "real": {eps_key(e): int(epsilon_training_time(real_loss, e)) for e in case.eps},
        "real_reused": reuse_real is not None,
        "real_status": classify_run(real_loss).value,
        "curves": curves,
        "hparams_resolved": prep.hparams.to_dict(),
        "max_stable_lr": prep.max_stable_lr,
        # The shipped prediction's flags (regime, …), as `ttjax benchmark` records keep them,
        # so that the calibrated band can be fitted and scored on these records too.
        "linearity": {k: v for k, v in linearity[shipped].items() if k in _LINEARITY_KEYS},
        "closed_loop": {
            "observe": ks,
            "alignments": list(alignments),
            "gradient_rates": _maybe_list(obs.gradient_rates(prep.problem.theta)),
            "kernel_scale": obs.kernel_scale.tolist(),
            "gradient_scale": _maybe_list(obs.gradient_scale(prep.problem.theta)),
            "observed_full_loss": None
            if obs.outputs is None
            else _full_losses(obs.outputs, prep.task.labels, prep.hparams.loss),
            "step_equivalents": {k: k / prep.hparams.steps for k in ks},
        },
    }


def _full_losses(outputs: Any, labels: Any, loss: Any) -> list[float]:
    """The full-set mean loss of each f in ``outputs`` ``[K, N, C]``."""
    y = jnp.asarray(labels)
    return [float(_losses.mean_loss(jnp.asarray(f), y, loss=loss)) for f in outputs]


__all__ = [
    "OBSERVE_STEPS",
    "alignment_name",
    "closed_loop_variants",
    "evaluate_closed_loop",
    "restarted_curves",
]
