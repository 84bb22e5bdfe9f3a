"""``predict``: a fine-tuning problem and its hyper-parameters → a :class:`Prediction`.

The one single-prediction path: :func:`ttjax.predict_training_time` (from a model and a task)
and :func:`ttjax.predict_from_ntk` (from a Θ) end here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from .. import _linearity
from .._band import BAND_CALIBRATION, BandCalibration, calibrate
from .._config import Hyperparams
from .._convergence import classify_criterion
from .._fields import as_enum, check_key
from .._progress import stage
from .._types import PRNGKey
from ..dynamics import (
    DEFAULT_DYNAMICS,
    DriftModel,
    DynamicsConfig,
    Problem,
    Trajectories,
    batch_edge_ratio,
    fit_alignment,
    simulate,
    with_schedule_of,
)
from ..train import Observation
from ..training_time import Criterion, parse_eps
from ._json import JsonDict
from ._result import Prediction
from ._summary import Curves, TimesByEps, summarize_paths

DEFAULT_EPS: tuple[float, ...] = (0.01, 0.1, 0.4)


def predict(
    problem: Problem,
    hparams: Hyperparams,
    *,
    dynamics: DynamicsConfig = DEFAULT_DYNAMICS,
    paths: int = 256,
    key: PRNGKey,
    eps: Sequence[float] = DEFAULT_EPS,
    criterion: Criterion = Criterion.LOSS,
    observation: Observation | None = None,
    step_time_s: float | None = None,
    save_outputs: Sequence[int] | None = None,
    progress: bool = False,
    band: BandCalibration | None = BAND_CALIBRATION,
) -> Prediction:
    """Predict the curves and Tε of fine-tuning on ``problem`` with ``hparams`` (paper eq. 1).

    The function-space dynamics ``f_{t+1} = f_t − η_t κ_t Θ ∇_f L(f_t) (+ SGD noise)``, with
    heavy-ball momentum simulated exactly by default (``MomentumMode.EXACT``; the paper's
    ``η̃_t = η_t / (1 − m)`` with ``EFFECTIVE_LR`` and in continuous time), or their
    continuous limit (``dynamics``), for ``paths`` Monte-Carlo paths, with
    ``η_t = hparams.learning_rate(t)`` (the run's schedule) and κ_t the kernel's
    drift seen on the first real steps (``observation``, :func:`ttjax.train.observe_steps`;
    None: κ = 1, the fixed kernel); then ``Tε = min{t ≤ T : L_t − L_T ≤ ε (L_0 − L_T)}`` per
    path. A drifting kernel widens the band over the observed κ range and reports the
    fixed-kernel Tε (:mod:`ttjax._linearity`). With an observation and the loss criterion, the
    band of Tε and of the loss curve is then joined by the errors measured on real runs of the
    same regime (``band``, :mod:`ttjax._band`: split-conformal factors on the median; 5–95%
    nominal).
    Deterministic given ``key``; the only side effect is the optional spinner (``progress``).

    Args:
        problem: Θ, f0, labels and loss (:class:`ttjax.dynamics.Problem`, which caches the
            curvature and the noise factor: reuse it across hyper-parameters).
        hparams: the run (the same object ``finetune`` takes).
        dynamics: static choices of the solve; paths: M; key: PRNG key of the paths.
        eps: the ε values; criterion: the curve Tε is read from.
        observation: the first real steps (kernel drift, loss); None for a fixed kernel.
        step_time_s: seconds of one real step (→ ``wall_clock_s``); None: no wall-clock.
        save_outputs: steps t whose outputs f_t the trajectories keep.
        band: the calibration of the 5–95% band (:class:`ttjax.BandCalibration`; default
            :data:`ttjax.BAND_CALIBRATION`, fitted on the benchmark's tuning half); applied
            when the run was observed, Tε is read off the loss and the dynamics follow
            ``band.drift``. None: the Monte-Carlo band alone.

    Returns:
        The :class:`Prediction`; ``config`` holds the hyper-parameters, paths, dynamics,
        criterion and ε, ``timing_s`` the ``solve`` and ``total`` seconds.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from ttjax._config import Loss
        >>> x = jax.random.normal(jax.random.key(0), (10, 6))
        >>> p = Problem(jnp.kron(x @ x.T, jnp.eye(2)), jnp.zeros((10, 2)), jnp.arange(10) % 2,
        ...             loss=Loss.CE)
        >>> pred = predict(p, Hyperparams(lr=0.05, steps=30), key=jax.random.key(1))
        >>> sorted(pred.training_time), len(pred.curves["loss"])
        ([0.01, 0.1, 0.4], 31)
    """
    check_key(key)
    eps = parse_eps(eps)
    criterion = as_enum(Criterion, criterion, name="criterion")
    dynamics = with_schedule_of(dynamics, hparams.schedule)
    timing: dict[str, float] = {}
    kappa = _linearity.observed_scale(observation, problem.theta, dynamics.drift)
    reference = None
    if observation is not None and dynamics.drift is DriftModel.ALIGNED:
        dynamics, reference = _aligned(dynamics, observation, problem.theta, kappa)

    def solve(
        scale: Sequence[float] | np.ndarray | None,
    ) -> tuple[Trajectories, Curves, TimesByEps, TimesByEps]:
        traj = simulate(
            problem,
            hparams,
            config=dynamics,
            paths=paths,
            key=key,
            kernel_scale=scale,
            save_outputs=save_outputs if scale is kappa else None,
            rate_reference=reference,
        )
        return traj, *summarize_paths(traj, eps, criterion)

    text = f"solving the dynamics ({paths} paths)"
    with stage(timing, "solve", enabled=progress, text=text):
        traj, curves, tt, tt_other = solve(kappa)
        tt_narrow, tt_fixed = tt, None
        if traj.drift:
            assert kappa is not None
            alts = {k[0]: solve(k)[1:3] for k in _linearity.alternative_scales(kappa)}
            tt, curves = _linearity.widen(tt, curves, list(alts.values()))
            tt_fixed = alts[1.0][1]  # κ held at 1 is the fixed kernel
    edge = batch_edge_ratio(problem, hparams, key=jax.random.fold_in(key, 0xB5), config=dynamics)
    regime = _linearity.classify(kappa, traj, edge)
    tt_drift, band_info = tt, None  # the band before calibration: ``band_widening``'s
    calibrated = observation is not None and criterion is Criterion.LOSS
    if band is not None and calibrated and dynamics.drift is band.drift:
        tt, curves, band_info = calibrate(
            tt, curves, regime=regime, steps=hparams.steps, calibration=band,
            momentum=hparams.momentum,
        )  # fmt: skip
    linearity = _linearity.report(
        band_calibration=band_info,
        batch_edge_ratio=edge,
        trace_scale=None if observation is None else observation.kernel_scale,
        kappa=kappa,
        observed_loss=None if observation is None else observation.loss,
        traj=traj,
        tt=tt_drift,
        tt_narrow=tt_narrow,
        tt_fixed=tt_fixed,
        predicted_loss=curves["loss"],
        module_scale=None if observation is None else observation.module_scale,
        module_share=None if observation is None else observation.module_share,
        path=_walk_info(observation, dynamics),
    )
    wall = None if step_time_s is None else {e: s.median * step_time_s for e, s in tt.items()}
    timing["total"] = timing["solve"]
    return Prediction(
        curves=curves,
        training_time=tt,
        training_time_other=tt_other,
        criterion=criterion,
        wall_clock_estimate_s=None if wall is None else wall[float(min(eps))],
        wall_clock_s=wall,
        step_time_s=step_time_s,
        timing_s=timing,
        config={
            "hparams": hparams.to_dict(),
            "paths": paths,
            "dynamics": dynamics.to_dict(),
            "criterion": criterion.value,
            "eps": [float(e) for e in eps],
        },
        trajectories=traj,
        linearity=linearity,
        status=classify_criterion(curves["loss"], curves["error"], criterion),
    )


def _aligned(
    dynamics: DynamicsConfig, observation: Observation, theta: Any, kappa: np.ndarray | None
) -> tuple[DynamicsConfig, float | None]:
    """``DriftModel.ALIGNED``'s reference rate R₀(g_K), and γ fitted to the observed steps when
    ``dynamics.drift_alignment`` is None (0 when the gradients were not recorded)."""
    rates = observation.gradient_rates(theta)
    if dynamics.drift_alignment is None:
        gamma = 0.0 if rates is None or kappa is None else fit_alignment(kappa, rates)
        dynamics = dataclasses.replace(dynamics, drift_alignment=gamma)
    return dynamics, None if rates is None else float(rates[-1])


def _walk_info(observation: Observation | None, dynamics: DynamicsConfig) -> JsonDict | None:
    """The path walk's summary when the dynamics follow it (``DriftModel.PATH``)."""
    if observation is None or observation.path is None or dynamics.drift is not DriftModel.PATH:
        return None
    return observation.path.to_dict()


__all__ = ["DEFAULT_EPS", "predict"]
