"""Benchmark-v2 report: per backbone and per ε, on one half of the tune/held-out split.

For each (case, ε) pair, with T̂ε the predicted median over paths, Tε the real one and T the
case's number of steps:

.. math::

    e_{rel} = \\frac{|\\hat T_\\varepsilon - T_\\varepsilon|}{\\max(T_\\varepsilon, 1)},
    \\qquad e_{T} = \\frac{|\\hat T_\\varepsilon - T_\\varepsilon|}{T} \\text{ (the paper's)}.

A row reports: the share of GD pairs with ``e_rel ≤ 13%`` and of SGD pairs with ``e_rel ≤ 20%``
(issue 10's targets), the median and 95th percentile of ``e_rel`` and the median of ``e_T``
(all pairs; ``e_T`` over those whose T is recorded), the share of SGD pairs whose real Tε lies
in the predicted 5–95% band ``[q05, q95]``, and how many of the row's cases' real runs
plateaued (:func:`plateaued`).

A real run that diverged or did not decrease (``real_status``, :func:`ttjax.classify_run`) has no
meaningful Tε: its pairs are left out of the error statistics and the case is counted in
``not_converged``, with ``not_converged_flagged`` of them the prediction had flagged (its
``linearity.regime`` was not ``linear``). ``flagged`` counts the row's converged cases with a
flag. :func:`backbone_rows` with ``regime="linear"`` reports only the cases the predictor called
linear: how right it is where it speaks. ``spiked`` counts the row's scored cases whose real
loss rose above its start L_0 at some step (an instability the linear model does not follow),
``spiked_flagged`` those of them the prediction had flagged.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._grid_v2 import backbone_label

GD_TOL, SGD_TOL = 0.13, 0.20


def plateaued(loss: Sequence[float] | np.ndarray, *, window: int = 10, tol: float = 0.01) -> bool:
    """Whether a loss curve ``L_0 … L_T`` has flattened: ``L_{T−w} − L_T ≤ tol·(L_0 − L_T)``.

    A curve that did not go down (``L_T ≥ L_0``) has not plateaued in this sense.

    Example:
        >>> plateaued([1.0, 0.5, 0.2, 0.2, 0.2], window=2)
        True
        >>> plateaued([1.0, 0.8, 0.6, 0.4, 0.2], window=2)
        False
    """
    curve = np.asarray(loss, dtype=np.float64).ravel()
    if curve.size <= window:
        return False
    drop = curve[0] - curve[-1]
    return bool(drop > 0 and curve[-1 - window] - curve[-1] <= tol * drop)


@dataclasses.dataclass(frozen=True)
class BackboneRow:
    """Error statistics of one backbone at one ε (``eps=None``: all ε pooled).

    Fractions are ``None`` when the row has no pair of that kind.
    """

    backbone: str
    eps: float | None
    n_gd: int
    gd_within_13: float | None
    n_sgd: int
    sgd_within_20: float | None
    median_rel: float
    p95_rel: float
    median_rel_T: float
    band_coverage: float | None
    cases: int
    plateaued: int
    plateau_known: int
    flagged: int = 0
    not_converged: int = 0
    not_converged_flagged: int = 0
    spiked: int = 0
    spiked_flagged: int = 0


def _nanmedian(values: list[float]) -> float:
    """Median over the pairs whose T is known (``nan`` when none is)."""
    known = [v for v in values if not np.isnan(v)]
    return float(np.median(known)) if known else float("nan")


def record_plateaued(record: Mapping[str, Any]) -> bool | None:
    """``real_plateaued`` of a record, else computed from its real loss curve, else None."""
    if "real_plateaued" in record:
        return bool(record["real_plateaued"])
    curve = (record.get("curves") or {}).get("real_loss")
    return None if curve is None else plateaued(curve)


def record_regime(record: Mapping[str, Any]) -> str | None:
    """The predictor's regime of a record (``linearity.regime``), None for old records."""
    return (record.get("linearity") or {}).get("regime")


def record_momentum(record: Mapping[str, Any]) -> float:
    """The heavy-ball momentum of a record's case (0 when its hyper-parameters omit it).

    Example:
        >>> record_momentum({"case": {"hparams": {"momentum": 0.9}}}), record_momentum(
        ...     {"case": {"hparams": {}}})
        (0.9, 0.0)
    """
    return float(record["case"]["hparams"].get("momentum", 0.0))


def _flagged(record: Mapping[str, Any]) -> bool:
    return record_regime(record) not in (None, "linear", "unobserved")


def _spiked(record: Mapping[str, Any]) -> bool:
    curve = (record.get("curves") or {}).get("real_loss")
    return bool(curve is not None and len(curve) > 1 and max(curve[1:]) > curve[0])


def converged_real(record: Mapping[str, Any]) -> bool:
    """Whether a record's real run converged (``real_status``; records before it: yes)."""
    return record.get("real_status", "converged") == "converged"


