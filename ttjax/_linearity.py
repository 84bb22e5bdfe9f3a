"""How far a run is from its linearisation, and what that does to the prediction's band.

The observed kernel scales κ_k = tr Θ(w_k) / tr Θ(w₀) after the first K real steps
(:func:`ttjax.train.observe_steps`) classify the run:

* ``linear``: every |κ_k − 1| ≤ :data:`STEADY` — the paper's regime; the prediction holds.
* ``drifting``: the kernel moved by more; the dynamics follow the observed κ
  (``DriftModel.OBSERVED``) and the band is widened to cover κ held anywhere in the
  observed range [min κ_k, max κ_k] and at 1 (how κ evolves after step K is not observed).
* ``edge_of_stability``: the observed κ carries η̃·κ·λ_max(ΘH) to the stability edge, or
  (SGD) the batch sharpness S_B puts the mini-batch steps past theirs, η̃·κ·S_B ≥ 2
  (:func:`ttjax.dynamics.batch_edge_ratio`, κ the largest observed, 1 when unobserved); real
  runs then oscillate or spike before they settle, which the linear model does not follow —
  the warning says so.
* ``unobserved``: no real steps were run (a fixed-kernel prediction, unchecked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np

from ._band import SHORTFALL
from .dynamics import DriftModel, Trajectories
from .training_time import TrainingTimeStats, eps_key

Floats: TypeAlias = Sequence[float] | np.ndarray

STEADY = 0.2
"""|κ − 1| up to which the kernel is called steady (the run is in the linear regime)."""


def observed_scale(observation: Any, theta: Any, drift: DriftModel) -> np.ndarray | None:
    """The κ_1..κ_K the dynamics follow: by the trace, along the gradient (``GRADIENT``,
    ``ALIGNED``; the trace when the gradients were not recorded), or the walk's κ_1..κ_{T−1}
    along the predicted trajectory (``PATH``; the trace when not walked); None without an
    observation."""
    if observation is None:
        return None
    path = getattr(observation, "path", None)
    if drift is DriftModel.PATH and path is not None:
        return np.asarray(path.kernel_scale[1:])  # κ_1..κ_{T−1}: the schedule itself
    if drift in (DriftModel.GRADIENT, DriftModel.ALIGNED):
        g = observation.gradient_scale(theta)
        if g is not None:
            return g
    return np.asarray(observation.kernel_scale)


def batch_edge(kappa: Floats | None, batch_edge_ratio: float | None) -> float | None:
    """η̃·κ·S_B / edge with κ the largest observed scale (1 when none): ≥ 1 is past the edge."""
    if batch_edge_ratio is None:
        return None
    top = 1.0 if kappa is None or len(kappa) == 0 else max(1.0, float(np.max(kappa)))
    return float(batch_edge_ratio) * top


def classify(
    kappa: Floats | None, traj: Trajectories, batch_edge_ratio: float | None = None
) -> str:
    """The regime name of the module docstring."""
    edge = batch_edge(kappa, batch_edge_ratio)
    if edge is not None and edge >= 1.0:
        return "edge_of_stability"
    if kappa is None or len(kappa) == 0:
        return "unobserved"
    if traj.edge_of_stability_step is not None:
        return "edge_of_stability"
    if float(np.max(np.abs(np.asarray(kappa) - 1.0))) > STEADY:
        return "drifting"
    return "linear"


def widen(
    tt: dict[float, TrainingTimeStats],
    curves: dict[str, np.ndarray],
    alternatives: Sequence[tuple[dict[str, np.ndarray], dict[float, TrainingTimeStats]]],
) -> tuple[dict[float, TrainingTimeStats], dict[str, np.ndarray]]:
    """Union of the 5–95% bands of the main prediction and of the alternative ones."""
    out_tt = {}
    for e, s in tt.items():
        lo = min([s.q05] + [a[1][e].q05 for a in alternatives])
        hi = max([s.q95] + [a[1][e].q95 for a in alternatives])
        out_tt[e] = TrainingTimeStats(median=s.median, mean=s.mean, q05=lo, q95=hi)
    out_curves = dict(curves)
    for name in ("loss", "error"):
        for q, fn in (("q05", np.minimum), ("q95", np.maximum)):
            key = f"{name}_{q}"
            for alt_curves, _ in alternatives:
                out_curves[key] = fn(out_curves[key], alt_curves[key])
    return out_tt, out_curves


def report(
    *,
    kappa: Floats | None,
    observed_loss: Floats | None,
    traj: Trajectories,
    tt: dict[float, TrainingTimeStats],
    tt_narrow: dict[float, TrainingTimeStats],
    tt_fixed: dict[float, TrainingTimeStats] | None,
    predicted_loss: np.ndarray,
    module_scale: dict[str, float] | None = None,
    module_share: dict[str, float] | None = None,
    batch_edge_ratio: float | None = None,
    trace_scale: Floats | None = None,
    path: dict[str, Any] | None = None,
    band_calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``linearity`` block of a prediction (JSON-friendly) with its one-line warning.

    ``batch_edge_ratio``: :func:`ttjax.dynamics.batch_edge_ratio` at κ = 1 (SGD), reported
    as ``batch_edge_ratio`` with the observed drift applied (:func:`batch_edge`).
    ``trace_scale``: the trace's κ_k when the dynamics followed another observed scale
    (``kappa``, e.g. along the gradient), reported beside it. ``path``: the walk along the
    predicted trajectory (:meth:`ttjax.train.PathWalk.to_dict`) when ``kappa`` is its κ_t
    schedule (``DriftModel.PATH``); reported as ``path_walk``, and ``kernel_scale_observed``
    stays the first real steps' (the trace's). ``tt`` is the band before any calibration
    (``band_widening`` is the drift's widening alone); ``band_calibration``: the calibrated
    band's summary (:func:`ttjax._band.calibrate`), reported as is (null: not calibrated).
    """
    regime = classify(kappa, traj, batch_edge_ratio)
    out: dict[str, Any] = {"regime": regime, "steady_tolerance": STEADY}
    out["batch_edge_ratio"] = batch_edge(kappa, batch_edge_ratio)
    if kappa is not None and len(kappa):
        shown = kappa if path is None or trace_scale is None else trace_scale
        out["observed_steps"] = len(shown)
        out["kernel_scale_observed"] = [float(v) for v in shown]
        if path is not None:
            out["path_walk"] = dict(path)
        if trace_scale is not None:
            out["trace_scale_observed"] = [float(v) for v in trace_scale]
        out["kernel_scale_cap"] = traj.scale_cap if np.isfinite(traj.scale_cap) else None
        out["edge_of_stability_step"] = traj.edge_of_stability_step
    if observed_loss is not None and len(observed_loss):
        k = len(observed_loss)
        out["first_steps_loss_real"] = [float(v) for v in observed_loss]
        out["first_steps_loss_predicted"] = [float(v) for v in predicted_loss[:k]]
    if module_scale and module_share:
        # Contribution of each module to the change of tr Θ: share × (κ_module − 1).
        moved = {k: module_share[k] * (module_scale[k] - 1.0) for k in module_scale}
        top = sorted(moved, key=lambda k: -abs(moved[k]))[:5]
        out["drifting_modules"] = [
            {"module": k, "share": module_share[k], "scale": module_scale[k], "moved": moved[k]}
            for k in top
        ]
    if tt_fixed is not None:
        out["fixed_kernel_training_time"] = {eps_key(e): s.to_dict() for e, s in tt_fixed.items()}
    widths = [
        (tt[e].q95 - tt[e].q05 + 1.0) / (tt_narrow[e].q95 - tt_narrow[e].q05 + 1.0) for e in tt
    ]
    out["band_widening"] = float(max(widths)) if widths else 1.0
    out["band_calibration"] = band_calibration
    out["warning"] = _warning(regime, out)
    return out


