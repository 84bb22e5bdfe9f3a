"""The shared tail of the benchmark analysis scripts (ttjax.benchmark._report)."""

from __future__ import annotations

import csv
import json

import pytest

from ttjax.benchmark import (
    ALL_RUNS,
    MOMENTUM_0,
    format_variant_row,
    momentum_rows,
    variant_rows,
    write_table,
)


def _record(key: str, momentum: float, predicted: float, real: int) -> dict:
    return {
        "status": "ok",
        "key": key,
        "case": {
            "task": {"model": "tiny", "image_size": 8},
            "hparams": {"optimizer": "gd", "steps": 100, "momentum": momentum},
        },
        "real": {"0.1": real},
        "predicted_variants": {
            "a": {"0.1": {"median": predicted}},
            "b": {"0.1": {"median": float(real)}},
        },
    }


def test_momentum_rows_scores_all_runs_then_momentum_0_runs_only():
    # momentum 0: within 13% (55 vs 50); momentum 0.9: 2× off.
    recs = [_record("k0", 0.0, 55.0, 50), _record("k9", 0.9, 100.0, 50)]
    rows = momentum_rows(recs, ["a"], momentum0_variants=["a", "b"])
    pooled = {(r["runs"], r["variant"]): r for r in rows if r["backbone"] == "all"}
    assert pooled[(ALL_RUNS, "a")]["within"] == pytest.approx(0.5)
    assert pooled[(ALL_RUNS, "a")]["pairs"] == 2
    assert pooled[(MOMENTUM_0, "a")]["within"] == pytest.approx(1.0)
    assert pooled[(MOMENTUM_0, "a")]["pairs"] == 1
    assert pooled[(MOMENTUM_0, "b")]["median_rel"] == pytest.approx(0.0)
    assert (ALL_RUNS, "b") not in pooled  # only asked for on the momentum-0 runs
    # The same numbers as variant_rows on each subset, with the runs column first.
    assert [{k: v for k, v in r.items() if k != "runs"} for r in rows[:2]] == variant_rows(
        recs, ["a"]
    )
    assert next(iter(rows[0])) == "runs"


def test_format_variant_row_without_runs_and_with_widths():
    row = {"variant": "relin@0.25", "backbone": "resnet18@32", "pairs": 25, "within": None,
           "median_rel": 0.125, "median_rel_T": 0.05}  # fmt: skip
    line = format_variant_row(row, variant_width=12, backbone_width=12)
    assert line == "  relin@0.25  resnet18@32 pairs  25  within   0.0%  median  12.5%  /T   5.0%"


def test_write_table_union_header_strict_json(tmp_path):
    rows = [{"a": 1, "b": float("nan")}, {"c": "x", "a": 2}]
    doc = {"rows": rows, "nested": [float("inf"), (1.5, float("-inf"))]}
    csv_path, json_path = write_table(tmp_path, "t", rows, doc)
    assert (csv_path.name, json_path.name) == ("t.csv", "t.json")
    with open(csv_path, newline="") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == ["a", "b", "c"]
    assert got[1] == {"a": "2", "b": "", "c": "x"}
    text = json_path.read_text()
    assert "NaN" not in text and "Infinity" not in text and text.endswith("\n")
    assert json.loads(text) == {
        "rows": [{"a": 1, "b": None}, {"c": "x", "a": 2}],
        "nested": [None, [1.5, None]],
    }


def test_write_table_refuses_no_rows(tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        write_table(tmp_path, "t", [], {})
    assert not list(tmp_path.iterdir())
