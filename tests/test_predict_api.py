"""`predict_training_time` / `predict_from_ntk`: fields, Tε distribution, wall-clock, reuse."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax.data import load_task
from ttjax.dynamics import Problem, compile_count
from ttjax.models import create_model
from ttjax.predict import (
    Criterion,
    Prediction,
    predict_from_ntk,
    predict_grid,
    predict_training_time,
)
from ttjax.training_time import epsilon_training_time

EPS = (0.01, 0.1, 0.4)


def test_predict_training_time_on_the_tiny_model():
    task = load_task("sample", classes=3, per_class=5, image_size=16, seed=0)
    model = create_model("tiny", num_classes=3, image_size=16, weights=None, key=jax.random.key(0))
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.05, batch_size=5, steps=25)
    pred = predict_training_time(
        model, task, hp, eps=EPS, paths=32, key=jax.random.key(1), progress=False
    )
    assert isinstance(pred, Prediction)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pred.step_time_s = 1.0  # type: ignore[misc]
    tr = pred.trajectories
    assert tr.loss.shape == (32, 26)
    for e in EPS:
        s = pred.training_time[e]
        samples = epsilon_training_time(tr.loss, e)  # the one Tε definition, per path
        assert s.median == np.median(samples) and s.mean == pytest.approx(samples.mean())
        assert s.q05 <= s.median <= s.q95
        assert pred.training_time_other[e].median == np.median(epsilon_training_time(tr.error, e))
        assert pred.wall_clock_s is not None and pred.step_time_s is not None
        assert pred.wall_clock_s[e] == pytest.approx(s.median * pred.step_time_s)
    np.testing.assert_allclose(pred.curves["loss"], np.median(tr.loss, axis=0))
    assert np.all(pred.curves["loss_q05"] <= pred.curves["loss_q95"])
    assert {"ntk", "step_time", "solve", "total"} <= set(pred.timing_s)
    doc = pred.to_json_dict(["0.01", "0.1", "0.4"])
    assert list(doc["training_time"]) == ["0.01", "0.1", "0.4"]
    assert doc["config"]["hparams"]["batch_size"] == 5


def _synthetic_ntk(n=20, c=3, d=30, seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    phi = np.asarray(jax.random.normal(k1, (n, d))) / np.sqrt(d)
    theta = np.kron(phi @ phi.T, np.eye(c))
    f0 = 0.1 * np.asarray(jax.random.normal(k2, (n, c)))
    return jnp.asarray(theta), jnp.asarray(f0), jnp.asarray(phi), jnp.arange(n) % c


def test_error_criterion_and_problem_reuse():
    theta, f0, phi, labels = _synthetic_ntk()
    prob = Problem(theta, f0, labels, loss=Loss.CE, features=phi)
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=2.0, batch_size=4, steps=30)
    a = predict_from_ntk(None, labels, hp, problem=prob, paths=64, key=jax.random.key(0),
                         criterion=Criterion.ERROR)  # fmt: skip
    before = compile_count()
    b = predict_from_ntk(None, labels, dataclasses.replace(hp, lr=3.0), problem=prob, paths=64,
                         key=jax.random.key(0), criterion=Criterion.ERROR)  # fmt: skip
    assert compile_count() == before  # same Θ, new lr: no recompilation
    assert a.training_time[0.1].median == np.median(
        epsilon_training_time(a.trajectories.error, 0.1)
    )
    assert a.wall_clock_estimate_s is None  # no step time given
    assert b.curves["loss"][-1] < a.curves["loss"][-1]  # a larger stable lr goes further


def test_grid_matches_single_predictions():
    theta, f0, phi, labels = _synthetic_ntk(seed=1)
    prob = Problem(theta, f0, labels, loss=Loss.CE, features=phi)
    pts = predict_grid(prob, lrs=[1.0, 2.0], momenta=[0.0, 0.5], batch_sizes=[20], steps=30,
                       key=jax.random.key(0))  # fmt: skip
    assert [(p.lr, p.momentum) for p in pts] == [(1.0, 0.0), (1.0, 0.5), (2.0, 0.0), (2.0, 0.5)]
    for p in pts:  # full batch = GD: compare with the single deterministic prediction
        hp = Hyperparams(lr=p.lr, momentum=p.momentum, steps=30)
        single = predict_from_ntk(None, labels, hp, problem=prob, key=jax.random.key(0))
        for e in EPS:
            assert p.training_time[e].median == single.training_time[e].median
    # ELR: (1, 0.5) and (2, 0) are the same model
    assert pts[1].training_time[0.1] == pts[2].training_time[0.1]
