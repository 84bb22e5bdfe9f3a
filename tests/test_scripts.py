"""Each paper-figure script runs with ``--small`` and writes a non-empty PNG and finite numbers."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ttjax.benchmark import Split, read_records, summarize

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "results" / "benchmark_default.jsonl"

# script → (PNG, CSV, JSON or None) it must write
OUTPUTS = {
    "fig1_scatter": ("fig1_scatter.png", "fig1_scatter.csv", "fig1_summary.json"),
    "table1": ("table1.png", "table1.csv", "table1.json"),
    "fig5_wallclock": ("fig5_wallclock.png", "fig5_wallclock.csv", "fig5_wallclock.json"),
    "fig6_error_vs_hparams": (
        "fig6_error_vs_hparams.png",
        "fig6_error_vs_hparams.csv",
        "fig6_error_vs_hparams.json",
    ),
    "fig2_ode_sde": ("fig2_ode_sde.png", "fig2_ode_sde.csv", None),
    "bench_linearity": ("bench_linearity.png", "bench_linearity.csv", "bench_linearity.json"),
    "bench_band_calibration": (
        "band_calibration.png",
        "band_calibration.csv",
        "band_calibration.json",
    ),
    "bench_relinearise": ("relinearise.png", "relinearise.csv", "relinearise.json"),
    "bench_observe": ("closed_loop.png", "closed_loop.csv", "closed_loop.json"),
    "bench_noise_floor": ("noise_floor.png", "noise_floor.csv", "noise_floor.json"),
    "bench_head_bilinear": ("head_bilinear.png", "head_bilinear.csv", "head_bilinear.json"),
    "fig4_ntk": ("fig4_ntk.png", "fig4_projection.csv", "fig4_spectrum.json"),
    "fig8_noise": ("fig8_noise.png", "fig8_noise.csv", None),
    "fig7_extrapolation": (
        "fig7_extrapolation.png",
        "fig7_extrapolation.csv",
        "fig7_extrapolation.json",
    ),
}
# build a Θ: ≈ 10–30 s each on 2 cores
SLOW = {
    "bench_linearity",
    "bench_relinearise",
    "fig2_ode_sde",
    "fig4_ntk",
    "fig8_noise",
    "fig7_extrapolation",
}


EXTRA = {"bench_observe": ["--alignment", "0.5,fit"]}
"""Flags beyond ``--small --out`` a script's test run adds (its optional variants)."""


def _run(name: str, out: Path, *extra: str) -> None:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, str(ROOT / "scripts" / f"{name}.py"), "--small", "--out", str(out)]
    cmd += [*EXTRA.get(name, []), *extra]
    if name in ("fig1_scatter", "table1", "fig5_wallclock", "fig6_error_vs_hparams"):
        cmd += ["--records", str(RECORDS)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _finite_numbers(rows: list[dict[str, str]]) -> list[float]:
    vals = []
    for row in rows:
        for v in row.values():
            try:
                vals.append(float(v))
            except ValueError:
                continue  # a label column (task, method, key...)
    return vals


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in OUTPUTS]
)
def test_script_small_writes_png_and_finite_numbers(name: str, tmp_path: Path):
    _run(name, tmp_path)
    png, table, js = OUTPUTS[name]
    assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / png).stat().st_size > 2000
    rows = _csv_rows(tmp_path / table)
    vals = _finite_numbers(rows)
    assert rows and vals and all(math.isfinite(v) for v in vals)
    if js is not None:
        text = (tmp_path / js).read_text()
        assert "NaN" not in text and "Infinity" not in text
        json.loads(text)


