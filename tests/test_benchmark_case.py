"""One real benchmark case end to end on the tiny model, with a learning rate set relative to
the stability edge (``lr_fraction``)."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from ttjax._convergence import classify_run
from ttjax._errors import ConfigError
from ttjax.benchmark import evaluate_case, resolved_hparams
from ttjax.benchmark._grid import GridPreset, benchmark_grid


def test_lr_fraction_resolves_below_the_edge_and_is_recorded():
    case = dataclasses.replace(benchmark_grid(preset=GridPreset.TINY)[0], lr_fraction=0.5)
    out = evaluate_case(case, jax.random.key(0))
    limit = out["max_stable_lr"]
    assert limit > 0
    assert out["hparams_resolved"]["lr"] == pytest.approx(0.5 * limit, rel=1e-12)
    record = {"case": case.to_dict(), **out}
    assert resolved_hparams(record)["lr"] == out["hparams_resolved"]["lr"]
    assert case.to_dict()["lr_fraction"] == 0.5
    assert set(out["real"]) == set(out["predicted"])  # every ε compared
    assert out["timing_s"]["predict"] >= out["ntk_time_s"]
    # every drift model scored on the same Θ and observed steps; the default is "predicted"
    assert set(out["predicted_variants"]) == {"observed", "gradient", "path", "aligned", "none"}
    assert set(out["predicted_variants"]["path"]) == set(out["real"])
    assert out["path_walk"]["reached"] >= 1  # the walk ran and its summary is recorded
    assert out["predicted_variants"]["observed"] == out["predicted"]
    fixed = out["predicted_fixed_kernel"]  # the κ = 1 band solve: the fixed kernel's median
    assert {e: v["median"] for e, v in out["predicted_variants"]["none"].items()} == {
        e: v["median"] for e, v in fixed.items()
    }
    assert len(out["gradient_scale_observed"]) == 4 and not out["real_reused"]
    # the default prediction's own status: the run rule on its (median) predicted loss curve
    assert out["predicted_status"] == classify_run(np.asarray(out["curves"]["pred_loss"])).value
    # re-scoring reuses the real run: same real curve and Tε, same prediction, no fine-tuning
    again = evaluate_case(case, jax.random.key(0), reuse_real={"case": case.to_dict(), **out})
    assert again["real_reused"] and again["curves"]["real_loss"] == out["curves"]["real_loss"]
    assert again["real"] == out["real"] and again["predicted"] == out["predicted"]
    assert again["timing_s"]["train_steps"] == out["timing_s"]["train_steps"]


def test_bad_lr_fraction_and_method_are_refused():
    base = benchmark_grid(preset=GridPreset.TINY)[0]
    with pytest.raises(ConfigError, match="lr_fraction"):
        dataclasses.replace(base, lr_fraction=1.5)
    with pytest.raises(ConfigError, match="ntk_method"):
        dataclasses.replace(base, ntk_method="magic")
