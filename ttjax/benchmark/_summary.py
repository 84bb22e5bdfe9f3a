"""The paper's metrics, computed from the JSON-lines records alone.

For each finished case and each ε, with the predicted Tε taken as the median over paths:

.. math::

    e_{rel} = \\frac{|T^{pred}_\\varepsilon - T^{real}_\\varepsilon|}
                   {\\max(T^{real}_\\varepsilon, 1)},
           \\qquad e_{abs} = |T^{pred}_\\varepsilon - T^{real}_\\varepsilon| \\text{ (steps)}.

(The ``max(·, 1)`` only matters when the real run hits ε at step 0.) Reported, overall, per ε,
for GD and SGD: the fraction of (case, ε) pairs with ``e_rel ≤ 13%`` and ``≤ 20%`` (the paper:
95% within 13% for GD, 20% for SGD), the 95th percentile and median of ``e_rel``; Table 1: the
mean ``e_abs`` per task and ε for low vs high learning rate; the median cost ratio
(fine-tuning wall-clock / prediction wall-clock); and the per-backbone, per-ε report of
:mod:`ttjax.benchmark._backbone_summary`. Only the chosen half of the tune/held-out split is
summarised (:mod:`ttjax.benchmark._split`; default: held-out), the latest record per case.
"""

from __future__ import annotations

import dataclasses
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError
from ._backbone_summary import BackboneRow, backbone_rows, backbone_table, converged_real
from ._case import LrRegime
from ._split import Split, case_split
from ._store import CaseStatus, latest_records, record_status


@dataclasses.dataclass(frozen=True)
class ErrorRow:
    """Error statistics of one group of (case, ε) pairs."""

    group: str
    n: int
    within_13: float
    within_20: float
    p95_rel: float
    median_rel: float
    mean_abs: float


@dataclasses.dataclass(frozen=True)
class BenchmarkSummary:
    """Result of :func:`summarize`.

    Attributes:
        rows: overall, per ε, per optimizer and per (optimizer, ε) error rows.
        table1: ``{task label: {ε: {"low": mean abs error, "high": ...}}}`` (None when a cell
            has no case).
        median_cost_ratio: median over cases of finetune seconds / predict seconds.
        n_cases: finished cases; n_failed: cases whose method failed (excluded);
            n_unavailable: cases that could not run here (missing data/weights; excluded).
        split: the half summarised; by_backbone: per backbone and ε
            (:class:`~ttjax.benchmark.BackboneRow`); by_backbone_linear: the same over the
            cases whose prediction called itself linear (``linearity.regime``).
    """

    rows: tuple[ErrorRow, ...]
    table1: Mapping[str, Mapping[float, Mapping[str, float | None]]]
    median_cost_ratio: float
    n_cases: int
    n_failed: int
    n_unavailable: int = 0
    split: Split = Split.ALL
    by_backbone: tuple[BackboneRow, ...] = ()
    by_backbone_linear: tuple[BackboneRow, ...] = ()

    def row(self, group: str) -> ErrorRow:
        """The row named ``group`` (``"all"``, ``"eps=0.1"``, ``"gd"``, ``"sgd eps=0.1"``...)."""
        for r in self.rows:
            if r.group == group:
                return r
        raise KeyError(group)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [dataclasses.asdict(r) for r in self.rows],
            "table1": {t: {repr(e): v for e, v in d.items()} for t, d in self.table1.items()},
            "median_cost_ratio": self.median_cost_ratio,
            "n_cases": self.n_cases,
            "n_failed": self.n_failed,
            "n_unavailable": self.n_unavailable,
            "split": self.split.value,
            "by_backbone": [dataclasses.asdict(r) for r in self.by_backbone],
            "by_backbone_linear": [dataclasses.asdict(r) for r in self.by_backbone_linear],
        }


def _nothing_to_summarise(
    recs: list[dict[str, Any]], status: list[CaseStatus], split: Split
) -> str:
    """Why no record can be summarised: none in the split, or each failed / unavailable (the
    first error named: it usually says what to install or create)."""
    if not recs:
        return (
            f"no benchmark case of the {split.value!r} split in the file; run `ttjax benchmark` "
            "first, or summarise another half with --split tune|heldout|all."
        )
    bad = [r for r, s in zip(recs, status, strict=True) if s is not CaseStatus.OK]
    return (
        f"none of the {len(recs)} case(s) of the {split.value!r} split finished "
        f"({status.count(CaseStatus.FAILED)} failed, {status.count(CaseStatus.UNAVAILABLE)} "
        f"unavailable here); the first: {bad[0].get('error', '(no error recorded)')}. Fix "
        "that and run `ttjax benchmark` again (unavailable cases are retried)."
    )


def _error_row(group: str, pred: np.ndarray, real: np.ndarray) -> ErrorRow:
    err = np.abs(pred - real)
    rel = err / np.maximum(real, 1.0)
    return ErrorRow(
        group=group,
        n=int(rel.size),
        within_13=float(np.mean(rel <= 0.13)),
        within_20=float(np.mean(rel <= 0.20)),
        p95_rel=float(np.quantile(rel, 0.95)),
        median_rel=float(np.median(rel)),
        mean_abs=float(np.mean(err)),
    )