def test_bench_observe_reuses_real_runs_and_scores_the_aligned_variants(tmp_path: Path):
    _run("bench_observe", tmp_path / "first")
    first = read_records(tmp_path / "first" / "closed_loop.jsonl")
    _run("bench_observe", tmp_path / "again", "--reuse-real",
         str(tmp_path / "first" / "closed_loop.jsonl"))  # fmt: skip
    again = read_records(tmp_path / "again" / "closed_loop.jsonl")
    assert [r["real_reused"] for r in first] == [False] and [r["real_reused"] for r in again] == [
        True
    ]
    assert again[0]["real"] == first[0]["real"]
    assert again[0]["curves"]["real_loss"] == first[0]["curves"]["real_loss"]
    (tmp_path / "junk.jsonl").write_text('{"key": "x", "status": "failed"}\n')  # no ok record
    with pytest.raises(AssertionError, match="no finished"):  # exit 2, one line, no --out
        _run("bench_observe", tmp_path / "none", "--reuse-real", str(tmp_path / "junk.jsonl"))
    assert not (tmp_path / "none").exists()
    k = first[0]["closed_loop"]["observe"][0]
    want = {f"aligned0.5@{k}", f"alignedfit@{k}", f"gradient@{k}"}
    assert want <= set(first[0]["predicted_variants"])
    rows = json.loads((tmp_path / "first" / "closed_loop.json").read_text())["rows"]
    assert want <= {r["variant"] for r in rows}


def test_fig1_and_table1_match_summarize(tmp_path: Path):
    records = read_records(RECORDS)
    summary = summarize(records, split=Split.ALL)
    _run("fig1_scatter", tmp_path / "fig1")
    _run("table1", tmp_path / "table1")
    # fig1: one point per finished (case, ε) pair, and the summary it writes is summarize's.
    points = _csv_rows(tmp_path / "fig1" / "fig1_scatter.csv")
    assert len(points) == summary.row("all").n
    for opt in ("gd", "sgd"):
        sel = [p for p in points if p["optimizer"] == opt]
        if not sel:  # a partial benchmark file may hold one optimizer only
            continue
        mean_abs = sum(abs(float(p["predicted"]) - float(p["real"])) for p in sel) / len(sel)
        assert mean_abs == pytest.approx(summary.row(opt).mean_abs, rel=1e-12)
    written = json.loads((tmp_path / "fig1" / "fig1_summary.json").read_text())
    assert written == json.loads(json.dumps(summary.to_dict()))
    # table1: every (task, ε) cell equals summarize(...).table1.
    rows = _csv_rows(tmp_path / "table1" / "table1.csv")
    assert len(rows) == sum(len(by_eps) for by_eps in summary.table1.values())
    for r in rows:
        cells = summary.table1[r["task"]][float(r["eps"])]
        for regime in ("low", "high"):
            want = cells[regime]
            assert (r[regime] == "") if want is None else float(r[regime]) == pytest.approx(want)


def test_band_calibration_script_refits_the_shipped_band(tmp_path: Path):
    _run("bench_band_calibration", tmp_path)
    doc = json.loads((tmp_path / "band_calibration.json").read_text())
    assert doc["equals_shipped"] is True
    held = {(r["band"], r["backbone"], r["optimizer"], r["group"]): r for r in doc["rows"]
            if r["half"] == "heldout"}  # fmt: skip
    pooled_model, pooled_cal = (
        held["model", "all", "all", "all"],
        held["calibrated", "all", "all", "all"],
    )
    assert pooled_model["pairs"] == pooled_cal["pairs"] > 0  # the same pairs, scored twice
    assert pooled_cal["coverage"] >= pooled_model["coverage"]  # a calibrated band only widens