def _row(
    backbone: str, eps: float | None, pairs: list[dict[str, Any]], dropped: list[bool]
) -> BackboneRow:
    if not pairs:
        nan = float("nan")
        return BackboneRow(
            backbone=backbone,
            eps=eps,
            n_gd=0,
            gd_within_13=None,
            n_sgd=0,
            sgd_within_20=None,
            median_rel=nan,
            p95_rel=nan,
            median_rel_T=nan,
            band_coverage=None,
            cases=0,
            plateaued=0,
            plateau_known=0,
            not_converged=len(dropped),
            not_converged_flagged=sum(dropped),
        )
    rel = np.asarray([p["rel"] for p in pairs])
    gd = [p["rel"] <= GD_TOL for p in pairs if p["opt"] == "gd"]
    sgd = [p["rel"] <= SGD_TOL for p in pairs if p["opt"] != "gd"]
    band = [p["in_band"] for p in pairs if p["opt"] != "gd" and p["in_band"] is not None]
    cases = {p["key"]: p["plateau"] for p in pairs}
    flags = {p["key"]: p["flagged"] for p in pairs}
    spikes = {p["key"]: p["spiked"] for p in pairs}
    known = [v for v in cases.values() if v is not None]
    return BackboneRow(
        backbone=backbone,
        eps=eps,
        n_gd=len(gd),
        gd_within_13=float(np.mean(gd)) if gd else None,
        n_sgd=len(sgd),
        sgd_within_20=float(np.mean(sgd)) if sgd else None,
        median_rel=float(np.median(rel)),
        p95_rel=float(np.quantile(rel, 0.95)),
        median_rel_T=_nanmedian([p["rel_T"] for p in pairs]),
        band_coverage=float(np.mean(band)) if band else None,
        cases=len(cases),
        plateaued=int(sum(known)),
        plateau_known=len(known),
        flagged=int(sum(flags.values())),
        not_converged=len(dropped),
        not_converged_flagged=int(sum(dropped)),
        spiked=int(sum(spikes.values())),
        spiked_flagged=int(sum(spikes[k] and flags[k] for k in spikes)),
    )


def backbone_rows(
    records: Sequence[Mapping[str, Any]], *, regime: str | None = None
) -> tuple[BackboneRow, ...]:
    """Per backbone: one pooled row (``eps=None``) then one row per ε, from ``ok`` records.

    ``regime`` keeps only the records whose prediction reported that regime (e.g. ``"linear"``).

    Example:
        >>> rec = {"key": "k", "case": {"task": {"model": "tiny", "image_size": 8},
        ...        "hparams": {"optimizer": "gd", "steps": 20}},
        ...        "predicted": {"0.1": {"median": 11.0, "q05": 9.0, "q95": 12.0}},
        ...        "real": {"0.1": 10}, "real_plateaued": True}
        >>> r = backbone_rows([rec])[0]
        >>> r.backbone, r.gd_within_13, r.median_rel_T, r.plateaued
        ('tiny@8', 1.0, 0.05, 1)
    """
    by: dict[tuple[str, float | None], list[dict[str, Any]]] = defaultdict(list)
    dropped: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        if regime is not None and record_regime(r) != regime:
            continue
        case = r["case"]
        label = backbone_label(case["task"])
        if not converged_real(r):
            dropped[label].append(_flagged(r))
            continue
        curve = (r.get("curves") or {}).get("real_loss")
        steps = case["hparams"].get("steps") or (len(curve) - 1 if curve else None)
        plateau = record_plateaued(r)
        for e_key, real in r["real"].items():
            pred = r["predicted"][e_key]
            diff = abs(float(pred["median"]) - float(real))
            in_band = None
            if "q05" in pred and "q95" in pred:
                in_band = bool(float(pred["q05"]) <= float(real) <= float(pred["q95"]))
            pair = {
                "key": r.get("key"),
                "opt": str(case["hparams"]["optimizer"]),
                "rel": diff / max(float(real), 1.0),
                "rel_T": diff / float(steps) if steps else float("nan"),
                "in_band": in_band,
                "plateau": plateau,
                "flagged": _flagged(r),
                "spiked": _spiked(r),
            }
            by[(label, None)].append(pair)
            by[(label, float(e_key))].append(pair)
    rows = []
    for label in sorted({k[0] for k in by} | set(dropped)):
        eps_list = sorted(e for (lab, e) in by if lab == label and e is not None)
        rows.append(_row(label, None, by[(label, None)], dropped[label]))
        rows.extend(_row(label, e, by[(label, e)], []) for e in eps_list)
    return tuple(rows)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def backbone_table(rows: Sequence[BackboneRow], *, title: str) -> Any:
    """A rich table of :func:`backbone_rows`."""
    from rich.table import Table

    t = Table(title=title)
    cols = ("backbone", "ε", "GD n", "GD ≤13%", "SGD n", "SGD ≤20%", "med rel", "p95 rel",
            "med |Δ|/T", "SGD band", "plateaued", "flagged", "spiked (flagged)",
            "not conv. (flagged)")  # fmt: skip
    # the labels are never cut ("efficie…" was both Lite0 sizes); the numbers' headers wrap
    t.add_column(cols[0], no_wrap=True, min_width=max((len(r.backbone) for r in rows), default=8))
    for c in cols[1:]:
        t.add_column(c, justify="right", min_width=max(map(len, c.split())))
    for r in rows:
        t.add_row(
            r.backbone,
            "all" if r.eps is None else f"{r.eps:g}",
            str(r.n_gd),
            _pct(r.gd_within_13),
            str(r.n_sgd),
            _pct(r.sgd_within_20),
            f"{r.median_rel:.0%}",
            f"{r.p95_rel:.0%}",
            f"{r.median_rel_T:.1%}",
            _pct(r.band_coverage),
            f"{r.plateaued}/{r.plateau_known}",
            f"{r.flagged}/{r.cases}",
            f"{r.spiked} ({r.spiked_flagged})",
            "" if r.eps is not None else f"{r.not_converged} ({r.not_converged_flagged})",
        )
    return t
