"""summarize(): paper metrics from a hand-made JSON-lines file with answers computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttjax.benchmark import Split, format_summary, read_records, summarize


def _rec(opt: str, regime: str, pred: dict[str, float], real: dict[str, int], ratio: float):
    return {
        "key": f"{opt}{regime}{ratio}",
        "status": "ok",
        "case": {
            "task": {"model": "m", "data": "d", "class_subset": None},
            "hparams": {"optimizer": opt},
            "lr_regime": regime,
        },
        "predicted": {e: {"median": v} for e, v in pred.items()},
        "real": real,
        "cost_ratio": ratio,
    }


def _write(path: Path, recs: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_summary_known_answers(tmp_path: Path) -> None:
    recs = [
        # rel errors: 0.1: |11-10|/10 = 0.10 ; 0.4: |2-2|/2 = 0
        _rec("gd", "low", {"0.1": 11.0, "0.4": 2.0}, {"0.1": 10, "0.4": 2}, 10.0),
        # rel errors: 0.1: |13-10|/10 = 0.30 ; 0.4: |0-0|/max(0,1) = 0
        _rec("gd", "high", {"0.1": 13.0, "0.4": 0.0}, {"0.1": 10, "0.4": 0}, 30.0),
        # rel errors: 0.1: |18-20|/20 = 0.10 ; 0.4: |6-5|/5 = 0.20
        _rec("sgd", "low", {"0.1": 18.0, "0.4": 6.0}, {"0.1": 20, "0.4": 5}, 20.0),
        {"key": "bad", "status": "error", "error": "StabilityError: ...", "case": {}},
    ]
    path = tmp_path / "b.jsonl"
    _write(path, recs)
    s = summarize(read_records(path), split=Split.ALL)  # the oracle covers every case
    assert (s.n_cases, s.n_failed) == (3, 1)
    assert s.median_cost_ratio == 20.0
    all_ = s.row("all")  # rel = [0.1, 0, 0.3, 0, 0.1, 0.2]
    assert all_.n == 6
    assert all_.within_13 == pytest.approx(4 / 6)
    assert all_.within_20 == pytest.approx(5 / 6)
    assert all_.median_rel == pytest.approx(0.1)
    # numpy's linear quantile of sorted [0, 0, .1, .1, .2, .3] at 0.95: .2 + 0.75·(.3 − .2)
    assert all_.p95_rel == pytest.approx(0.275)
    assert all_.mean_abs == pytest.approx((1 + 0 + 3 + 0 + 2 + 1) / 6)
    assert s.row("gd").within_13 == pytest.approx(3 / 4)
    assert s.row("sgd eps=0.4").within_20 == 1.0
    assert s.row("eps=0.1").within_13 == pytest.approx(2 / 3)
    t1 = s.table1["m/d"]
    assert t1[0.1] == {"low": pytest.approx(1.5), "high": pytest.approx(3.0)}
    assert t1[0.4] == {"low": pytest.approx(0.5), "high": pytest.approx(0.0)}


def test_summary_of_only_failures_names_the_fix() -> None:
    from ttjax._errors import DataError

    with pytest.raises(DataError, match="ttjax benchmark"):
        summarize([{"key": "x", "status": "error"}])


def test_summary_tables_keep_whole_labels_and_sizes_apart() -> None:
    """Two image sizes of one backbone are two rows, each label printed whole (the tables cut
    them to "efficie…", so Lite0 @64 and @96 read the same)."""
    recs = []
    for size in (64, 96):
        r = _rec("gd", "low", {"0.1": 11.0}, {"0.1": 10}, 1.0)
        r["key"] = f"k{size}"
        r["case"]["task"] = {"model": "efficientnet_lite0", "data": "fashion_mnist",
                             "class_subset": [5, 9], "image_size": size}  # fmt: skip
        r["case"]["hparams"]["steps"] = 20
        recs.append(r)
    s = summarize(recs, split=Split.ALL)
    assert sorted(s.table1) == ["efficientnet_lite0@64/fashion_mnist[5-9]",
                                "efficientnet_lite0@96/fashion_mnist[5-9]"]  # fmt: skip
    text = format_summary(s)
    assert "…" not in text
    for size in (64, 96):
        assert f"efficientnet_lite0@{size}/fashion_mnist[5-9]" in text
        assert f"│ efficientnet_lite0@{size} │" in text  # the per-backbone rows