def _task_label(task: Mapping[str, Any]) -> str:
    """``model[@size]/data[classes]`` (the size keeps one backbone's resolutions apart)."""
    sub = task.get("class_subset")
    sub_s = f"[{min(sub)}-{max(sub)}]" if sub else ""
    size = f"@{task['image_size']}" if task.get("image_size") else ""
    return f"{task['model']}{size}/{task['data']}{sub_s}"


def _split_of(record: Mapping[str, Any]) -> Split | None:
    if record.get("split") in (Split.TUNE.value, Split.HELDOUT.value):
        return Split(record["split"])
    return case_split(str(record["key"])) if "key" in record else None


def summarize(
    records: Iterable[Mapping[str, Any]], *, split: Split = Split.HELDOUT
) -> BenchmarkSummary:
    """Paper metrics from benchmark records (see the module docstring).

    Args:
        records: the JSON-lines records (a retried case's latest record counts).
        split: which half to report (``Split.ALL``: every case).

    Raises:
        DataError: if no record of the split finished successfully.

    Example:
        >>> rec = {"status": "ok", "case": {"task": {"model": "tiny", "data": "sample"},
        ...        "hparams": {"optimizer": "gd"}, "lr_regime": "low"},
        ...        "predicted": {"0.1": {"median": 11.0}}, "real": {"0.1": 10},
        ...        "cost_ratio": 3.0}
        >>> summarize([rec], split=Split.ALL).row("all").within_13
        1.0
    """
    recs = [r for r in latest_records(records) if split is Split.ALL or _split_of(r) is split]
    status = [record_status(r) for r in recs]
    ok = [r for r, s in zip(recs, status, strict=True) if s is CaseStatus.OK]
    if not ok:
        raise DataError(_nothing_to_summarise(recs, status, split))
    groups: dict[str, list[tuple[float, float]]] = defaultdict(list)
    t1: dict[str, dict[float, dict[str, list[float]]]] = defaultdict(
        lambda: defaultdict(lambda: {"low": [], "high": []})
    )
    eps_seen: set[float] = set()
    for r in ok:
        if not converged_real(r):  # its Tε is no training time (the per-backbone rule too)
            continue
        try:
            opt = str(r["case"]["hparams"]["optimizer"])
            regime = LrRegime(r["case"].get("lr_regime", "low")).value
            label = _task_label(r["case"]["task"])
            scored = [(float(e), float(r["predicted"][e]["median"]), float(t))
                      for e, t in r["real"].items()]  # fmt: skip
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"benchmark record {r.get('key')!r} is malformed ({type(err).__name__}: {err}); "
                "remove it from the file (the case will be re-run)."
            ) from None
        for e, predicted, real in scored:
            eps_seen.add(e)
            pair = (predicted, real)
            for g in ("all", f"eps={e!r}", opt, f"{opt} eps={e!r}"):
                groups[g].append(pair)
            t1[label][e][regime].append(abs(pair[0] - pair[1]))
    order = ["all"] + [f"eps={e!r}" for e in sorted(eps_seen)]
    for opt in ("gd", "sgd"):
        order += [opt] + [f"{opt} eps={e!r}" for e in sorted(eps_seen)]
    rows = []
    for g in order:
        if groups.get(g):
            arr = np.asarray(groups[g], dtype=np.float64)
            rows.append(_error_row(g, arr[:, 0], arr[:, 1]))
    table1 = {
        label: {
            e: {k: (float(np.mean(v)) if v else None) for k, v in cells.items()}
            for e, cells in sorted(by_eps.items())
        }
        for label, by_eps in sorted(t1.items())
    }
    ratios = [float(r["cost_ratio"]) for r in ok if r.get("cost_ratio") is not None]
    return BenchmarkSummary(
        rows=tuple(rows),
        table1=table1,
        median_cost_ratio=float(np.median(ratios)) if ratios else float("nan"),
        n_cases=len(ok),
        n_failed=status.count(CaseStatus.FAILED),
        n_unavailable=status.count(CaseStatus.UNAVAILABLE),
        split=split,
        by_backbone=backbone_rows(ok),
        by_backbone_linear=backbone_rows(ok, regime="linear"),
    )


def check_variant(records: Iterable[Mapping[str, Any]], variant: str, *, source: str) -> None:
    """Refuse a drift model that no record of ``source`` keeps (:func:`with_variant` would
    silently drop every ``ok`` record).

    Raises:
        ConfigError: no record carries ``variant`` in its ``predicted_variants``.

    Example:
        >>> check_variant([{"predicted_variants": {"gradient": {}}}], "gradient", source="f")
    """
    if not any(variant in (r.get("predicted_variants") or {}) for r in records):
        raise ConfigError(
            f"no record of {source} keeps the {variant!r} drift model's predictions "
            "(predicted_variants: records written before the variants were kept, or by another "
            "version); drop --variant or name a drift model the records keep."
        )


