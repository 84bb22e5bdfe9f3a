"""Benchmark records: ``failed`` (the method failed) vs ``unavailable`` (the environment), resume
retries only the latter; ``--limit`` must be ≥ 1 (CLI, exit 2)."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

from ttjax._errors import (
    ConfigError,
    DataError,
    MemoryBudgetError,
    StabilityError,
    WeightsError,
    WeightsNotFoundError,
)
from ttjax.benchmark import (
    CaseStatus,
    Split,
    latest_records,
    read_records,
    run_benchmark,
    summarize,
)
from ttjax.benchmark._grid import GridPreset, benchmark_grid
from ttjax.benchmark._store import completed_keys, error_status, record_status
from ttjax.cli import main


@pytest.mark.parametrize(
    ("err", "status"),
    [
        (DataError("Fashion-MNIST not found"), CaseStatus.UNAVAILABLE),
        (WeightsNotFoundError("not cached"), CaseStatus.UNAVAILABLE),
        (WeightsError("checksum"), CaseStatus.UNAVAILABLE),
        (MemoryBudgetError("too big"), CaseStatus.UNAVAILABLE),
        (StabilityError("lr past the edge"), CaseStatus.FAILED),
        (ConfigError("bad option"), CaseStatus.FAILED),
        (FloatingPointError("nan"), CaseStatus.FAILED),
    ],
)
def test_error_classes_map_to_statuses(err, status):
    assert error_status(err) is status


def test_legacy_error_records_are_read_by_error_class():
    assert record_status({"status": "error", "error": "DataError: no data"}).value == "unavailable"
    assert record_status({"status": "error", "error": "StabilityError: lr"}).value == "failed"
    assert record_status({}) is CaseStatus.OK  # files before statuses were recorded
    with pytest.raises(DataError, match="unknown status"):
        record_status({"key": "k", "status": "weird"})


def test_resume_retries_unavailable_and_keeps_failed(tmp_path: Path):
    cases = benchmark_grid(preset=GridPreset.TINY)
    missing, unstable = cases[0].key, cases[1].key
    calls: list[str] = []
    data_present = False

    def evaluate(case, key):
        calls.append(case.key)
        if case.key == missing and not data_present:
            raise DataError("Fashion-MNIST not found; apt-get install dataset-fashion-mnist")
        if case.key == unstable:
            raise StabilityError("lr past the stability edge")
        return {"predicted": {"0.1": {"median": 3.0}}, "real": {"0.1": 3}, "cost_ratio": 1.0}

    path = tmp_path / "b.jsonl"
    first = run_benchmark(cases, path=path, key=jax.random.key(0), evaluate=evaluate,
                          progress=False)  # fmt: skip
    assert [r["status"] for r in first] == ["unavailable", "failed", "ok", "ok"]
    assert first[0]["error"].startswith("DataError: Fashion-MNIST not found")
    assert completed_keys(first) == {c.key for c in cases[1:]}
    calls.clear()
    data_present = True  # e.g. the dataset was installed
    run_benchmark(cases, path=path, key=jax.random.key(0), evaluate=evaluate, progress=False)
    assert calls == [missing]  # only the unavailable case re-ran; the failed one is final
    raw = read_records(path)
    assert len(raw) == 5  # append-only: the old unavailable record stays in the file
    latest = latest_records(raw)
    assert [r["key"] for r in latest] == [c.key for c in cases]
    assert [r["status"] for r in latest] == ["ok", "failed", "ok", "ok"]
    s = summarize(raw, split=Split.ALL)
    assert (s.n_cases, s.n_failed, s.n_unavailable) == (3, 1, 0)
    assert all(r["split"] in ("tune", "heldout") for r in raw)


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_cli_limit_below_one_is_refused(tmp_path: Path, capsys, limit):
    out = tmp_path / "b.jsonl"
    rc = main(["benchmark", "--grid", "tiny", "--limit", limit, "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "--limit must be ≥ 1" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # refused before running anything


def test_missing_pretrained_weights_are_unavailable_and_name_the_script(tmp_path, monkeypatch):
    from ttjax.benchmark import resolve_weights
    from ttjax.benchmark._grid_v2 import RESNET18_FMNIST

    monkeypatch.setenv("TTJAX_CACHE", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=r"pretrain_resnet_fashion_mnist\.py") as info:
        resolve_weights(RESNET18_FMNIST)
    assert error_status(info.value) is CaseStatus.UNAVAILABLE
