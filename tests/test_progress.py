"""ttjax/_progress.py: the one progress helper (bar and timed stage), shown or silent."""

from __future__ import annotations

import pytest

from ttjax._progress import progress_bar, stage


def test_disabled_progress_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    timing: dict[str, float] = {}
    with progress_bar(False, 3, "fine-tuning") as tick:
        tick.describe("other")
        for _ in range(3):
            tick(status="loss 1.0")
        tick()
    with stage(timing, "solve", enabled=False, text="solving"):
        pass
    out = capsys.readouterr()
    assert out.out == out.err == ""
    assert list(timing) == ["solve"] and timing["solve"] >= 0.0


def test_enabled_bar_counts_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar(True, 2, "fine-tuning", unit="blocks") as tick:
        tick(status="loss 0.5")
        tick.describe("second")
        tick()
    out = capsys.readouterr()
    assert out.out == "" and "2/2 blocks" in out.err and "second" in out.err


def test_stage_records_time_only_when_it_finishes() -> None:
    timing: dict[str, float] = {}
    with pytest.raises(RuntimeError), stage(timing, "ntk", enabled=True, text="Θ"):
        raise RuntimeError("boom")
    assert timing == {}