def _warning(regime: str, info: dict[str, Any]) -> str | None:
    caveat = _band_caveat(info.get("band_calibration"))
    regime_line = _regime_warning(regime, info)
    lines = [w for w in (regime_line, caveat) if w]
    return " ".join(lines) if lines else None


def _band_caveat(band: dict[str, Any] | None) -> str | None:
    """A sentence when the calibrated band fell short of its nominal coverage on held-out
    real runs of this prediction's momentum group (``band_calibration.heldout_coverage``)."""
    heldout = None if band is None else band.get("heldout_coverage")
    if band is None or heldout is None:
        return None
    nominal = float(band["coverage"])
    if heldout["coverage"] >= nominal - SHORTFALL:
        return None
    return (
        f"{heldout['group'].capitalize()}: on held-out benchmark runs of this kind the "
        f"calibrated band held only {heldout['coverage']:.0%} of the real Tε "
        f"({heldout['pairs']} pairs; nominal {nominal:.0%}): such runs leave the linearised "
        "path more often (faster or slower than predicted, or blowing up); treat the band as "
        "optimistic."
    )


def _regime_warning(regime: str, info: dict[str, Any]) -> str | None:
    if regime in ("linear", "unobserved"):
        return None
    edge = info.get("batch_edge_ratio")
    if regime == "edge_of_stability" and edge is not None and edge >= 1.0:
        return (
            f"SGD past the edge of stability: the mini-batch steps' sharpness is {edge:.2f}× "
            "their stability limit (batch sharpness; the full-batch check passes), so the real "
            "run will spike before it settles, which the linearised model does not follow. "
            "Use a smaller --lr or a larger --batch-size for a prediction that holds."
        )
    kappa = info["kernel_scale_observed"]
    k = info["observed_steps"]
    moved = f"tr Θ moved to {kappa[-1]:.2f}× its start in {k} real steps"
    peak = max(kappa, key=lambda v: abs(math.log(v)) if v > 0 else math.inf)
    if abs(math.log(peak)) > abs(math.log(kappa[-1])) + math.log(1.25):  # the run came back
        moved = (
            f"tr Θ moved as far as {peak:.2f}× its start in {k} real steps (ending at "
            f"{kappa[-1]:.2f}×)"
        )
    walk = info.get("path_walk")
    if walk is not None and walk["kernel_scale"]:
        moved = (
            f"along the predicted path the kernel moved to {walk['kernel_scale'][-1]:.2f}× "
            f"its start by step {walk['reached']}"
        )
    widen = f"5–95% band widened ×{info['band_widening']:.1f}"
    if regime == "edge_of_stability":
        return (
            f"outside the linear regime: {moved}, which carries this learning rate to the "
            f"stability edge at step {info['edge_of_stability_step']}; expect loss spikes. "
            f"The prediction holds the kernel at the edge ({widen}); a smaller --lr (or a "
            "larger --image-size) stays predictable."
        )
    return (
        f"outside the linear regime: {moved}; the prediction follows the observed drift "
        f"({widen}) and is less certain than in the lazy regime."
    )


def alternative_scales(kappa: Floats) -> list[list[float]]:
    """The band's other ends: κ held at the lowest and at the highest observed value, and
    κ = 1 (the drift relaxing back: measured on Lite0 at 64 px, κ went 0.80 at step 4 →
    1.0 at step 50 → 1.2 at step 100, so "held at κ_K" is not the only plausible future)."""
    values = {float(np.min(kappa)), float(np.max(kappa)), 1.0}
    return [[v] for v in sorted(values)]


__all__ = ["STEADY", "alternative_scales", "classify", "report", "widen"]
