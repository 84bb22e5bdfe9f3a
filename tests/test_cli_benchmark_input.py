"""``ttjax benchmark`` and the record-reading scripts given what a user passes by mistake.

Each case was a silent wrong answer, lost data or a traceback in a sweep of the benchmark CLI
and scripts: records overwritten by their own summary, a notes file emptied as a "torn line",
a resumed file keeping another seed's runs, non-converged real runs in the headline rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_cli_bad_input import _one_line_error

from ttjax._errors import ConfigError, DataError
from ttjax._files import check_output_path
from ttjax.benchmark import (
    Split,
    append_record,
    check_run_seed,
    read_records,
    summarize,
)
from ttjax.benchmark._grid import GridPreset, benchmark_grid
from ttjax.cli import main

TINY = benchmark_grid(preset=GridPreset.TINY)


def _record(key: str, real: dict[str, int], pred: dict[str, float], **extra) -> dict:
    return {
        "key": key, "status": "ok", "split": "heldout",
        "case": {"task": {"model": "tiny", "data": "sample"}, "hparams": {"optimizer": "gd"},
                 "lr_regime": "low"},
        "predicted": {e: {"median": v} for e, v in pred.items()}, "real": real,
        "cost_ratio": 1.0, **extra,
    }  # fmt: skip


def test_the_summary_never_replaces_the_records(tmp_path: Path, capsys) -> None:
    out = tmp_path / "b.jsonl"
    append_record(out, _record("a", {"0.1": 10}, {"0.1": 11.0}))
    before = out.read_bytes()
    rc = main(["benchmark", "--summary", "--out", str(out), "--summary-json", str(out)])
    assert rc == 2 and out.read_bytes() == before
    _one_line_error(capsys, "benchmark", "would replace the records")


def test_a_device_or_pipe_is_not_an_output_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_path(fifo, what="--summary-json")
    assert not fifo.is_file()  # still the pipe: the atomic rename would have replaced it


def test_another_file_is_refused_not_emptied(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my important notes\n")
    with pytest.raises(DataError, match="not a file of benchmark records"):
        read_records(notes)
    rc = main(["benchmark", "--grid", "tiny", "--limit", "1", "--out", str(notes)])
    assert rc == 2 and notes.read_text() == "my important notes\n"  # it was cut as a torn line
    _one_line_error(capsys, "benchmark", "not a file of benchmark records")
    png = tmp_path / "b.jsonl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\n")
    with pytest.raises(DataError, match="not a file of benchmark records"):
        read_records(png)  # UnicodeDecodeError before
    torn = tmp_path / "t.jsonl"
    torn.write_text('{"key": "a", "sta')  # the first record, killed mid-write: still skipped
    assert read_records(torn) == []


def test_a_file_is_never_resumed_with_another_seed(tmp_path: Path, capsys) -> None:
    out = tmp_path / "b.jsonl"
    append_record(out, {**_record(TINY[0].key, {"0.1": 5}, {"0.1": 5.0}), "seed": 0})
    check_run_seed(read_records(out), 0, what="--out")
    with pytest.raises(ConfigError, match="runs of --seed 0"):
        check_run_seed(read_records(out), 1, what="--out")
    rc = main(["benchmark", "--grid", "tiny", "--seed", "1", "--out", str(out)])
    assert rc == 2 and len(read_records(out)) == 1  # nothing ran, nothing was mixed in
    _one_line_error(capsys, "benchmark", "--seed 1 they would be mixed")
    check_run_seed([{"key": "legacy"}], 3, what="--out")  # records before the seed was kept


def test_reusing_real_runs_of_other_cases_is_refused(tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.jsonl"
    curves = {"real_loss": [1.0, 0.5], "real_error": [0.5, 0.2]}
    append_record(
        other, {**_record("0123456789abcdef", {"0.1": 5}, {"0.1": 5.0}), "curves": curves}
    )
    out = tmp_path / "b.jsonl"
    rc = main(["benchmark", "--grid", "tiny", "--limit", "1", "--reuse-real", str(other),
               "--out", str(out)])  # fmt: skip
    assert rc == 2 and not out.exists()  # it fine-tuned every case again, silently
    _one_line_error(capsys, "benchmark", "holds none of the 1 case(s) to run")


def test_variant_missing_from_every_record_is_named(tmp_path: Path, capsys) -> None:
    out = tmp_path / "b.jsonl"
    append_record(out, _record("a", {"0.1": 10}, {"0.1": 11.0}))
    rc = main(["benchmark", "--summary", "--out", str(out), "--variant", "gradient"])
    assert rc == 2
    _one_line_error(capsys, "benchmark", "keeps the 'gradient' drift model's predictions")


def test_the_headline_rows_leave_out_runs_without_a_training_time() -> None:
    """A real run that did not converge has no Tε: the per-backbone rows dropped it, the
    headline rows scored its Tε = 0 (p95 error 44×)."""
    good = _record("a", {"0.1": 10}, {"0.1": 11.0}, real_status="converged")
    bad = _record("b", {"0.1": 0}, {"0.1": 30.0}, real_status="not_decreasing")
    s = summarize([good, bad], split=Split.ALL)
    assert s.row("all").n == 1 and s.row("all").within_13 == 1.0
    assert s.n_cases == 2  # both finished; one has no training time


def test_malformed_records_and_empty_summaries_say_why(tmp_path: Path) -> None:
    broken = _record("a", {"0.1": 10}, {"0.1": 11.0})
    broken["predicted"]["0.1"]["median"] = None
    with pytest.raises(DataError, match="record 'a' is malformed"):
        summarize([broken], split=Split.ALL)
    gone = {"key": "c", "status": "unavailable", "split": "heldout",
            "error": "WeightsNotFoundError: run scripts/pretrain_small_cnn.py"}  # fmt: skip
    with pytest.raises(DataError, match="the first: WeightsNotFoundError: run scripts/pretrain"):
        summarize([gone], split=Split.ALL)
    with pytest.raises(DataError, match="no benchmark case of the 'tune' split"):
        summarize([gone], split=Split.TUNE)


def test_limit_counts_cases_to_run_and_the_summary_follows_the_run_split(
    tmp_path: Path, capsys
) -> None:
    """``--limit 1`` on a file that already holds that case ran nothing; a ``--run-split tune``
    run ended in exit 2 because the summary looked at the held-out half."""
    out, summary = tmp_path / "b.jsonl", tmp_path / "s.json"
    for n in (1, 2):
        rc = main(["benchmark", "--grid", "tiny", "--run-split", "tune", "--limit", "1",
                   "--out", str(out), "--summary-json", str(summary)])  # fmt: skip
        assert rc == 0, capsys.readouterr().err
        assert len(read_records(out)) == n
    doc = json.loads(summary.read_text())
    assert doc["split"] == "tune" and doc["variant"] == "observed"
    assert all(r["seed"] == 0 for r in read_records(out))


@pytest.mark.parametrize("script", ["fig1_scatter", "table1", "fig5_wallclock",
                                    "fig6_error_vs_hparams"])  # fmt: skip
def test_scripts_refuse_missing_records_and_a_file_as_out(tmp_path: Path, capsys, script):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{script}.py"
    spec = importlib.util.spec_from_file_location(script, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    a_file = tmp_path / "afile"
    a_file.write_text("")
    records = tmp_path / "r.jsonl"
    append_record(records, _record("a", {"0.1": 10}, {"0.1": 11.0}))
    for argv, match in (
        (["--records", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")],
         "no such records file"),
        (["--records", str(records), "--out", str(a_file)], "is a file"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            mod.main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err


def test_summary_refuses_flags_that_select_cases_to_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "b.jsonl"
    append_record(out, _record("a", {"0.1": 10}, {"0.1": 11.0}))
    rc = main(["benchmark", "--summary", "--out", str(out), "--backbone", "nonsense"])
    assert rc == 2  # it summarised every backbone, exit 0
    _one_line_error(capsys, "benchmark", "--backbone select(s) cases to run")


def test_a_script_selection_that_matches_nothing_is_named() -> None:
    """bench_observe/bench_noise_floor said "no case finished; see FILE" (a file never made)."""
    import argparse

    from ttjax.benchmark import add_selection_flags, selected_cases

    parser = argparse.ArgumentParser()
    add_selection_flags(parser, split="tune")
    with pytest.raises(ConfigError, match="no case of the v2 grid matches"):
        selected_cases(parser.parse_args(["--max-case-minutes", "-1"]))
