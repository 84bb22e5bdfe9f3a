"""Runs that do not settle, predicted or real, end to end: no Tε where there is none, and
`--compare` / `sweep` refuse what they cannot use instead of answering wrongly.

The settings are the ones a CLI sweep found wrong answers with (tiny CNN, random init, the
`sample` task at 16×16, 6 images per class; its GD stability limit is lr ≈ 0.92).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli_bad_input import _one_line_error, no_compute  # noqa: F401 (fixture)

from ttjax.cli import main

B = ["--model", "tiny", "--weights", "none", "--data", "sample", "--image-size", "16",
     "--per-class", "6", "--no-progress"]  # fmt: skip
SGD_PAST_EDGE = ["--optimizer", "sgd", "--batch-size", "3", "--lr", "0.9", "--steps", "20"]


def test_finetune_past_the_limit_is_unsettled(tmp_path: Path, capsys) -> None:
    """lr 1.2 (1.3× the limit): the loss falls, jumps to 1.5 × L_0 and ends near its start
    (measured 1.67 → 1.28 → 2.50 → 1.60). It was reported converged with Tε = 1 step."""
    out = tmp_path / "f.json"
    assert main(["finetune", *B, "--lr", "1.2", "--steps", "12", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    loss = np.asarray(doc["curves"]["loss"])
    assert loss[-1] < loss[0] and loss.max() > loss[0]  # not "not decreasing", not "diverged"
    assert doc["status"] == "unsettled"
    assert all(t == {"steps": None} for t in doc["training_time"].values())
    err = capsys.readouterr().err
    assert "status unsettled" in err and "climbed back" in err


def test_predicted_run_that_does_not_decrease_has_no_training_time(tmp_path: Path, capsys):
    """SGD |B| = 3 at lr 0.9: the full-batch check passes, the predicted loss rises
    (1.67 → 2.3). It was reported Tε = 0 with exit 0."""
    out = tmp_path / "p.json"
    argv = ["predict", *B, *SGD_PAST_EDGE, "--observe", "2", "--paths", "16", "--json", str(out)]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["curves"]["loss"][-1] > doc["curves"]["loss"][0]
    assert doc["status"] == "not_decreasing"
    assert all(v is None for v in doc["training_time"].values())
    assert doc["wall_clock_estimate_s"] is None and doc["wall_clock_s"] is None
    assert any("Tε is undefined" in w for w in doc["warnings"])
    captured = capsys.readouterr()
    assert "— (not_decreasing)" in captured.out and "Tε is undefined" in captured.err


def test_sweep_marks_unsettled_settings_and_takes_batch_sizes_alone(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    argv = ["sweep", *B, "--optimizer", "sgd", "--steps", "20", "--lrs", "0.9,0.05",
            "--batch-sizes", "3,30", "--paths", "16", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0  # no --batch-size: the grid's batch sizes are enough
    by = {(g["lr"], g["batch_size"]): g for g in json.loads(out.read_text())["grid"]}
    past = by[(0.9, 3)]
    assert past["stable"] and past["status"] == "not_decreasing"
    assert not past["within_budget"] and past["training_time"]["0.1"]["median"] is None
    assert by[(0.05, 30)]["status"] == "converged" and by[(0.05, 30)]["within_budget"]


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--plot", "x.png"], "--plot"), (["--observe", "4"], "--observe"),
     (["--drift", "gradient"], "--drift"), (["--path-budget", "3"], "--path-budget")],
)  # fmt: skip
@pytest.mark.usefixtures("no_compute")
def test_sweep_refuses_flags_it_would_ignore(flags: list[str], named: str, capsys) -> None:
    assert main(["sweep", *B, "--lrs", "0.05", *flags]) == 2
    _one_line_error(capsys, "sweep", f"cannot use {named}")


def _compare_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name → (file or folder given to --compare, the message fragment)."""
    binary = tmp_path / "data.npz"
    binary.write_bytes(b"\xc0\x00PK\x03\x04")
    words = tmp_path / "words.json"
    words.write_text(json.dumps({"curves": {"loss": [1.0, "x", None]}}))
    predicted = tmp_path / "predicted.json"
    predicted.write_text(json.dumps({"config": {"command": "predict"},
                                     "curves": {"loss": [1.0, 0.5]}}))  # fmt: skip
    return {
        "binary": (binary, "is not a JSON file"),
        "folder": (tmp_path, "cannot be read"),
        "words": (words, "curves.loss is not a list of at least 2 numbers"),
        "predicted": (predicted, "was written by `ttjax predict`, not by a real run"),
    }


@pytest.mark.parametrize("case", ["binary", "folder", "words", "predicted"])
@pytest.mark.usefixtures("no_compute")
def test_compare_file_refused_before_any_computation(case: str, tmp_path: Path, capsys) -> None:
    path, match = _compare_inputs(tmp_path)[case]
    assert main(["predict", *B, "--compare", str(path)]) == 2
    err = _one_line_error(capsys, "predict", match)
    assert "ttjax finetune ... --json" in err


def test_compare_with_another_run_or_a_diverged_one_says_so(tmp_path: Path, capsys) -> None:
    """A real run at another lr is named before the prediction runs; a real curve with NaN is
    a diverged run (no real Tε), not an error blamed on the prediction."""
    real = tmp_path / "real.json"
    assert main(["finetune", *B, "--lr", "0.05", "--steps", "10", "--json", str(real)]) == 0
    capsys.readouterr()
    argv = ["predict", *B, "--lr", "0.02", "--steps", "10", "--observe", "2", "--compare"]
    assert main([*argv, str(real)]) == 0
    captured = capsys.readouterr()
    assert "not the run predicted: lr 0.05 (real) vs 0.02" in captured.err.replace("\n", " ")
    assert "real Tε" in captured.out

    nan = tmp_path / "nan.json"
    nan.write_text('{"curves": {"loss": [1.0, NaN, 0.5]}}')
    assert main([*argv, str(nan)]) == 0
    captured = capsys.readouterr()
    assert "— (diverged)" in captured.out
    assert "the --compare run diverged" in captured.err.replace("\n", " ")
    assert "steps 2 (real) vs 10" in captured.err.replace("\n", " ")


def test_model_help_names_every_model(capsys) -> None:
    from ttjax import available_models

    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(name in text for name in available_models())
