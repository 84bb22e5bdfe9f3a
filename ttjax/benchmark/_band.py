"""The calibrated band from benchmark records: fit it on one half, re-score the other with it.

:func:`calibrate_band` collects (case, regime, predicted median, real Tε) from ``ok`` records
whose real run converged (the pairs the summaries score) and fits
:func:`ttjax._band.fit_band_calibration`; :func:`with_band` rewrites stored predictions' 5–95%
band as :func:`ttjax.predict.predict` would have written it with that calibration, so records
made before the band was calibrated can be scored with it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .._band import (
    BandCalibration,
    band_info,
    calibrated_stats,
    fit_band_calibration,
    momentum_group,
    regime_group,
)
from .._errors import ConfigError
from ..training_time import TrainingTimeStats
from ._backbone_summary import converged_real, record_momentum, record_regime
from ._grid_v2 import backbone_label


def _observed_regime(record: Mapping[str, Any]) -> str | None:
    """The regime of an ``ok`` record whose prediction was observed; None otherwise."""
    regime = record_regime(record)
    if record.get("status") != "ok" or regime in (None, "unobserved"):
        return None
    return regime


def _scoreable(
    records: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(record, regime) of the ``ok`` records with an observed regime and a converged real run:
    the pairs the summaries score."""
    for r in records:
        regime = _observed_regime(r)
        if regime is not None and converged_real(r):
            yield r, regime


def band_pairs(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, float, float]]:
    """(case key, regime, predicted median, real Tε) of every ε of the scoreable records:
    ``ok``, real run converged, regime observed (not ``unobserved`` or missing).

    Example:
        >>> rec = {"key": "k", "status": "ok", "linearity": {"regime": "linear"},
        ...        "predicted": {"0.1": {"median": 11.0}}, "real": {"0.1": 10}}
        >>> band_pairs([rec])
        [('k', 'linear', 11.0, 10.0)]
    """
    out = []
    for r, regime in _scoreable(records):
        for e, real in r["real"].items():
            if real is None:
                continue
            out.append((str(r.get("key")), regime, float(r["predicted"][e]["median"]), float(real)))
    return out


def calibrate_band(
    records: Iterable[Mapping[str, Any]], *, coverage: float = 0.9, source: str = ""
) -> BandCalibration:
    """Fit the calibrated band on ``records`` (e.g. the tuning half: ``Split.TUNE``).

    The records' ``predicted`` must be the calibrated drift model's (the default, observed).

    Example:
        >>> recs = [{"key": str(i), "status": "ok", "linearity": {"regime": g},
        ...          "predicted": {"0.1": {"median": 10.0}}, "real": {"0.1": 10 + i}}
        ...         for i in range(-3, 4) for g in ("linear", "drifting")]
        >>> cal = calibrate_band(recs, coverage=0.5)
        >>> [round(f, 2) for f in cal.linear], cal.pairs
        ([0.8, 1.2], (7, 7))
    """
    return fit_band_calibration(band_pairs(records), coverage=coverage, source=source)


def with_band(
    records: Iterable[Mapping[str, Any]], calibration: BandCalibration
) -> list[dict[str, Any]]:
    """The records with their ``predicted`` 5–95% band recalibrated by ``calibration``.

    Records without an observed regime, or not ``ok``, pass unchanged. The band only widens:
    the stored one (the Monte-Carlo band of records written before the band was calibrated,
    or an earlier calibrated band) is kept inside the new one
    (:func:`ttjax._band.calibrated_stats`), and ``linearity.band_calibration`` says which
    factors were applied. ``predicted`` is taken to be ``calibration.drift``'s prediction (a
    record's default drift model; not a :func:`with_variant` of another one).

    Example:
        >>> from ttjax._band import BandCalibration
        >>> cal = BandCalibration(linear=(0.5, 2.0), other=(0.1, 9.0), pairs=(1, 1),
        ...                       cases=(1, 1))
        >>> rec = {"status": "ok", "linearity": {"regime": "linear"},
        ...        "case": {"hparams": {"steps": 50}},
        ...        "predicted": {"0.1": {"median": 20.0, "mean": 20.0, "q05": 19.0, "q95": 21.0}}}
        >>> with_band([rec], cal)[0]["predicted"]["0.1"]
        {'median': 20.0, 'mean': 20.0, 'q05': 10.0, 'q95': 40.0}
    """
    out = []
    for r in records:
        regime = _observed_regime(r)
        if regime is None:
            out.append(dict(r))
            continue
        steps = int(r["case"]["hparams"]["steps"])
        factors = calibration.factors(regime)
        predicted = {}
        for e, s in r["predicted"].items():
            stats = TrainingTimeStats(
                median=float(s["median"]),
                mean=float(s.get("mean", s["median"])),
                q05=float(s["q05"]),
                q95=float(s["q95"]),
            )
            predicted[e] = calibrated_stats(stats, factors=factors, steps=steps).to_dict()
        info = band_info(calibration, regime, momentum=record_momentum(r))
        linearity = {**(r.get("linearity") or {}), "band_calibration": info}
        out.append({**r, "predicted": predicted, "linearity": linearity})
    return out


@dataclasses.dataclass(frozen=True)
class BandScore:
    """How often real Tε fell in the predicted 5–95% band, and how wide the band was
    (one row of :func:`band_coverage`, whose example shows one).

    Attributes:
        backbone: ``model@image_size``, or ``"all"``; optimizer: ``gd``, ``sgd`` or ``"all"``;
        group: ``linear``, ``other`` (the prediction's regime group), ``momentum 0``,
            ``heavy ball`` (momentum > 0: the runs that carry most misses), or ``"all"``.
        pairs: (case, ε) pairs scored; coverage: the fraction with q05 ≤ Tε ≤ q95;
        median_width_T: median of (q95 − q05)/T; median_rel_error: median |T̂ε − Tε|/Tε.
    """

    backbone: str
    optimizer: str
    group: str
    pairs: int
    coverage: float
    median_width_T: float
    median_rel_error: float


