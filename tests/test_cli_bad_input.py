"""The bad-input catalogue, end to end: each case exits 2 with one line naming the problem and
the fix, no traceback, no temporary file left, and nothing computed before the check fails.

The "nothing computed" cases replace the data loader with one that fails the test if called:
the flags and output paths must be rejected before any data is loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_benchmark_summary import _rec, _write

import ttjax.data
from ttjax.cli import main
from ttjax.cli._report import write_json

TINY = ["--model", "tiny", "--weights", "none", "--classes", "3", "--per-class", "5",
        "--image-size", "8", "--steps", "3", "--no-progress"]  # fmt: skip
COMMANDS = ("finetune", "predict", "sweep")


def _one_line_error(capsys: pytest.CaptureFixture[str], command: str, match: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ttjax {command}: error:"), err
    assert "\n" not in err and "Traceback" not in err, err
    assert match in err, err
    return err


@pytest.fixture
def no_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data was loaded although the flags were bad")

    monkeypatch.setattr(ttjax.data, "load_task", refuse)


def _bad_paths(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name → (path, the message fragment)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    a_dir = tmp_path / "a_dir"
    a_dir.mkdir()
    return {
        "parent_is_file": (str(a_file / "out.json"), "is a file, not a folder"),
        "existing_dir": (str(a_dir), "is a folder; give a file path"),
        "unwritable": ("/proc/ttjax-x.json", "cannot create files in /proc"),
    }


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["--json", "--plot"])
@pytest.mark.parametrize("case", ["parent_is_file", "existing_dir", "unwritable"])
def test_output_path_rejected_before_any_computation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_compute: None,
    command: str, flag: str, case: str,
) -> None:  # fmt: skip
    path, match = _bad_paths(tmp_path)[case]
    if flag == "--plot":
        path = path.replace(".json", ".png")
    assert main([command, *TINY, flag, path]) == 2
    if command == "sweep" and flag == "--plot":  # sweep draws no curve: any --plot is refused
        _one_line_error(capsys, command, "cannot use --plot")
        return
    err = _one_line_error(capsys, command, match)
    assert err.startswith(f"ttjax {command}: error: {flag} {path}")
    assert not list(tmp_path.rglob("*.tmp")) and not list(Path("/proc").glob("*ttjax*"))


def test_plot_format_rejected_before_any_computation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_compute: None
) -> None:
    assert main(["finetune", *TINY, "--plot", str(tmp_path / "x.notaformat")]) == 2
    _one_line_error(capsys, "finetune", "matplotlib cannot write '.notaformat' files")


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--seed", "-1"], "--seed must be an integer in [0, 2^63 − 1], got -1"),
        (["--seed", "1180591620717411303424"], "got 1180591620717411303424"),
        (["--classes", "1"], "needs at least 2 classes"),
        (["--classes", "0"], "--classes must be a positive integer"),
        (["--lr-schedule", "step:2,1"], "milestones must be increasing non-negative steps"),
        (["--lr-schedule", "cosine:-1"], "final_fraction must be in [0, 1], got -1.0"),
        (["--lr-schedule", "step:1,5"], "milestone(s) [5] are at or past T = 3"),
    ],
)
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_task_flags_rejected_before_loading(
    capsys: pytest.CaptureFixture[str], no_compute: None,
    command: str, flags: list[str], match: str,
) -> None:  # fmt: skip
    assert main([command, *TINY, *flags]) == 2
    _one_line_error(capsys, command, match)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--observe", "1"], "--observe must be 0 or ≥ 2 real steps, got 1"),
        (["--drift-alignment", "0.5"], "--drift-alignment applies to --drift aligned only"),
        (["--drift", "aligned", "--drift-alignment", "most"], "a number ≥ 0 or 'fit', got 'most'"),
        (["--drift", "aligned", "--drift-alignment=-1"], "drift_alignment γ must be finite"),
    ],
)
def test_bad_dynamics_flags_rejected_before_loading(
    capsys: pytest.CaptureFixture[str], no_compute: None, flags: list[str], match: str
) -> None:
    assert main(["predict", *TINY, *flags]) == 2
    _one_line_error(capsys, "predict", match)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--lrs=-1"], "--lrs must all be positive finite numbers, got [-1.0]"),
        (["--lrs", "0.1,0"], "got [0.0]"),
        (["--lrs", "nan"], "--lrs must all be positive"),
        (["--momenta", "0,1"], "--momenta must all be in [0, 1), got [1.0]"),
        (["--momenta=-0.5"], "--momenta must all be in [0, 1)"),
        (["--batch-sizes", "0,4"], "--batch-sizes must all be integers ≥ 1, got [0.0]"),
        (["--batch-sizes", "2.5"], "got [2.5]"),
    ],
)
def test_sweep_bad_grid(
    capsys: pytest.CaptureFixture[str], no_compute: None, flags: list[str], match: str
) -> None:
    assert main(["sweep", *TINY, *flags]) == 2
    _one_line_error(capsys, "sweep", match)


def test_truncated_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((12, 8, 8), np.uint8), labels=np.arange(12) % 3)
    raw = good.read_bytes()
    for name, data in (("cut.npz", raw[: len(raw) // 2]), ("head.npz", raw[:40])):
        (tmp_path / name).write_bytes(data)
        assert main(["finetune", *TINY, "--data", f"npz:{tmp_path / name}"]) == 2
        _one_line_error(capsys, "finetune", "it is truncated or corrupt")
    ragged = np.empty(12, dtype=object)  # differently sized images: an object array
    ragged[:] = [np.zeros((8, 8 + i % 2), np.uint8) for i in range(12)]
    np.savez(tmp_path / "ragged.npz", images=ragged, labels=np.arange(12) % 3)
    assert main(["finetune", *TINY, "--data", f"npz:{tmp_path / 'ragged.npz'}"]) == 2
    _one_line_error(capsys, "finetune", "holds Python objects (an object array)")


def test_benchmark_bad_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("x")
    cases = [
        (["--out", str(tmp_path)], "is a folder; give a file path"),
        (["--out", str(a_file / "b.jsonl")], "is a file, not a folder"),
        (["--out", str(tmp_path / "none.jsonl"), "--summary-only"], "is not a file of benchmark"),
        (["--out", str(tmp_path / "b.jsonl"), "--seed", "-2"], "--seed must be an integer"),
        (["--out", str(tmp_path / "b.jsonl"), "--summary-json", str(tmp_path)], "is a folder"),
    ]
    for flags, match in cases:
        # --grid tiny would run real cases: every one of these must stop before the first
        assert main(["benchmark", "--grid", "tiny", *flags]) == 2
        _one_line_error(capsys, "benchmark", match)
    assert not (tmp_path / "b.jsonl").exists()


def test_benchmark_summary_json_is_written_atomically(tmp_path: Path) -> None:
    out, summary = tmp_path / "b.jsonl", tmp_path / "s.json"
    _write(out, [_rec("gd", "low", {"0.1": 11.0}, {"0.1": 10}, 2.0)])
    assert main(["benchmark", "--summary-only", "--split", "all", "--out", str(out),
                 "--summary-json", str(summary)]) == 0  # fmt: skip
    assert json.loads(summary.read_text())  # a complete JSON document
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.jsonl", "s.json"]  # no .tmp


def test_write_failure_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with pytest.raises(TypeError):
        write_json(out, {"bad": object()})  # not JSON-serialisable: fails mid-write
    assert list(tmp_path.iterdir()) == []
    write_json(out, {"ok": 1})
    assert json.loads(out.read_text()) == {"ok": 1} and list(tmp_path.iterdir()) == [out]


def test_finetune_that_diverges_without_nan_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lr = 1e6 on the tiny CNN: the loss jumps to ~1e28 then oscillates at 1e4–1e6, never
    NaN (measured). Documented behaviour: exit 0, status "diverged", every Tε null, one
    warning line on stderr; never Tε = 0."""
    out = tmp_path / "d.json"
    assert main(["finetune", *TINY, "--steps", "6", "--lr", "1e6", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    loss = np.asarray(doc["curves"]["loss"])
    assert np.all(np.isfinite(loss)) and loss.max() > 1e3 * loss[0]  # really blew up, no NaN
    assert doc["status"] == "diverged"
    assert all(t == {"steps": None} for t in doc["training_time"].values())
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "status diverged" in warning[0] and "lower --lr" in warning[0]
    # a healthy run on the same task converges and keeps its Tε
    assert main(["finetune", *TINY, "--steps", "6", "--lr", "0.05", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["status"] == "converged" and doc["training_time"]["0.1"]["steps"] >= 0


def test_real_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ttjax", "finetune", *TINY, "--seed", "-1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "--seed must be an integer" in proc.stderr
