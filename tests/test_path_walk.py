"""The walk along the predicted trajectory (``DriftModel.PATH``): oracles and plumbing.

Oracles: with segments of one step the walk *is* real full-batch gradient descent (heavy ball
included), so its losses equal :func:`ttjax.train.finetune`'s; for a network linear in its
weights every re-linearisation is exact, so κ ≡ 1, no segment is rejected and the losses are
the linear model's (float64 heavy-ball map written out).
"""

from __future__ import annotations

import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax import losses
from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax._errors import ConfigError
from ttjax.cli import main
from ttjax.data import Task
from ttjax.dynamics import DriftModel, DynamicsConfig
from ttjax.ntk import NtkConfig, NtkMethod
from ttjax.predict import predict_training_time
from ttjax.train import finetune, walk_predicted_path, walk_task_path

C, SIZE, PER = 3, 4, 4


def _task() -> Task:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (PER * C, SIZE, SIZE, 3), dtype=np.uint8)
    return Task(images=images, labels=np.repeat(np.arange(C), PER), class_ids=np.arange(C))


def _model(apply_fn, params):
    return types.SimpleNamespace(
        name="net",
        weights="none",
        params=params,
        apply_fn=apply_fn,
        preprocess=lambda im: jnp.asarray(im, jnp.float32) / 255.0,
        image_size=SIZE,
        num_classes=C,
    )


def _mlp():
    k1, k2 = jax.random.split(jax.random.key(4))
    params = {"w1": jax.random.normal(k1, (SIZE * SIZE * 3, 8)) / 7.0,
              "w2": jax.random.normal(k2, (8, C))}  # fmt: skip

    def apply_fn(p, x):
        return jnp.tanh(x.reshape(x.shape[0], -1) @ p["w1"]) @ p["w2"]

    return _model(apply_fn, params)


def _linear():
    def apply_fn(p, x):
        return x.reshape(x.shape[0], -1) @ p["dense"]

    return _model(apply_fn, {"dense": 0.01 * jax.random.normal(jax.random.key(0), (48, C))})


def _theta(model, task) -> np.ndarray:
    x = model.preprocess(task.images)
    jac = jax.jacobian(lambda p: model.apply_fn(p, x).reshape(-1))(model.params)
    flat = jnp.concatenate([j.reshape(j.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)], 1)
    return np.asarray(flat @ flat.T)


@pytest.mark.parametrize("m", [0.0, 0.9])
def test_one_step_segments_are_real_gradient_descent(m):
    model, task = _mlp(), _task()
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.5, momentum=m, steps=10)
    walk = walk_task_path(model, task, _theta(model, task), hp, first=1, longest=1, budget=100)
    real = finetune(model, task, hp, key=jax.random.key(3), progress=False)
    assert walk.reached == 10 and walk.rejected == 0 and list(walk.steps) == list(range(11))
    np.testing.assert_allclose(walk.loss, np.asarray(real.loss), rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(walk.kernel_scale - 1.0)) > 0.01  # the tanh network's kernel moves
    assert walk.passes == 1 + 2 * 10 and walk.step_equivalents == walk.passes  # GD: N/|B| = 1


@pytest.mark.parametrize("m", [0.0, 0.9])
def test_a_network_linear_in_its_weights_walks_the_linear_model_exactly(m):
    model, task = _linear(), _task()
    theta = _theta(model, task)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.3, momentum=m, steps=40, loss=Loss.CE)
    walk = walk_task_path(model, task, theta, hp)
    assert walk.reached == 40 and walk.rejected == 0
    np.testing.assert_allclose(walk.kernel_scale, 1.0, rtol=2e-4)
    assert len(walk.steps) < 10  # segments grew: few passes for the whole run
    # the linear model's heavy-ball map in float64: u ← m u − η Θ ∇_f L, f ← f + u
    x = model.preprocess(task.images)
    f = np.asarray(model.apply_fn(model.params, x), np.float64)
    u, y, want = np.zeros_like(f), jnp.asarray(task.labels), []
    th = theta.astype(np.float64)
    for _ in range(hp.steps + 1):
        want.append(float(losses.mean_loss(jnp.asarray(f), y, loss=hp.loss)))
        g = np.asarray(losses.loss_gradient(jnp.asarray(f), y, loss=hp.loss), np.float64)
        u = m * u - hp.lr * (th @ g.reshape(-1)).reshape(f.shape)
        f = f + u
    np.testing.assert_allclose(walk.loss, np.asarray(want)[walk.steps], rtol=1e-4)


def test_a_spent_budget_holds_the_last_scale_and_bad_arguments_are_named():
    model, task = _mlp(), _task()
    theta = _theta(model, task)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.5, steps=60)
    walk = walk_task_path(model, task, theta, hp, budget=5)
    assert walk.passes <= 5 and 0 < walk.reached < 60
    held = walk.kernel_scale[walk.reached :]
    assert np.all(held == held[0])
    assert set(walk.to_dict()) >= {"steps", "loss", "kernel_scale", "reached", "passes"}
    x, y = model.preprocess(task.images), jnp.asarray(task.labels)
    with pytest.raises(ConfigError, match="budget"):
        walk_predicted_path(model.apply_fn, model.params, x, y, theta, hp, budget=2)
    with pytest.raises(ConfigError, match="N·C"):
        walk_predicted_path(model.apply_fn, model.params, x, y, theta[:-1, :-1], hp)


def test_predict_follows_the_walk_only_when_asked_and_reports_its_cost():
    model, task = _mlp(), _task()
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.1, steps=30)
    common = dict(key=jax.random.key(2), progress=False, observe=3,
                  ntk_config=NtkConfig(method=NtkMethod.EXACT))  # fmt: skip
    path = predict_training_time(
        model, task, hp, dynamics=DynamicsConfig(drift=DriftModel.PATH), path_budget=9, **common
    )
    lin = path.linearity
    assert "path" in path.timing_s and lin["path_walk"]["passes"] <= 9
    assert len(lin["kernel_scale_observed"]) == 3  # the real steps' trace, as for the others
    walk_kappa = lin["path_walk"]["kernel_scale"]
    assert path.trajectories.kernel_scale[-1] == pytest.approx(
        min(max(walk_kappa[-1], 0.1), path.trajectories.scale_cap), rel=1e-6
    )
    plain = predict_training_time(model, task, hp, **common)
    assert "path_walk" not in plain.linearity and "path" not in plain.timing_s


def test_predict_cli_drift_path(tmp_path):
    out = tmp_path / "p.json"
    argv = ["predict", "--model", "tiny", "--weights", "none", "--classes", "3", "--per-class",
            "4", "--image-size", "16", "--steps", "10", "--no-progress", "--lr", "0.05",
            "--drift", "path", "--path-budget", "7", "--observe", "2",
            "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    walk = json.loads(out.read_text())["linearity"]["path_walk"]
    assert walk["passes"] <= 7 and walk["steps"][0] == 0 and len(walk["loss"]) == len(walk["steps"])
    assert walk["step_equivalents"] == walk["passes"]  # full batch
