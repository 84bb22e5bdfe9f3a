"""The calibrated band: split-conformal coverage by simulation, the shipped factors re-fitted
from the tuning records, the band's algebra, and its use by predict, the benchmark and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import types
from fractions import Fraction
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax import BAND_CALIBRATION, BandCalibration
from ttjax._band import calibrate, calibrated_stats, conformal_factors, log_ratio, stretched
from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax.benchmark import (
    Split,
    band_coverage,
    band_pairs,
    calibrate_band,
    case_split,
    latest_records,
    loco_band_coverage,
    read_records,
    with_band,
)
from ttjax.cli import main
from ttjax.dynamics import DriftModel, DynamicsConfig, Problem, max_stable_lr
from ttjax.predict import Criterion, predict_from_ntk
from ttjax.train import Observation
from ttjax.training_time import TrainingTimeStats

ROOT = Path(__file__).resolve().parents[1]
TUNE_RECORDS = ROOT / "results" / "bench_v2_tune_cheap.jsonl"


@pytest.mark.parametrize(("n", "coverage"), [(35, 0.9), (19, 0.9), (9, 0.8), (60, 0.5)])
def test_conformal_interval_covers_a_new_draw_at_its_exact_rate(n: int, coverage: float) -> None:
    """For exchangeable draws, P(r_{n+1} ∈ [r_(k_lo), r_(k_hi)]) = (k_hi − k_lo)/(n + 1)
    exactly (continuous distributions); checked by simulation on a skewed distribution."""
    rng = np.random.default_rng(0)
    trials = 4000
    draws = rng.standard_gamma(2.0, size=(trials, n + 1)) - 1.5
    hits = 0
    for row in draws:
        lo, hi = conformal_factors(row[:n], coverage)
        hits += math.log(lo) <= row[n] <= math.log(hi)
    alpha = (1 - Fraction(str(coverage))) / 2  # exact arithmetic: the oracle's order statistics
    exact = (math.ceil((n + 1) * (1 - alpha)) - math.floor((n + 1) * alpha)) / (n + 1)
    assert exact >= coverage
    assert abs(hits / trials - exact) < 4 * math.sqrt(exact * (1 - exact) / trials)


def test_order_statistics_survive_floating_point_rounding() -> None:
    # (1 − 0.9)/2 is 0.04999… in floating point; with n = 19, (n + 1)α = 1 exactly: the smallest.
    r = np.log(np.arange(1.0, 20.0))
    lo, hi = conformal_factors(r, 0.9)
    assert lo == pytest.approx(1.0) and hi == pytest.approx(19.0)


def test_too_few_pairs_give_an_open_band() -> None:
    lo, hi = conformal_factors([0.1, 0.2, 0.3], 0.9)
    assert lo == 0.0 and math.isinf(hi)
    cal = BandCalibration(linear=(lo, hi), other=(0.5, 2.0), pairs=(3, 3), cases=(1, 1))
    doc = json.dumps(cal.to_dict(), allow_nan=False)  # no Infinity in the JSON: null
    assert json.loads(doc)["linear"] == [None, None]
    tt = {0.1: TrainingTimeStats(median=5.0, mean=5.0, q05=5.0, q95=5.0)}
    out_tt, _, info = calibrate(tt, {}, regime="linear", steps=10, calibration=cal)
    assert (out_tt[0.1].q05, out_tt[0.1].q95) == (0.0, 10.0) and info["factors"] == [None, None]
    with pytest.raises(ValueError, match="coverage"):
        conformal_factors([0.1], 1.0)


def test_shipped_calibration_is_the_fit_on_the_tuning_records() -> None:
    """BAND_CALIBRATION is what ``calibrate_band`` gives on the committed tuning records —
    and those records are all on the tuning side of the split."""
    records = read_records(TUNE_RECORDS)
    assert records and all(case_split(r["key"]) is Split.TUNE for r in records)
    fit = calibrate_band(records, source=BAND_CALIBRATION.source)
    assert fit.pairs == BAND_CALIBRATION.pairs and fit.cases == BAND_CALIBRATION.cases
    np.testing.assert_allclose(fit.linear, BAND_CALIBRATION.linear, rtol=1e-12)
    np.testing.assert_allclose(fit.other, BAND_CALIBRATION.other, rtol=1e-12)
    # Recomputed by hand from the pairs: the smallest and the 35th of the 35 linear log-ratios.
    r = sorted(log_ratio(real, pred) for _, g, pred, real in band_pairs(records) if g == "linear")
    k_lo, k_hi = math.floor(36 * 0.05), math.ceil(36 * 0.95)
    assert math.isclose(BAND_CALIBRATION.linear[0], math.exp(r[k_lo - 1]), rel_tol=1e-12)
    assert math.isclose(BAND_CALIBRATION.linear[1], math.exp(r[k_hi - 1]), rel_tol=1e-12)


def test_calibrated_stats_keep_the_median_and_the_model_band_and_stay_within_T() -> None:
    s = TrainingTimeStats(median=40.0, mean=41.0, q05=10.0, q95=45.0)
    out = calibrated_stats(s, factors=(0.5, 2.0), steps=60)
    assert (out.median, out.mean, out.q05, out.q95) == (40.0, 41.0, 10.0, 60.0)
    out = calibrated_stats(s, factors=(0.9, 1.1), steps=60)  # narrower: the model band stays
    assert (out.q05, out.q95) == (10.0, 45.0)
    zero = TrainingTimeStats(median=0.0, mean=0.0, q05=0.0, q95=0.0)  # Tε = 0 counts as 1 step
    assert calibrated_stats(zero, factors=(0.5, 3.0), steps=60).q95 == 3.0
    assert calibrated_stats(s, factors=(0.0, math.inf), steps=60).q95 == 60.0


def test_stretched_curve_is_the_curve_of_a_slower_run() -> None:
    t = np.arange(11.0)
    c = np.exp(-0.3 * t)
    np.testing.assert_allclose(stretched(c, 1.0), c)
    np.testing.assert_allclose(stretched(c, 2.0)[::2][:6], c[:6])  # c(t/2) at t = 0, 2, …, 10
    np.testing.assert_allclose(stretched(c, 0.5)[:6], c[::2])
    assert np.all(stretched(c, 0.5)[6:] == c[-1])  # held at c(T) past the end
    np.testing.assert_allclose(stretched(c, math.inf), c[0])


def _problem() -> Problem:
    k = jax.random.split(jax.random.key(3), 2)
    x = jax.random.normal(k[0], (18, 9), jnp.float64)
    f0 = 0.3 * jax.random.normal(k[1], (6, 3), jnp.float64)
    return Problem(x @ x.T, f0, jnp.arange(6) % 3, loss=Loss.CE)


def _observation(kappa: list[float]) -> Observation:
    return Observation(
        loss=np.array([1.0, 0.9]),
        kernel_scale=np.array(kappa),
        module_scale={"params": kappa[-1]},
        module_share={"params": 1.0},
        step_time_s=0.1,
        compile_s=0.0,
        probe_s=0.0,
    )


@pytest.mark.parametrize(("kappa", "group"), [([1.0, 0.99], "linear"), ([0.6, 0.5], "other")])
def test_predict_applies_the_calibration_of_its_regime(kappa: list[float], group: str) -> None:
    p = _problem()
    hp = Hyperparams(lr=0.3 * max_stable_lr(p, Hyperparams(lr=1.0)), steps=30)
    ntk = types.SimpleNamespace(theta=p.theta, f0=p.f0, features=None)
    common = dict(key=jax.random.key(0), observation=_observation(kappa))
    model = predict_from_ntk(ntk, np.asarray(p.labels), hp, band=None, **common)
    cal = predict_from_ntk(ntk, np.asarray(p.labels), hp, **common)
    assert model.linearity["band_calibration"] is None
    info = cal.linearity["band_calibration"]
    assert info["group"] == group and info["factors"] == list(BAND_CALIBRATION.factors(group))
    for e, s in cal.training_time.items():
        m = model.training_time[e]
        assert s.median == m.median and s == calibrated_stats(
            m, factors=BAND_CALIBRATION.factors(group), steps=30
        )
    # The loss curve's band contains the Monte-Carlo one and is wider; the error curve's and
    # band_widening (the drift's widening alone) are not touched.
    assert np.all(cal.curves["loss_q05"] <= model.curves["loss_q05"])
    assert np.all(cal.curves["loss_q95"] >= model.curves["loss_q95"])
    assert cal.curves["loss_q95"][10] > model.curves["loss_q95"][10]
    for k in ("error_q05", "error_q95"):
        np.testing.assert_array_equal(cal.curves[k], model.curves[k])
    assert cal.linearity["band_widening"] == model.linearity["band_widening"]
    assert cal.training_time_other == model.training_time_other
    # Only the calibrated drift model and observed runs are calibrated.
    fixed = DynamicsConfig(drift=DriftModel.NONE)
    assert (
        predict_from_ntk(ntk, np.asarray(p.labels), hp, dynamics=fixed, **common).linearity[
            "band_calibration"
        ]
        is None
    )
    unobserved = predict_from_ntk(ntk, np.asarray(p.labels), hp, key=jax.random.key(0))
    assert unobserved.linearity.get("band_calibration") is None
    # SGD with |B| = 1 at 0.9 of the limit is past the mini-batch edge (×2.2), unobserved: no band.
    sgd = Hyperparams(optimizer=Optimizer.SGD, lr=3 * hp.lr, batch_size=1, steps=30)
    edge = predict_from_ntk(ntk, np.asarray(p.labels), sgd, key=jax.random.key(0), paths=4)
    assert edge.linearity["regime"] == "edge_of_stability"
    assert edge.linearity.get("band_calibration") is None
    on_error = predict_from_ntk(ntk, np.asarray(p.labels), hp, criterion=Criterion.ERROR, **common)
    assert on_error.linearity["band_calibration"] is None  # fitted on the loss curve's Tε


def test_with_band_rescores_records_as_predict_would_and_is_idempotent() -> None:
    cal = BandCalibration(linear=(0.5, 2.0), other=(0.2, 5.0), pairs=(1, 1), cases=(1, 1))
    stats = {"median": 30.0, "mean": 30.0, "q05": 29.0, "q95": 31.0}
    rec = {"status": "ok", "key": "k", "linearity": {"regime": "drifting"},
           "case": {"hparams": {"steps": 100}}, "predicted": {"0.1": stats}}  # fmt: skip
    once = with_band([rec], cal)
    assert once[0]["predicted"]["0.1"] == {"median": 30.0, "mean": 30.0, "q05": 6.0, "q95": 100.0}
    assert with_band(once, cal) == once
    assert once[0]["linearity"]["band_calibration"]["factors"] == [0.2, 5.0]
    unobserved = {**rec, "linearity": {"regime": "unobserved"}}
    assert with_band([unobserved], cal)[0]["predicted"]["0.1"] == stats
    assert rec["predicted"]["0.1"] == stats  # the input is not modified


def test_calibrate_leaves_curves_without_a_band_alone() -> None:
    tt = {0.1: TrainingTimeStats(median=5.0, mean=5.0, q05=5.0, q95=5.0)}
    out_tt, out_curves, info = calibrate(
        tt, {}, regime="edge_of_stability", steps=10, calibration=BAND_CALIBRATION
    )
    assert out_curves == {} and info["group"] == "other" and out_tt[0.1].q05 < 5.0


def test_predict_cli_band_flag(tmp_path: Path) -> None:
    common = ["predict", "--model", "tiny", "--weights", "none", "--classes", "3",
              "--per-class", "5", "--image-size", "16", "--steps", "20", "--lr", "0.05",
              "--no-progress"]  # fmt: skip
    docs = {}
    for band in ("calibrated", "model"):
        out = tmp_path / f"{band}.json"
        assert main([*common, "--band", band, "--json", str(out)]) == 0
        docs[band] = json.loads(out.read_text())
    assert docs["calibrated"]["linearity"]["band_calibration"]["group"] in ("linear", "other")
    assert docs["model"]["linearity"]["band_calibration"] is None
    cal, mod = docs["calibrated"]["training_time"], docs["model"]["training_time"]
    for e in cal:  # GD: the model band is a point, the calibrated one is not
        assert cal[e]["median"] == mod[e]["median"]
        assert cal[e]["q05"] <= mod[e]["q05"] and cal[e]["q95"] >= mod[e]["q95"]
    assert any(cal[e]["q95"] - cal[e]["q05"] > mod[e]["q95"] - mod[e]["q05"] for e in cal)


def _rec(key: str, regime: str, momentum: float, predicted: float, real: int) -> dict:
    return {
        "key": key,
        "status": "ok",
        "linearity": {"regime": regime},
        "case": {
            "task": {"model": "tiny", "image_size": 8},
            "hparams": {"optimizer": "gd", "steps": 200, "momentum": momentum},
        },
        "predicted": {
            "0.1": {"median": predicted, "mean": predicted, "q05": predicted, "q95": predicted}
        },
        "real": {"0.1": real},
    }


def test_loco_band_coverage_refits_without_each_case() -> None:
    """Each case's band comes from the conformal factors of the *other* cases of its group
    (checked against conformal_factors by hand); the pooled row counts every pair once."""
    rng = np.random.default_rng(3)
    recs = [
        _rec(f"{g}{i}", g, 0.9 * (i % 2), 40.0, round(float(40 * np.exp(rng.normal(0, 0.4)))))
        for g in ("linear", "drifting")
        for i in range(9)
    ]
    inside = []
    for r in recs:
        others = [
            log_ratio(o["real"]["0.1"], 40.0)
            for o in recs
            if o["key"] != r["key"] and o["linearity"]["regime"] == r["linearity"]["regime"]
        ]
        lo, hi = conformal_factors(others, 0.6)
        band = (math.floor(lo * 40), 200 if math.isinf(hi) else min(math.ceil(hi * 40), 200))
        inside.append(band[0] <= r["real"]["0.1"] <= band[1])
    rows = {s.group: s for s in loco_band_coverage(recs, coverage=0.6) if s.backbone == "all"}
    assert rows["all"].pairs == 18
    assert rows["all"].coverage == pytest.approx(np.mean(inside))
    # In-sample scoring (the factors fitted on every case) covers at least as much.
    in_sample = band_coverage(with_band(recs, calibrate_band(recs, coverage=0.6)))[-1]
    assert in_sample.group == "all" and in_sample.coverage >= rows["all"].coverage
    with pytest.raises(ValueError, match="≥ 2 scoreable cases"):
        loco_band_coverage(recs[:1])
    with pytest.raises(ValueError, match="without case"):  # one drifting case: none left out
        loco_band_coverage([*recs[:9], recs[9]])


def test_band_coverage_splits_momentum_0_from_heavy_ball() -> None:
    recs = [
        _rec("a", "linear", 0.0, 40.0, 40),  # inside its point band
        _rec("b", "linear", 0.9, 40.0, 80),  # outside
        _rec("c", "drifting", 0.9, 40.0, 40),  # inside
    ]
    rows = {(s.backbone, s.group): s for s in band_coverage(recs)}
    assert (rows[("all", "momentum 0")].pairs, rows[("all", "momentum 0")].coverage) == (1, 1.0)
    assert (rows[("all", "heavy ball")].pairs, rows[("all", "heavy ball")].coverage) == (2, 0.5)
    assert band_coverage(recs)[-1].group == "all"  # the pooled row stays last
    assert rows[("all", "all")].pairs == 3


def test_shipped_heldout_coverage_is_measured_on_the_committed_records() -> None:
    """BAND_CALIBRATION.heldout is what band_coverage gives for the shipped factors on the
    committed held-out records, per momentum group."""
    files = [ROOT / "results" / "bench_v3_heldout_path.jsonl"]
    files += sorted((ROOT / "results" / "band_momentum").glob("heldout*/closed_loop.jsonl"))
    held = [r for f in files for r in latest_records(read_records(f))
            if case_split(r["key"]) is Split.HELDOUT]  # fmt: skip
    rows = {s.group: s for s in band_coverage(with_band(held, BAND_CALIBRATION))
            if s.backbone == "all"}  # fmt: skip
    assert {g for g, _, _ in BAND_CALIBRATION.heldout} == {"momentum 0", "heavy ball"}
    for group, coverage, pairs in BAND_CALIBRATION.heldout:
        assert rows[group].pairs == pairs
        assert rows[group].coverage == pytest.approx(coverage, abs=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_prediction_says_when_its_band_fell_short_held_out(momentum: float) -> None:
    """A heavy-ball prediction carries the band's held-out coverage of its momentum group and
    says in its warning that it fell short; a momentum-0 one (95% held out) does not."""
    p = _problem()
    hp = Hyperparams(lr=0.3 * max_stable_lr(p, Hyperparams(lr=1.0, momentum=momentum)),
                     momentum=momentum, steps=30)  # fmt: skip
    ntk = types.SimpleNamespace(theta=p.theta, f0=p.f0, features=None)
    common = dict(key=jax.random.key(0), observation=_observation([1.0, 0.99]))
    pred = predict_from_ntk(ntk, np.asarray(p.labels), hp, **common)
    assert pred.linearity["regime"] == "linear"
    held = pred.linearity["band_calibration"]["heldout_coverage"]
    group = "heavy ball" if momentum else "momentum 0"
    want = next((c, n) for g, c, n in BAND_CALIBRATION.heldout if g == group)
    assert (held["group"], held["coverage"], held["pairs"]) == (group, *want)
    warning = pred.linearity["warning"]
    if momentum:
        assert warning is not None and "Heavy ball" in warning and "68%" in warning
    else:
        assert warning is None
    # A calibration without held-out figures says nothing more.
    bare = dataclasses.replace(BAND_CALIBRATION, heldout=())
    quiet = predict_from_ntk(ntk, np.asarray(p.labels), hp, band=bare, **common)
    assert quiet.linearity["band_calibration"]["heldout_coverage"] is None
    assert quiet.linearity["warning"] is None
    json.dumps(pred.linearity)  # JSON-friendly
