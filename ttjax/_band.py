"""The calibrated 5–95% band: how far real Tε has landed from the prediction, per regime.

The Monte-Carlo band of :func:`ttjax.predict.predict` spreads only what the model itself
samples (SGD noise, the drift's observed range); it says nothing about the model's own error,
so on the held-out benchmark it held the real Tε only 30–60% of the time. This module widens
it by the errors measured on real runs (split conformal prediction): on the tuning half of
the benchmark, the log-ratios ``r = log(max(Tε, 1) / max(T̂ε, 1))`` of real to predicted
training time (on the loss curve) are collected per regime group (``linear``, or not), and
the band of a new prediction with median ``T̂ε`` is

    [min(q05, ⌊e^{r_(lo)} · max(T̂ε, 1)⌋),  max(q95, min(T, ⌈e^{r_(hi)} · max(T̂ε, 1)⌉))]

with ``r_(lo)``, ``r_(hi)`` the ⌊(n + 1)α⌋-th and ⌈(n + 1)(1 − α)⌉-th smallest of the n
log-ratios, α = (1 − coverage)/2. For a new pair exchangeable with the n tuning pairs, real
Tε lands inside with probability ≥ coverage; the pairs of one case (its ε values) are
correlated, so with few cases this is an estimate rather than a guarantee. The median is
unchanged. The loss curve's band is widened to match: the predicted median loss with its
time axis stretched by the two factors (a run e^{r} times slower or faster) joins the
Monte-Carlo band.

The factors were fitted on the default drift model's loss-curve Tε (``DriftModel.OBSERVED``,
``Criterion.LOSS``) and apply to those only; other drift models, Tε read off the error curve
and the error curve's band keep the Monte-Carlo band.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping

import numpy as np
from jaxtyping import Float

from ._errors import ConfigError
from .dynamics import DriftModel
from .training_time import TrainingTimeStats

LINEAR = "linear"
"""The regime group of runs flagged ``linear``; every other observed regime is ``other``."""
OTHER = "other"


def regime_group(regime: str) -> str:
    """The calibration group of a prediction's regime: :data:`LINEAR` or :data:`OTHER`.

    Example:
        >>> regime_group("linear"), regime_group("edge_of_stability")
        ('linear', 'other')
    """
    return LINEAR if regime == LINEAR else OTHER


MOMENTUM_0 = "momentum 0"
"""The momentum group of the runs without momentum."""
HEAVY_BALL = "heavy ball"
"""The momentum group of the runs with heavy-ball momentum > 0."""
MOMENTUM_GROUPS = (MOMENTUM_0, HEAVY_BALL)
"""The momentum groups of :attr:`BandCalibration.heldout` (and of the benchmark's band and
variant tables): momentum 0, and momentum > 0."""
SHORTFALL = 0.1
"""How far below its nominal coverage a band's held-out coverage may fall before the
prediction's warning says so."""


def momentum_group(momentum: float) -> str:
    """``"momentum 0"`` or ``"heavy ball"`` (momentum > 0).

    Example:
        >>> momentum_group(0.0), momentum_group(0.9)
        ('momentum 0', 'heavy ball')
    """
    return HEAVY_BALL if float(momentum) > 0.0 else MOMENTUM_0