def band_coverage(records: Iterable[Mapping[str, Any]]) -> list[BandScore]:
    """Band coverage and width of the scoreable records (:func:`band_pairs`' selection), per
    backbone × optimizer, per regime group, and pooled.

    Example:
        >>> rec = {"key": "k", "status": "ok", "linearity": {"regime": "linear"},
        ...        "case": {"task": {"model": "tiny", "image_size": 8},
        ...                 "hparams": {"optimizer": "gd", "steps": 20}},
        ...        "predicted": {"0.1": {"median": 10.0, "q05": 8.0, "q95": 12.0},
        ...                      "0.4": {"median": 4.0, "q05": 4.0, "q95": 4.0}},
        ...        "real": {"0.1": 11, "0.4": 5}}
        >>> s = band_coverage([rec])[-1]
        >>> (s.backbone, s.pairs, s.coverage, s.median_width_T)
        ('all', 2, 0.5, 0.1)
    """
    rows: dict[tuple[str, str, str], list[tuple[bool, float, float]]] = defaultdict(list)
    for r, regime in _scoreable(records):
        case = r["case"]
        steps = float(case["hparams"]["steps"])
        label, opt = backbone_label(case["task"]), str(case["hparams"]["optimizer"])
        group = regime_group(regime)
        moving = momentum_group(record_momentum(r))
        for e, real in r["real"].items():
            if real is None:
                continue
            p = r["predicted"][e]
            lo, hi, med = float(p["q05"]), float(p["q95"]), float(p["median"])
            score = (lo <= float(real) <= hi, (hi - lo) / steps, abs(med - real) / max(real, 1))
            for key in (
                (label, opt, "all"),
                ("all", "all", group),
                ("all", "all", moving),
                ("all", "all", "all"),
            ):
                rows[key].append(score)
    out = []
    pooled = ("all", "all", "all")
    for (label, opt, group), scores in sorted(
        rows.items(), key=lambda kv: (kv[0][0] == "all", kv[0] == pooled, kv[0])
    ):
        inside, width, rel = (np.asarray(v, dtype=np.float64) for v in zip(*scores, strict=True))
        out.append(
            BandScore(
                backbone=label,
                optimizer=opt,
                group=group,
                pairs=len(scores),
                coverage=float(inside.mean()),
                median_width_T=float(np.median(width)),
                median_rel_error=float(np.median(rel)),
            )
        )
    return out


def loco_with_band(
    records: Iterable[Mapping[str, Any]], *, coverage: float = 0.9
) -> list[dict[str, Any]]:
    """The scoreable records, each with its band re-written (:func:`with_band`) by a
    calibration fitted (:func:`calibrate_band`) on the *other* cases only (leave one case out;
    records of the same case key, e.g. one case run with two seeds, are left out together).

    Scoring the band on the records it was fitted on flatters it (each case helped set its
    own factors); this is the estimate a user can make from one set of benchmark records,
    without a held-out half. :func:`loco_band_coverage` scores it.

    Raises:
        ValueError: fewer than two scoreable cases, or a regime group left without pairs once
            a case is out (too few cases to cross-validate).
    """
    scoreable = defaultdict(list)  # case key → its scoreable records
    for r, _ in _scoreable(records):
        scoreable[str(r.get("key"))].append(r)
    if len(scoreable) < 2:
        raise ConfigError(f"leave-one-case-out needs ≥ 2 scoreable cases, got {len(scoreable)}.")
    scored = []
    for key in sorted(scoreable):
        others = [r for k, rs in scoreable.items() if k != key for r in rs]
        try:
            cal = calibrate_band(others, coverage=coverage, source=f"all but {key}")
        except ValueError as err:
            raise ConfigError(f"leave-one-case-out without case {key}: {err}") from err
        scored += with_band(scoreable[key], cal)
    return scored


def loco_band_coverage(
    records: Iterable[Mapping[str, Any]], *, coverage: float = 0.9
) -> list[BandScore]:
    """:func:`band_coverage` of :func:`loco_with_band`: the leave-one-case-out coverage of
    the calibrated band, with the same rows.

    Example:
        >>> # Real Tε 7 … 13 against a prediction of 10 in each regime group: with 6 other
        >>> # cases and coverage 0.5 the factors are the others' extremes, so the two
        >>> # extreme cases of each group fall outside: 10 of 14 pairs inside.
        >>> recs = [{"key": f"{g}{i}", "status": "ok", "linearity": {"regime": g},
        ...          "case": {"task": {"model": "tiny", "image_size": 8},
        ...                   "hparams": {"optimizer": "gd", "steps": 40, "momentum": 0.0}},
        ...          "predicted": {"0.1": {"median": 10.0, "q05": 10.0, "q95": 10.0}},
        ...          "real": {"0.1": 10 + i}} for i in range(-3, 4) for g in ("linear", "drifting")]
        >>> s = loco_band_coverage(recs, coverage=0.5)[-1]
        >>> s.group, s.pairs, round(s.coverage, 3)
        ('all', 14, 0.714)
    """
    return band_coverage(loco_with_band(records, coverage=coverage))


__all__ = [
    "BandScore",
    "band_coverage",
    "band_pairs",
    "calibrate_band",
    "loco_band_coverage",
    "loco_with_band",
    "with_band",
]
