"""JSON-lines store: torn last line tolerated and repaired, stable case keys, duplicates skipped."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

from ttjax._errors import DataError
from ttjax.benchmark import BenchmarkCase, append_record, read_records, run_benchmark
from ttjax.benchmark._grid import GridPreset, benchmark_grid


def test_torn_last_line_is_skipped_then_repaired(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl"
    append_record(p, {"key": "a", "v": 1})
    with p.open("a") as fh:
        fh.write('{"key": "b", "v"')  # killed mid-write
    assert [r["key"] for r in read_records(p)] == ["a"]
    append_record(p, {"key": "c", "v": 3})
    assert [r["key"] for r in read_records(p)] == ["a", "c"]
    assert p.read_text().count("\n") == 2


def test_corrupt_middle_line_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl"
    p.write_text('{"key": "a"}\nnot json\n{"key": "c"}\n')
    with pytest.raises(DataError, match="line 2"):
        read_records(p)


def test_case_keys_are_stable_and_round_trip() -> None:
    cases = benchmark_grid(preset=GridPreset.DEFAULT)
    assert len(cases) >= 60
    assert len({c.key for c in cases}) == len(cases)
    again = [BenchmarkCase.from_dict(c.to_dict()) for c in cases]
    assert [c.key for c in again] == [c.key for c in cases]
    assert {c.hparams.optimizer.value for c in cases} == {"gd", "sgd"}


def test_run_skips_done_and_duplicate_cases(tmp_path: Path) -> None:
    cases = benchmark_grid(preset=GridPreset.TINY)
    calls: list[str] = []

    def fake(case, key):
        calls.append(case.key)
        return {"predicted": {}, "real": {}, "cost_ratio": 1.0}

    p = tmp_path / "b.jsonl"
    run_benchmark(cases[:2], path=p, key=jax.random.key(0), evaluate=fake, progress=False)
    recs = run_benchmark(
        cases + cases, path=p, key=jax.random.key(0), evaluate=fake, progress=False
    )
    assert calls == [c.key for c in cases]  # each case evaluated exactly once
    assert sorted(r["key"] for r in recs) == sorted(c.key for c in cases)
