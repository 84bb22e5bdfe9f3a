"""`ttjax predict` and `ttjax sweep` end to end on the tiny model: JSON schema, PNG."""

from __future__ import annotations

import json

import numpy as np

from ttjax.cli import main
from ttjax.training_time import epsilon_training_time

TINY = ["--model", "tiny", "--weights", "none", "--classes", "3", "--per-class", "5",
        "--image-size", "16", "--steps", "20", "--no-progress"]  # fmt: skip


def test_predict_cli_writes_the_json_schema_and_a_png(tmp_path, capsys):
    real = tmp_path / "real.json"
    ref_loss = list(np.linspace(1.1, 0.5, 21))
    real.write_text(json.dumps({"curves": {"loss": ref_loss, "error": [0.5] * 21}}))
    out_json, out_png = tmp_path / "p.json", tmp_path / "p.png"
    argv = ["predict", *TINY, "--optimizer", "sgd", "--batch-size", "5", "--lr", "0.05",
            "--paths", "16", "--eps", "0.01,0.1,0.4", "--json", str(out_json),
            "--plot", str(out_png), "--compare", str(real)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out_json.read_text())
    assert set(doc) >= {"config", "curves", "training_time", "wall_clock_estimate_s", "timing_s"}
    for k in ("loss", "error", "loss_q05", "loss_q95", "error_q05", "error_q95"):
        assert len(doc["curves"][k]) == 21, k
    assert np.all(np.array(doc["curves"]["loss_q05"]) <= np.array(doc["curves"]["loss_q95"]))
    assert list(doc["training_time"]) == ["0.01", "0.1", "0.4"]
    for stats in doc["training_time"].values():
        assert set(stats) == {"median", "mean", "q05", "q95"}
        assert stats["q05"] <= stats["median"] <= stats["q95"]
    assert doc["config"]["optimizer"] == "sgd" and doc["config"]["paths"] == 16
    assert {"ntk", "solve", "total"} <= set(doc["timing_s"])
    step = doc["step_time_s"]
    assert doc["wall_clock_estimate_s"] == doc["training_time"]["0.01"]["median"] * step
    lin = doc["linearity"]  # the contract's top-level regime and warnings mirror it
    assert doc["regime"] == {"linear": "lazy"}.get(lin["regime"], lin["regime"])
    assert doc["warnings"] == ([lin["warning"]] if lin.get("warning") else [])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert "real Tε" in table and str(int(epsilon_training_time(np.array(ref_loss), 0.4))) in table


def test_predict_cli_reports_instability_in_one_line(capsys):
    assert main(["predict", *TINY, "--lr", "1e4"]) == 2
    err = capsys.readouterr().err
    assert "stability limit" in err and "Traceback" not in err


def test_sweep_cli_json(tmp_path):
    out = tmp_path / "s.json"
    argv = ["sweep", *TINY, "--lrs", "0.05,1e4", "--momenta", "0,0.9", "--batch-sizes", "5,15",
            "--paths", "8", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert len(doc["grid"]) == 8
    by = {(g["lr"], g["momentum"], g["batch_size"]): g for g in doc["grid"]}
    assert not by[(1e4, 0.0, 5)]["stable"] and not by[(1e4, 0.0, 5)]["within_budget"]
    assert by[(0.05, 0.0, 15)]["stable"]
    assert set(by[(0.05, 0.0, 15)]["training_time"]["0.1"]) == {"median", "mean", "q05", "q95"}
