"""The SGD noise floor (:mod:`ttjax.benchmark._noise_floor`).

Oracles: a hand-computed leave-one-out median; independent batch draws give different Tε;
full-batch GD (deterministic) is refused; every noise model is scored on the same real runs.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from ttjax._config import Optimizer
from ttjax._errors import ConfigError
from ttjax.benchmark import (
    GridPreset,
    benchmark_grid,
    evaluate_noise_floor,
    noise_floor,
    noise_floor_rows,
    noise_model_rows,
    noise_model_variants,
)


def test_noise_floor_oracle_is_the_leave_one_out_median():
    t = np.array([[10.0, 100.0], [12.0, 100.0], [30.0, 100.0]])
    out = noise_floor(t, predicted=[12.0, 90.0])
    # run 0: median(12, 30) = 21 → 1.1; run 1: median(10, 30) = 20 → 0.667; run 2: 11 → 0.633
    np.testing.assert_allclose(out["oracle_rel"][:, 0], [1.1, 8 / 12, 19 / 30])
    np.testing.assert_allclose(out["oracle_rel"][:, 1], 0.0)
    assert out["oracle_within"] == 0.5 and out["predicted_within"] == 5 / 6
    with pytest.raises(ConfigError, match="≥ 2 runs"):
        noise_floor([[1.0, 2.0]])
    with pytest.raises(ConfigError, match="one Tε per ε"):
        noise_floor(t, predicted=[1.0])


def test_evaluate_noise_floor_runs_independent_sgd_draws_and_refuses_gd():
    grid = benchmark_grid(preset=GridPreset.TINY)
    sgd = next(c for c in grid if c.hparams.optimizer is Optimizer.SGD)
    rec = evaluate_noise_floor(sgd, jax.random.key(0), seeds=3)
    assert len(rec["seed_status"]) == 3
    times = np.asarray(list(rec["seed_times"].values()))
    converged = rec["seed_status"].count("converged")
    assert times.shape == (len(sgd.eps), converged) and converged >= 2
    assert len({tuple(col) for col in times.T}) > 1  # the draws differ
    row = noise_floor_rows([{"key": sgd.key, "status": "ok", "case": sgd.to_dict(), **rec}])[0]
    assert row["pairs"] == times.size and 0.0 <= row["oracle_within"] <= 1.0
    gd = next(c for c in grid if c.hparams.optimizer is Optimizer.GD)
    with pytest.raises(ConfigError, match="deterministic"):
        evaluate_noise_floor(gd, jax.random.key(0), seeds=3)


def test_noise_models_are_scored_on_the_same_real_runs():
    grid = benchmark_grid(preset=GridPreset.TINY)
    sgd = next(c for c in grid if c.hparams.optimizer is Optimizer.SGD)
    rec = {"key": sgd.key, "status": "ok", "case": sgd.to_dict(),
           **evaluate_noise_floor(sgd, jax.random.key(0), seeds=3)}  # fmt: skip
    models = ["diagonal", "minibatch"]
    rec["noise_models"] = noise_model_variants(rec, models, key=jax.random.key(0), paths=16)
    for m in models:
        for e, st in rec["noise_models"][m].items():
            assert st["q05"] <= st["median"] <= st["q95"], (m, e)
    rows = noise_model_rows([rec])
    assert [r["noise_model"] for r in rows] == models
    runs = sum(len(v) for v in rec["seed_times"].values())
    assert all(r["pairs"] == runs and 0.0 <= r["band_coverage"] <= 1.0 for r in rows)
