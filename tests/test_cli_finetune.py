"""``ttjax finetune`` end to end (in-process), JSON schema, and one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ttjax.cli import main
from ttjax.training_time import epsilon_training_time

TINY = ["finetune", "--model", "tiny", "--weights", "none", "--classes", "3", "--per-class",
        "6", "--image-size", "8", "--no-progress"]  # fmt: skip


def test_finetune_json_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "out.json", tmp_path / "out.png"
    rc = main([*TINY, "--steps", "6", "--lr", "0.05", "--eps", "0.1,0.4",
               "--json", str(out), "--plot", str(png)])  # fmt: skip
    assert rc == 0 and png.read_bytes()[:4] == b"\x89PNG"
    doc = json.loads(out.read_text())
    assert set(doc) >= {"config", "curves", "training_time", "wall_clock_estimate_s", "timing_s"}
    assert doc["config"]["num_examples"] == 18 and doc["config"]["batch_size"] == 18
    assert len(doc["curves"]["loss"]) == len(doc["curves"]["error"]) == 7
    assert set(doc["training_time"]) == {"0.1", "0.4"}
    for eps in ("0.1", "0.4"):
        want = int(epsilon_training_time(np.asarray(doc["curves"]["loss"]), float(eps)))
        assert doc["training_time"][eps] == {"steps": want}
    assert doc["timing_s"]["train"] > 0 and doc["timing_s"]["step"] > 0


def test_own_data_without_size_flags_uses_what_it_holds(tmp_path: Path, capsys) -> None:
    # 3 classes (ids 2, 5, 9) of 9, 7 and 8 images: fewer than the default 5 × 40
    rng = np.random.default_rng(0)
    labels = np.repeat([2, 5, 9], [9, 7, 8])
    np.savez(tmp_path / "own.npz", images=rng.integers(0, 256, (24, 10, 10), np.uint8),
             labels=labels)  # fmt: skip
    own = ["finetune", "--model", "tiny", "--weights", "none", "--data",
           f"npz:{tmp_path / 'own.npz'}", "--image-size", "8", "--steps", "3",
           "--no-progress"]  # fmt: skip
    out = tmp_path / "out.json"
    assert main([*own, "--json", str(out)]) == 0
    cfg = json.loads(out.read_text())["config"]
    assert (cfg["classes"], cfg["per_class"], cfg["num_examples"]) == (3, 7, 21)
    assert cfg["class_ids"] == [2, 5, 9]
    # GD's full batch is checked against the N actually drawn
    assert main([*own, "--batch-size", "21"]) == 0
    capsys.readouterr()
    assert main([*own, "--batch-size", "20"]) == 2
    assert "(N = 21)" in capsys.readouterr().err
    # a size that is given is still a demand, and its error names the flag
    assert main([*own, "--per-class", "8"]) == 2
    assert "use --per-class ≤ 7" in capsys.readouterr().err


def _bad_npz(tmp_path: Path) -> str:
    np.savez(tmp_path / "bad.npz", images=np.zeros((4, 5, 5), np.uint8),
             labels=np.array([0, 1, -3, 1]))  # fmt: skip
    return f"npz:{tmp_path / 'bad.npz'}"


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--data", "NPZ"], "labels must be non-negative"),
        (["--per-class", "500"], "use --per-class ≤ 150"),
        (["--optimizer", "sgd"], "SGD needs a batch size"),
        (["--data", "cifar10"], "unknown data source"),
    ],
)
def test_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], match: str
) -> None:
    flags = [_bad_npz(tmp_path) if f == "NPZ" else f for f in flags]
    assert main([*TINY, "--steps", "1", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ttjax finetune: error:") and "\n" not in err and match in err