@dataclasses.dataclass(frozen=True, kw_only=True)
class BandCalibration:
    """Multiplicative factors (low, high) on the predicted Tε median, per regime group.

    Attributes:
        linear: (e^{r_(lo)}, e^{r_(hi)}) for runs whose prediction reported ``linear``.
        other: the same for ``drifting`` and ``edge_of_stability`` runs.
        pairs: (n linear, n other): how many (case, ε) pairs each was fitted on.
        cases: (linear, other): how many cases those pairs came from (pairs of one case are
            correlated, so the guarantee is nearer to one with n = cases).
        coverage: the nominal probability that real Tε lands in the band (0.9: 5–95%).
        drift: the drift model whose predictions were calibrated.
        source: where the residuals came from.
        heldout: the coverage this calibration *reached* on held-out real runs, per momentum
            group: (group, coverage, pairs) with group in :data:`MOMENTUM_GROUPS`
            (``"momentum 0"``, ``"heavy ball"``); empty when not measured. Reported with each
            prediction (``linearity.band_calibration.heldout_coverage``) and, when it falls short of
            ``coverage`` by more than :data:`SHORTFALL`, said in the warning.

    Example:
        >>> cal = BandCalibration(linear=(0.5, 2.0), other=(0.1, 5.0), pairs=(20, 20),
        ...                       cases=(4, 4), source="example")
        >>> cal.factors("linear"), cal.factors("drifting")
        ((0.5, 2.0), (0.1, 5.0))
    """

    linear: tuple[float, float]
    other: tuple[float, float]
    pairs: tuple[int, int]
    cases: tuple[int, int]
    coverage: float = 0.9
    drift: DriftModel = DriftModel.OBSERVED
    source: str = ""
    heldout: tuple[tuple[str, float, int], ...] = ()

    def factors(self, regime: str) -> tuple[float, float]:
        """The (low, high) factors of a prediction's regime."""
        return self.linear if regime_group(regime) == LINEAR else self.other

    def heldout_coverage(self, momentum: float) -> tuple[float, int] | None:
        """(coverage, pairs) measured on held-out runs of ``momentum``'s group, or None."""
        group = momentum_group(momentum)
        return next(((c, n) for g, c, n in self.heldout if g == group), None)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict (an open end, factor 0 or ∞, is written null)."""
        d = dataclasses.asdict(self)
        d["drift"] = self.drift.value
        d["heldout"] = {g: {"coverage": c, "pairs": n} for g, c, n in self.heldout}
        d["linear"], d["other"] = _json_factors(self.linear), _json_factors(self.other)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _json_factors(factors: tuple[float, float]) -> list[float | None]:
    """(low, high) for JSON: an open end (0 low, ∞ high: too few pairs) is null."""
    lo, hi = factors
    return [float(lo) if lo > 0 else None, float(hi) if math.isfinite(hi) else None]


def conformal_factors(log_ratios: Iterable[float], coverage: float) -> tuple[float, float]:
    """Split-conformal (low, high) factors from log-ratios r_i of real to predicted Tε.

    ``(exp r_(k_lo), exp r_(k_hi))`` with k_lo = ⌊(n + 1)α⌋, k_hi = ⌈(n + 1)(1 − α)⌉,
    α = (1 − coverage)/2 (order statistics, 1-based); k_lo = 0 gives 0 (no lower end),
    k_hi > n gives ∞ (no upper end).

    Example:
        >>> lo, hi = conformal_factors(np.log([0.5, 0.8, 0.9, 1.0, 1.1, 1.25, 2.0]), 0.5)
        >>> round(lo, 3), round(hi, 3)
        (0.8, 1.25)
    """
    r = np.sort(np.asarray(list(log_ratios), dtype=np.float64))
    if not 0.0 < coverage < 1.0:
        raise ConfigError(f"coverage must be in (0, 1), got {coverage}.")
    n = len(r)
    alpha = (1.0 - coverage) / 2.0
    # Rounding guard: (1 − 0.9)/2 = 0.04999…, and ⌊20 · 0.04999…⌋ must still be 1.
    k_lo = math.floor((n + 1) * alpha + 1e-9)
    k_hi = math.ceil((n + 1) * (1.0 - alpha) - 1e-9)
    lo = 0.0 if k_lo < 1 else float(np.exp(r[k_lo - 1]))
    hi = math.inf if k_hi > n else float(np.exp(r[k_hi - 1]))
    return lo, hi


def log_ratio(real: float, predicted: float) -> float:
    """``log(max(real, 1) / max(predicted, 1))``: Tε of 0 steps count as 1.

    Example:
        >>> round(log_ratio(20, 10), 4), log_ratio(0, 1)
        (0.6931, 0.0)
    """
    return math.log(max(float(real), 1.0) / max(float(predicted), 1.0))


def fit_band_calibration(
    pairs: Iterable[tuple[str, str, float, float]],
    *,
    coverage: float = 0.9,
    source: str = "",
) -> BandCalibration:
    """A :class:`BandCalibration` from (case key, regime, predicted median, real Tε) tuples.

    Example:
        >>> pairs = [(str(i), "linear", 10.0, 10.0 + i) for i in range(-3, 4)]
        >>> pairs += [(str(i), "drifting", 10.0, 5.0 * (i + 4)) for i in range(-3, 4)]
        >>> cal = fit_band_calibration(pairs, coverage=0.5)
        >>> [round(f, 3) for f in cal.linear + cal.other], cal.pairs
        ([0.8, 1.2, 1.0, 3.0], (7, 7))
    """
    groups: dict[str, list[float]] = {LINEAR: [], OTHER: []}
    keys: dict[str, set[str]] = {LINEAR: set(), OTHER: set()}
    for key, regime, predicted, real in pairs:
        g = regime_group(regime)
        groups[g].append(log_ratio(real, predicted))
        keys[g].add(key)
    for g, r in groups.items():
        if not r:
            raise ConfigError(f"no '{g}' pairs to calibrate the band on.")
    return BandCalibration(
        linear=conformal_factors(groups[LINEAR], coverage),
        other=conformal_factors(groups[OTHER], coverage),
        pairs=(len(groups[LINEAR]), len(groups[OTHER])),
        cases=(len(keys[LINEAR]), len(keys[OTHER])),
        coverage=coverage,
        source=source,
    )


def calibrated_stats(
    stats: TrainingTimeStats, *, factors: tuple[float, float], steps: int
) -> TrainingTimeStats:
    """``stats`` with its [q05, q95] joined by the calibrated band (module docstring).

    Example:
        >>> s = TrainingTimeStats(median=40.0, mean=40.0, q05=39.0, q95=41.0)
        >>> calibrated_stats(s, factors=(0.5, 1.5), steps=50)
        TrainingTimeStats(median=40.0, mean=40.0, q05=20.0, q95=50.0)
    """
    m = max(float(stats.median), 1.0)
    lo = math.floor(factors[0] * m)
    hi = steps if math.isinf(factors[1]) else min(math.ceil(factors[1] * m), steps)
    return dataclasses.replace(stats, q05=float(min(stats.q05, lo)), q95=float(max(stats.q95, hi)))


def stretched(curve: Float[np.ndarray, " T1"], factor: float) -> Float[np.ndarray, " T1"]:
    """``c(t / factor)`` on t = 0..T (linear interpolation; held at c(T) past the end): the
    curve of a run ``factor`` times slower (∞ holds c(0); 0 jumps to c(T) after t = 0).

    Example:
        >>> stretched(np.array([4.0, 2.0, 1.0]), 2.0).tolist()
        [4.0, 3.0, 2.0]
    """
    c = np.asarray(curve, dtype=np.float64)
    t = np.arange(len(c), dtype=np.float64)
    if factor <= 0.0:
        return np.concatenate([c[:1], np.full(len(c) - 1, c[-1])])
    return np.interp(t / factor, t, c)


def calibrate(
    tt: Mapping[float, TrainingTimeStats],
    curves: Mapping[str, Float[np.ndarray, " T1"]],
    *,
    regime: str,
    steps: int,
    calibration: BandCalibration,
    momentum: float = 0.0,
) -> tuple[dict[float, TrainingTimeStats], dict[str, Float[np.ndarray, " T1"]], dict[str, object]]:
    """The loss-curve Tε statistics and the loss curve with the calibrated band, and its JSON
    summary.

    Returns:
        ``(tt, curves, info)``: [q05, q95] of every ε widened (:func:`calibrated_stats`);
        ``loss_q05``/``loss_q95`` joined by the median loss stretched in time by the two
        factors (:func:`stretched`; other curves unchanged); ``info`` the regime group, its
        factors and the calibration's provenance (``linearity.band_calibration``).

    Example:
        >>> cal = BandCalibration(linear=(0.5, 2.0), other=(0.2, 5.0), pairs=(9, 9),
        ...                       cases=(3, 3))
        >>> tt = {0.1: TrainingTimeStats(median=4.0, mean=4.0, q05=4.0, q95=4.0)}
        >>> loss = np.array([1.0, 0.6, 0.4, 0.3, 0.25])
        >>> out, curves, info = calibrate(tt, {"loss": loss, "loss_q05": loss, "loss_q95": loss},
        ...                               regime="linear", steps=4, calibration=cal)
        >>> (out[0.1].q05, out[0.1].q95), curves["loss_q95"].tolist(), info["group"]
        ((2.0, 4.0), [1.0, 0.8, 0.6, 0.5, 0.4], 'linear')
    """
    factors = calibration.factors(regime)
    out_tt = {e: calibrated_stats(s, factors=factors, steps=steps) for e, s in tt.items()}
    out_curves = dict(curves)
    if "loss" in curves:
        bounds = [stretched(curves["loss"], f) for f in factors]
        out_curves["loss_q05"] = np.minimum.reduce([curves["loss_q05"], *bounds])
        out_curves["loss_q95"] = np.maximum.reduce([curves["loss_q95"], *bounds])
    return out_tt, out_curves, band_info(calibration, regime, momentum=momentum)


def band_info(
    calibration: BandCalibration, regime: str, *, momentum: float = 0.0
) -> dict[str, object]:
    """The JSON summary of the calibration applied to a prediction of ``regime`` and
    ``momentum`` (``linearity.band_calibration``): its group, that group's factors, the
    provenance, and the coverage the band reached on held-out runs of the same momentum group
    (``heldout_coverage``: {group, coverage, pairs}, null when not measured).

    Example:
        >>> cal = BandCalibration(linear=(0.5, 2.0), other=(0.2, 5.0), pairs=(9, 8),
        ...                       cases=(3, 2))
        >>> info = band_info(cal, "drifting")
        >>> info["group"], info["factors"], info["pairs"]
        ('other', [0.2, 5.0], [9, 8])
    """
    measured = calibration.heldout_coverage(momentum)
    heldout = None
    if measured is not None:
        heldout = {"group": momentum_group(momentum), "coverage": measured[0], "pairs": measured[1]}
    kept = (LINEAR, OTHER, "heldout")
    return {
        "group": regime_group(regime),
        "factors": _json_factors(calibration.factors(regime)),
        **{k: v for k, v in calibration.to_dict().items() if k not in kept},
        "heldout_coverage": heldout,
    }


BAND_CALIBRATION = BandCalibration(
    linear=(0.6227106227106227, 1.4375),
    other=(0.5819672131147541, 4.7),
    pairs=(35, 30),
    cases=(7, 6),
    source="benchmark v2, tuning half: the 13 cases whose real run converged "
    "(results/bench_v2_tune_cheap.jsonl)",
    heldout=((MOMENTUM_0, 0.95, 100), (HEAVY_BALL, 0.675, 80)),
)
"""The default calibration: fitted by ``scripts/bench_band_calibration.py`` on the tuning
half of benchmark v2 (``results/bench_v2_tune_cheap.jsonl``; a test re-fits it from that
file and checks these numbers). ``heldout``: its coverage on the 36 held-out records of
``results/bench_v3_heldout_path.jsonl`` and ``results/band_momentum/heldout*/`` (the same 18
cases run with two sets of pretrained weights; a test recomputes it): 95% of the momentum-0
pairs, 67.5% of the heavy-ball ones — the heavy-ball band over-promises."""


__all__ = [
    "BAND_CALIBRATION",
    "HEAVY_BALL",
    "LINEAR",
    "MOMENTUM_0",
    "MOMENTUM_GROUPS",
    "OTHER",
    "SHORTFALL",
    "BandCalibration",
    "band_info",
    "calibrate",
    "calibrated_stats",
    "conformal_factors",
    "fit_band_calibration",
    "log_ratio",
    "momentum_group",
    "regime_group",
    "stretched",
]