def test_band_calibration_script_by_momentum_and_leave_one_case_out(tmp_path: Path):
    """Several record files, one calibration per momentum group, leave-one-case-out rows: the
    committed re-scored records (results/band_momentum) give the README's figures."""
    tune = sorted(str(p) for p in (ROOT / "results" / "band_momentum").glob("tune*/*.jsonl"))
    held = sorted(str(p) for p in (ROOT / "results" / "band_momentum").glob("held*/*.jsonl"))
    assert len(tune) == 3 and len(held) == 2
    _run("bench_band_calibration", tmp_path, "--tune", *tune, "--heldout", *held, "--by-momentum")
    doc = json.loads((tmp_path / "band_calibration.json").read_text())
    assert doc["equals_shipped"] is False  # refitted on 34 cases, not the shipped 13
    assert set(doc["fitted_by_momentum"]) == {"momentum 0", "heavy ball"}
    rows = {(r["half"], r["band"], r["backbone"], r["group"]): r for r in doc["rows"]
            if r["optimizer"] == "all"}  # fmt: skip
    for band in ("model", "calibrated", "shipped", "by-mom"):
        pooled = rows["heldout", band, "all", "all"]
        split = [rows["heldout", band, "all", g]["pairs"] for g in ("momentum 0", "heavy ball")]
        assert pooled["pairs"] == sum(split) == 90  # 18 held-out cases × 5 ε
    for band in ("loco", "loco-mom"):
        assert rows["tune", band, "all", "all"]["pairs"] == 170  # 34 tuning cases × 5 ε
    # Scored on its own fitting records the band looks better than leave-one-case-out says.
    assert (
        rows["tune", "calibrated", "all", "all"]["coverage"]
        >= rows["tune", "loco", "all", "all"]["coverage"]
    )
    # Bad input: exit 2 with one line, no traceback, nothing written.
    bad = {
        "no such records file": ["--tune", str(tmp_path / "nope.jsonl")],
        "leave-one-case-out without case": ["--by-momentum"],  # too few heavy-ball cases
    }
    for i, (message, flags) in enumerate(bad.items()):
        with pytest.raises(AssertionError, match=message) as err:
            _run("bench_band_calibration", tmp_path / f"bad{i}", *flags)
        assert "Traceback" not in str(err.value)
        assert not (tmp_path / f"bad{i}").exists()


def test_fig5_and_fig6_match_summarize(tmp_path: Path):
    records = read_records(RECORDS)
    summary = summarize(records, split=Split.ALL)
    _run("fig5_wallclock", tmp_path / "fig5")
    _run("fig6_error_vs_hparams", tmp_path / "fig6")
    # fig5: one row per finished case; its overall median cost ratio is summarize's.
    cases = _csv_rows(tmp_path / "fig5" / "fig5_wallclock.csv")
    assert len(cases) == summary.n_cases
    written = json.loads((tmp_path / "fig5" / "fig5_wallclock.json").read_text())
    assert written["overall"]["median"] == pytest.approx(summary.median_cost_ratio, rel=1e-12)
    # fig6: per-pair errors reproduce summarize's overall row; every lr group of both optimizers
    # together covers all the pairs.
    pairs = _csv_rows(tmp_path / "fig6" / "fig6_points.csv")
    rel = sorted(float(p["rel_error"]) for p in pairs)
    assert len(rel) == summary.row("all").n
    assert float(np.median(rel)) == pytest.approx(summary.row("all").median_rel, rel=1e-12)
    groups = _csv_rows(tmp_path / "fig6" / "fig6_error_vs_hparams.csv")
    for hparam in ("lr", "batch_size", "n_train"):
        sel = [g for g in groups if g["hparam"] == hparam and g["optimizer"] == "all"]
        assert sum(int(g["n"]) for g in sel) == len(pairs)


@pytest.mark.slow
def test_bench_cost_ratio_small_runs_every_command_cold_and_warm(tmp_path: Path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "scripts" / "bench_cost_ratio.py"), "--small",
           "--out", str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "cost_ratio.json").read_text())
    res = doc["results"]["tiny"]
    expected = {f"{c}/{s}" for c in ("predict", "finetune", "predict_subset")
                for s in ("cold", "warm")}  # fmt: skip
    assert set(res["runs"]) == expected
    for key, run in res["runs"].items():
        assert run["wall_s"] > 0 and run["timing_s"]["total"] > 0, key
        # the process's own wall time includes every stage it reports
        assert run["wall_s"] >= run["timing_s"]["total"], key
    for state in ("cold", "warm"):
        ratio = (
            res["runs"][f"finetune/{state}"]["wall_s"] / res["runs"][f"predict/{state}"]["wall_s"]
        )
        assert math.isclose(res["ratio"][state], ratio)
    assert res["runs"]["predict_subset/warm"]["timing_s"]["extrapolate"] >= 0
