"""Benchmark v2: the grid, the tune/held-out split, the per-backbone summary (hand-computed
oracle) and the dry-run cost estimate."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from ttjax.benchmark import Split, case_split, plateaued, summarize
from ttjax.benchmark._cost import StepCost, estimate_case
from ttjax.benchmark._grid import GridPreset, benchmark_grid
from ttjax.cli import main


def _label(case) -> str:
    return f"{case.task.model}@{case.task.image_size}"


def test_v2_grid_covers_the_issue():
    cases = benchmark_grid(preset=GridPreset.V2)
    assert len({c.key for c in cases}) == len(cases) == 80
    assert {_label(c) for c in cases} == {
        "small_cnn@28", "resnet18@32", "efficientnet_lite0@64", "efficientnet_lite0@96",
    }  # fmt: skip
    assert {c.hparams.steps for c in cases} == {150}
    n = {(_label(c), c.task.classes * c.task.per_class) for c in cases}
    assert max(k for _, k in n) == 750 and min(k for _, k in n) == 50
    assert all(k == 50 for lab, k in n if lab.startswith("efficientnet"))  # Lite0 at small N
    assert {c.hparams.optimizer.value for c in cases} == {"gd", "sgd"}
    assert {c.hparams.momentum for c in cases} == {0.0, 0.9}
    fracs = {c.lr_fraction for c in cases}
    assert min(fracs) == 0.1 and max(fracs) == 0.6  # type: ignore[type-var]
    assert {c.ntk_method for c in cases} == {"auto"}
    assert {c.task.class_subset for c in cases} == {(5, 6, 7, 8, 9)}
    # the old grids are unchanged (their keys index existing result files)
    assert len(benchmark_grid(preset=GridPreset.DEFAULT)) == 64
    assert {c.ntk_method for c in benchmark_grid(preset=GridPreset.DEFAULT)} == {"kronecker"}


def test_split_is_deterministic_and_balanced():
    cases = benchmark_grid(preset=GridPreset.V2)
    splits = [case_split(c.key) for c in cases]
    assert splits == [case_split(c.key) for c in benchmark_grid(preset=GridPreset.V2)]
    assert set(splits) == {Split.TUNE, Split.HELDOUT}
    counts = Counter(splits)
    assert 0.35 <= counts[Split.HELDOUT] / len(cases) <= 0.65  # 36 of 80
    per_backbone = Counter((_label(c), s) for c, s in zip(cases, splits, strict=True))
    for label in {_label(c) for c in cases}:  # every backbone is reported on held-out cases
        assert per_backbone[(label, Split.HELDOUT)] >= 4 and per_backbone[(label, Split.TUNE)] >= 4
    # over many keys the hash splits evenly (binomial: 1000 keys, ±4σ ≈ ±63)
    many = Counter(case_split(f"{i:016x}") for i in range(1000))
    assert abs(many[Split.TUNE] - 500) < 63


def _key(split: Split, prefix: str) -> str:
    return next(k for i in itertools.count() if case_split(k := f"{prefix}{i}") is split)


def _rec(key, backbone, opt, steps, pred, real, **extra):
    model, size = backbone.split("@")
    return {
        "key": key,
        "status": "ok",
        "case": {
            "task": {"model": model, "image_size": int(size), "data": "d", "class_subset": None},
            "hparams": {"optimizer": opt, "steps": steps},
            "lr_regime": "low",
        },
        "predicted": pred,
        "real": real,
        "cost_ratio": 1.0,
        **extra,
    }


def _band(med, q05=None, q95=None):
    return {"median": med, "q05": med if q05 is None else q05, "q95": med if q95 is None else q95}


def _records():
    h = Split.HELDOUT
    return [
        # a@8 GD, T = 100: rel 1/10 = 0.1, 1/5 = 0.2; |Δ|/T 0.01, 0.01; plateaued (recorded)
        _rec(
            _key(h, "a"),
            "a@8",
            "gd",
            100,
            {"0.1": _band(11), "0.4": _band(4)},
            {"0.1": 10, "0.4": 5},
            real_plateaued=True,
        ),
        # a@8 SGD, T = 100: rel 5/25 = 0.2, 3/10 = 0.3; |Δ|/T 0.05, 0.03; band: 25 ∈ [20, 40]
        # yes, 10 ∈ [11, 14] no; a linear real curve: not plateaued (from the curve)
        _rec(
            _key(h, "b"),
            "a@8",
            "sgd",
            100,
            {"0.1": _band(30, 20, 40), "0.4": _band(13, 11, 14)},
            {"0.1": 25, "0.4": 10},
            curves={"real_loss": list(np.linspace(1.0, 0.0, 15))},
        ),
        # b@16 GD, T = 50: rel 0, 1/6; |Δ|/T 0, 0.02; not plateaued
        _rec(
            _key(h, "c"),
            "b@16",
            "gd",
            50,
            {"0.1": _band(20), "0.4": _band(5)},
            {"0.1": 20, "0.4": 6},
            real_plateaued=False,
        ),
        {"key": _key(h, "d"), "status": "failed", "error": "StabilityError: x", "case": {}},
        # tune half: a huge error that the held-out report must not see
        _rec(
            _key(Split.TUNE, "e"),
            "a@8",
            "gd",
            100,
            {"0.1": _band(90), "0.4": _band(90)},
            {"0.1": 10, "0.4": 5},
            real_plateaued=False,
        ),
    ]


def test_per_backbone_summary_matches_hand_computed_values():
    s = summarize(_records())  # default: the held-out split
    assert s.split is Split.HELDOUT and (s.n_cases, s.n_failed) == (3, 1)
    rows = {(r.backbone, r.eps): r for r in s.by_backbone}
    assert set(rows) == {("a@8", None), ("a@8", 0.1), ("a@8", 0.4), ("b@16", None),
                         ("b@16", 0.1), ("b@16", 0.4)}  # fmt: skip
    a = rows[("a@8", None)]  # rel [0.1, 0.2 | 0.2, 0.3], |Δ|/T [0.01, 0.01, 0.05, 0.03]
    assert (a.n_gd, a.n_sgd, a.cases) == (2, 2, 2)
    assert a.gd_within_13 == pytest.approx(0.5) and a.sgd_within_20 == pytest.approx(0.5)
    assert a.median_rel == pytest.approx(0.2)
    assert a.p95_rel == pytest.approx(0.2 + 0.85 * 0.1)  # numpy linear quantile at 2.85
    assert a.median_rel_T == pytest.approx(0.02)
    assert a.band_coverage == pytest.approx(0.5)
    assert (a.plateaued, a.plateau_known) == (1, 2)
    a1, a4 = rows[("a@8", 0.1)], rows[("a@8", 0.4)]
    assert (a1.gd_within_13, a1.sgd_within_20, a1.band_coverage) == (1.0, 1.0, 1.0)
    assert (a4.gd_within_13, a4.sgd_within_20, a4.band_coverage) == (0.0, 0.0, 0.0)
    assert a1.median_rel == pytest.approx(0.15) and a4.median_rel_T == pytest.approx(0.02)
    b = rows[("b@16", None)]
    assert (b.n_gd, b.n_sgd, b.sgd_within_20, b.band_coverage) == (2, 0, None, None)
    assert b.gd_within_13 == pytest.approx(0.5)
    assert b.median_rel == pytest.approx(1 / 12) and b.median_rel_T == pytest.approx(0.01)
    assert (b.plateaued, b.plateau_known) == (0, 1)
    tune = summarize(_records(), split=Split.TUNE)
    assert tune.n_cases == 1 and tune.by_backbone[0].median_rel == pytest.approx((8 + 17) / 2)
    assert summarize(_records(), split=Split.ALL).n_cases == 4
    doc = s.to_dict()
    assert doc["split"] == "heldout" and len(doc["by_backbone"]) == 6


def test_plateau_rule():
    flat = [1.0, 0.5] + [0.2] * 12
    assert plateaued(flat)
    assert not plateaued(np.linspace(1.0, 0.0, 15))
    assert not plateaued([1.0] * 15)  # never went down
    # L_{T-10} − L_T = 0.005 ≤ 0.01·(1 − 0.2) = 0.008
    assert plateaued([1.0] * 3 + [0.205] + [0.2045] * 9 + [0.2])


def test_cost_estimate_and_dry_run(capsys):
    case = next(c for c in benchmark_grid(preset=GridPreset.V2) if _label(c) == "small_cnn@28")
    n = case.task.classes * case.task.per_class
    cost = StepCost(points=((10, 0.05), (50, 0.25)), compile_s=5.0)  # 5 ms per example
    est = estimate_case(case, {"small_cnn@28": cost})
    b = case.hparams.resolved_batch_size(n)
    assert est.real_s == pytest.approx(5.0 + 150 * (0.005 * b + 0.005 * n / 3))
    assert est.predict_s == pytest.approx(5.0 + 2 * 0.005 * n)
    assert estimate_case(case, {}).real_s is None
    rc = main(["benchmark", "--grid", "v2", "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "80 cases" in out and "efficientnet_lite0@96" in out


def test_cli_summary_of_a_split_writes_the_per_backbone_json(tmp_path, capsys):
    import json

    path, out = tmp_path / "b.jsonl", tmp_path / "s.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in _records()))
    rc = main(["benchmark", "--summary", "--out", str(path), "--summary-json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "Per backbone and ε (split heldout)" in text and "b@16" in text
    doc = json.loads(out.read_text())
    assert doc["split"] == "heldout" and doc["n_cases"] == 3
    assert {r["backbone"] for r in doc["by_backbone"]} == {"a@8", "b@16"}
    rc = main(["benchmark", "--summary", "--split", "all", "--out", str(path),
               "--summary-json", str(out)])  # fmt: skip
    assert rc == 0 and json.loads(out.read_text())["n_cases"] == 4


def test_select_cases_by_split_and_cost_cap(capsys):
    from ttjax.benchmark._cost import STEP_COST
    from ttjax.benchmark._select import select_cases

    grid = benchmark_grid(preset=GridPreset.V2)
    held = select_cases(grid, split=Split.HELDOUT)
    assert held == [c for c in grid if case_split(c.key) is Split.HELDOUT]  # grid order kept
    cap = 8 * 60.0
    cheap = select_cases(grid, split=Split.HELDOUT, max_case_s=cap)

    def cost(c):
        e = estimate_case(c, STEP_COST)
        return e.real_s + e.predict_s

    assert cheap and set(cheap) < set(held)
    assert all(cost(c) <= cap for c in cheap)  # the cap holds ...
    assert all(cost(c) > cap for c in set(held) - set(cheap))  # ... and drops only those
    costs = [cost(c) for c in cheap]
    assert costs == sorted(costs)  # cheapest first
    rc = main(["benchmark", "--grid", "v2", "--run-split", "heldout",
               "--max-case-minutes", "8", "--dry-run"])  # fmt: skip
    assert rc == 0 and f"{len(cheap)} cases" in capsys.readouterr().out
    assert main(["benchmark", "--grid", "v2", "--max-case-minutes", "0", "--dry-run"]) == 2
    lite = select_cases(grid, split=Split.HELDOUT, backbones=["efficientnet_lite0@64"])
    assert lite and {_label(c) for c in lite} == {"efficientnet_lite0@64"}
    assert lite == [c for c in held if _label(c) == "efficientnet_lite0@64"]
    capsys.readouterr()
    assert main(["benchmark", "--grid", "v2", "--backbone", "foo@1", "--dry-run"]) == 2
    assert "--backbone foo@1 is not in this grid" in capsys.readouterr().err


def test_not_converged_runs_are_counted_not_scored_and_linear_cases_reported_alone():
    from ttjax.benchmark._backbone_summary import backbone_rows

    h = Split.HELDOUT
    lin, eos = {"regime": "linear"}, {"regime": "edge_of_stability"}
    recs = [
        # linear, converged: rel 1/10 = 0.1 (within 13%)
        _rec(
            _key(h, "p"),
            "a@8",
            "gd",
            100,
            {"0.1": _band(11)},
            {"0.1": 10},
            real_status="converged",
            linearity=lin,
        ),
        # flagged, converged: rel 10/10 = 1.0
        _rec(
            _key(h, "q"),
            "a@8",
            "gd",
            100,
            {"0.1": _band(20)},
            {"0.1": 10},
            real_status="converged",
            linearity=eos,
        ),
        # diverged real runs: Tε meaningless, one flagged and one not
        _rec(
            _key(h, "r"),
            "a@8",
            "gd",
            100,
            {"0.1": _band(50)},
            {"0.1": 0},
            real_status="diverged",
            linearity=eos,
        ),
        _rec(
            _key(h, "s"),
            "a@8",
            "gd",
            100,
            {"0.1": _band(50)},
            {"0.1": 0},
            real_status="not_decreasing",
            linearity=lin,
        ),
    ]
    recs[1]["curves"] = {"real_loss": [1.0, 1.5, 0.2]}  # rose above L_0: a spike (flagged)
    recs[0]["curves"] = {"real_loss": [1.0, 0.5, 0.2]}
    pooled = backbone_rows(recs)[0]
    assert (pooled.cases, pooled.n_gd, pooled.gd_within_13) == (2, 2, 0.5)
    assert (pooled.spiked, pooled.spiked_flagged) == (1, 1)
    assert pooled.median_rel == pytest.approx(0.55)  # median of 0.1 and 1.0
    assert (pooled.flagged, pooled.not_converged, pooled.not_converged_flagged) == (1, 2, 1)
    linear = backbone_rows(recs, regime="linear")[0]
    assert (linear.cases, linear.gd_within_13, linear.median_rel) == (1, 1.0, pytest.approx(0.1))
    assert (linear.flagged, linear.not_converged, linear.not_converged_flagged) == (0, 1, 0)
    only_diverged = backbone_rows(recs[2:3])[0]  # a backbone with no scorable case still shows
    assert (only_diverged.cases, only_diverged.not_converged, only_diverged.n_gd) == (0, 1, 0)
    summary = summarize(recs, split=h)
    assert summary.by_backbone_linear[0].cases == 1
    assert summary.to_dict()["by_backbone_linear"][0]["not_converged"] == 1


def test_summary_of_a_drift_variant_and_reuse_real_flag(tmp_path, capsys):
    import json

    h = Split.HELDOUT
    variants = {"gradient": {"0.1": _band(11)}, "observed": {"0.1": _band(50)}}
    rec = _rec(_key(h, "v"), "a@8", "gd", 100, {"0.1": _band(50)}, {"0.1": 10},
               predicted_variants=variants)  # fmt: skip
    old = _rec(_key(h, "w"), "a@8", "gd", 100, {"0.1": _band(11)}, {"0.1": 10})  # no variants
    path, out = tmp_path / "b.jsonl", tmp_path / "s.json"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(old) + "\n")
    assert main(["benchmark", "--summary", "--out", str(path), "--variant", "gradient",
                 "--summary-json", str(out)]) == 0  # fmt: skip
    doc = json.loads(out.read_text())
    assert doc["n_cases"] == 1 and doc["by_backbone"][0]["gd_within_13"] == 1.0  # 11 vs 10
    assert main(["benchmark", "--summary", "--out", str(path), "--summary-json", str(out)]) == 0
    assert json.loads(out.read_text())["by_backbone"][0]["gd_within_13"] == 0.5  # 50 and 11
    capsys.readouterr()
    rc = main(["benchmark", "--grid", "tiny", "--out", str(tmp_path / "c.jsonl"),
               "--reuse-real", str(tmp_path / "missing.jsonl")])  # fmt: skip
    assert rc == 2 and "--reuse-real" in capsys.readouterr().err
    (tmp_path / "junk.jsonl").write_text('{"key": "x", "status": "failed"}\n')  # no ok record
    rc = main(["benchmark", "--grid", "tiny", "--out", str(tmp_path / "d.jsonl"),
               "--reuse-real", str(tmp_path / "junk.jsonl")])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "no finished (ok) benchmark record" in err and "Traceback" not in err
    assert not (tmp_path / "d.jsonl").exists()