def with_variant(records: Iterable[Mapping[str, Any]], variant: str) -> list[dict[str, Any]]:
    """The records scored with another drift model's prediction (``predicted_variants``).

    ``ok`` records without that variant are dropped (older records, or cases run before the
    variants were kept); other records pass unchanged.

    Example:
        >>> recs = [{"status": "ok", "predicted": {"0.1": 1},
        ...          "predicted_variants": {"gradient": {"0.1": 2}}}]
        >>> with_variant(recs, "gradient")[0]["predicted"]
        {'0.1': 2}
    """
    out = []
    for r in records:
        if r.get("status") != "ok":
            out.append(dict(r))
        elif variant in (r.get("predicted_variants") or {}):
            out.append({**r, "predicted": r["predicted_variants"][variant]})
    return out


def variant_rows(
    records: Iterable[Mapping[str, Any]], variants: Iterable[str]
) -> list[dict[str, Any]]:
    """One pooled-ε row per (variant, backbone), and per variant over every backbone
    (``backbone="all"``), each variant scored on the ``ok`` records that carry it
    (:func:`with_variant`): pairs, GD pairs within 13%, SGD pairs within 20%, both pooled
    (``within``), median |T̂ε − Tε|/Tε and median |T̂ε − Tε|/T (:func:`backbone_rows`).

    Example:
        >>> rec = {"status": "ok", "key": "k", "case": {"task": {"model": "tiny",
        ...        "image_size": 8}, "hparams": {"optimizer": "gd", "steps": 20}},
        ...        "predicted": {"0.1": {"median": 11.0}}, "real": {"0.1": 10},
        ...        "predicted_variants": {"none": {"0.1": {"median": 14.0}}}}
        >>> [(r["backbone"], r["within"]) for r in variant_rows([rec], ["none"])]
        [('tiny@8', 0.0), ('all', 0.0)]
    """
    records = list(records)
    out: list[dict[str, Any]] = []
    for name in variants:
        scored = [r for r in with_variant(records, name) if r.get("status") == "ok"]
        pooled = [
            {**r, "case": {**r["case"], "task": {"model": "all", "image_size": None}}}
            for r in scored
        ]
        rows = [r for r in backbone_rows(scored) if r.eps is None]
        rows += [dataclasses.replace(r, backbone="all") for r in backbone_rows(pooled)
                 if r.eps is None]  # fmt: skip
        for row in rows:
            n = row.n_gd + row.n_sgd
            within = (row.gd_within_13 or 0) * row.n_gd + (row.sgd_within_20 or 0) * row.n_sgd
            out.append({
                "variant": name, "backbone": row.backbone, "pairs": n,
                "gd_within_13": row.gd_within_13, "sgd_within_20": row.sgd_within_20,
                "within": within / n if n else None, "median_rel": row.median_rel,
                "median_rel_T": row.median_rel_T, "cases": row.cases,
            })  # fmt: skip
    return out


def format_summary(summary: BenchmarkSummary) -> str:
    """Plain-text tables (rich-rendered) of a summary: error rows, Table 1, cost ratio."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=160, force_terminal=False, file=io.StringIO())
    t = Table(
        title=f"Predicted vs real Tε — split {summary.split.value}: {summary.n_cases} cases "
        f"({summary.n_failed} failed, {summary.n_unavailable} unavailable)"
    )
    for col in ("group", "n", "≤13%", "≤20%", "p95 rel", "median rel", "mean |Δ| steps"):
        t.add_column(col, justify="right")
    for r in summary.rows:
        t.add_row(
            r.group,
            str(r.n),
            f"{r.within_13:.0%}",
            f"{r.within_20:.0%}",
            f"{r.p95_rel:.0%}",
            f"{r.median_rel:.0%}",
            f"{r.mean_abs:.1f}",
        )
    console.print(t)
    eps_all = sorted({e for d in summary.table1.values() for e in d})
    t1 = Table(title="Table 1 layout: mean absolute Tε error (steps), low / high lr")
    t1.add_column("task", no_wrap=True, min_width=max(map(len, summary.table1), default=4))
    for e in eps_all:
        t1.add_column(f"ε={e:g} low", justify="right")
        t1.add_column(f"ε={e:g} high", justify="right")
    for label, d in summary.table1.items():
        cells = []
        for e in eps_all:
            for k in ("low", "high"):
                v = d.get(e, {}).get(k)
                cells.append("–" if v is None else f"{v:.1f}")
        t1.add_row(label, *cells)
    console.print(t1)
    console.print(
        f"median cost ratio (fine-tuning time / prediction time): {summary.median_cost_ratio:.2g}×"
    )
    if summary.by_backbone:
        title = f"Per backbone and ε (split {summary.split.value})"
        console.print(backbone_table(summary.by_backbone, title=title))
    if summary.by_backbone_linear:
        title = f"Cases the prediction called linear (split {summary.split.value})"
        console.print(backbone_table(summary.by_backbone_linear, title=title))
    return console.export_text()
