"""A learning-rate schedule in ``Hyperparams``: the real run and the dynamics honour the same one.

Oracles: the rate optax applied at each real update equals ``η · Schedule.factor(t)``; the real
run of a linear model (its own linearisation) equals a float64 hand-written heavy ball with that
rate and the discrete map on its exact Θ; a schedule given on ``Hyperparams`` predicts exactly
what the older ``DynamicsConfig(schedule=...)`` does.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._config import Hyperparams, Loss
from ttjax._errors import ConfigError
from ttjax.data import Task
from ttjax.dynamics import DynamicsConfig, MomentumMode, Problem, Schedule, ScheduleKind, simulate
from ttjax.predict import predict_from_ntk
from ttjax.train import finetune

T = 12
SCHEDULES = [
    Schedule(kind=ScheduleKind.STEP, milestones=(3, 7), gamma=0.5),
    Schedule(kind=ScheduleKind.COSINE, final_fraction=0.1),
]


@dataclasses.dataclass(frozen=True)
class LinearModel:
    """f(x) = flatten(x) W + b: Θ = (X Xᵀ + 1) ⊗ I_C exactly, at every w."""

    params: Any
    image_size: int
    num_classes: int

    @staticmethod
    def apply_fn(params: Any, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1) @ params["w"] + params["b"]

    @staticmethod
    def preprocess(images: Any) -> jax.Array:
        return jnp.asarray(images, jnp.float32) / 255.0


def _setup(n_per: int = 6, c: int = 3, s: int = 3) -> tuple[LinearModel, Task, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_per * c, s, s, 3), dtype=np.uint8)
    task = Task(images=images, labels=np.repeat(np.arange(c, dtype=np.int32), n_per),
                class_ids=np.arange(c))  # fmt: skip
    params = {"w": jnp.asarray(rng.normal(0, 0.1, (s * s * 3, c)), jnp.float32),
              "b": jnp.zeros((c,), jnp.float32)}  # fmt: skip
    x = np.asarray(images, np.float64).reshape(n_per * c, -1) / 255.0
    return LinearModel(params=params, image_size=s, num_classes=c), task, x


def _oracle(model: LinearModel, task: Task, x: np.ndarray, hp: Hyperparams, rates) -> np.ndarray:
    """float64 heavy-ball GD on the MSE loss of the linear model with rate η_t, by hand."""
    e = np.eye(model.num_classes)[task.labels]
    w, b = (np.asarray(model.params[k], np.float64) for k in ("w", "b"))
    aw, ab = np.zeros_like(w), np.zeros_like(b)
    curve = [float(np.mean(0.5 * np.sum((x @ w + b - e) ** 2, axis=1)))]
    for rate in rates:
        r = (x @ w + b - e) / len(x)
        aw, ab = hp.momentum * aw + x.T @ r, hp.momentum * ab + r.sum(0)
        w, b = w - rate * aw, b - rate * ab
        curve.append(float(np.mean(0.5 * np.sum((x @ w + b - e) ** 2, axis=1))))
    return np.asarray(curve)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.kind.value)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_finetune_applies_the_schedule_of_hparams(schedule: Schedule, momentum: float) -> None:
    model, task, x = _setup()
    hp = Hyperparams(lr=0.2, momentum=momentum, steps=T, loss=Loss.MSE, schedule=schedule)
    r = finetune(model, task, hp, key=jax.random.key(0), progress=False)
    want = 0.2 * np.asarray(schedule.factor(jnp.arange(T, dtype=jnp.float64), total_steps=T))
    assert r.learning_rate is not None
    # optax evaluates the schedule in float32: 1 ulp of float32
    np.testing.assert_allclose(r.learning_rate, want, rtol=2e-7)
    assert len(set(np.round(want, 9))) > 1  # the rate does change over the run
    # float32 forward/backward on O(1) values: ~1e-6 relative error per step, 12 steps
    np.testing.assert_allclose(r.loss, _oracle(model, task, x, hp, want), rtol=2e-5)
    # the linear model is its own linearisation: the discrete map on its exact Θ is the real run
    c = model.num_classes
    theta = np.kron(x @ x.T + 1.0, np.eye(c))
    f0 = np.asarray(model.apply_fn(model.params, model.preprocess(task.images)), np.float64)
    p = Problem(jnp.asarray(theta), jnp.asarray(f0), jnp.asarray(task.labels), loss=Loss.MSE)
    pred = simulate(p, hp, config=DynamicsConfig(momentum=MomentumMode.EXACT))
    np.testing.assert_allclose(pred.loss[0], r.loss, rtol=2e-5)  # float32 real run, as above


def test_constant_schedule_records_the_constant_rate() -> None:
    model, task, _ = _setup()
    r = finetune(model, task, Hyperparams(lr=0.1, steps=3, loss=Loss.MSE),
                 key=jax.random.key(0), progress=False)  # fmt: skip
    assert r.learning_rate is not None and r.learning_rate.tolist() == [0.1, 0.1, 0.1]
    assert "schedule" not in Hyperparams().to_dict()  # constant-lr documents are unchanged


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s.kind.value)
def test_prediction_with_hparams_schedule_equals_the_dynamics_config_one(
    schedule: Schedule,
) -> None:
    rng = np.random.default_rng(1)
    phi = rng.normal(size=(10, 6))
    ntk = types.SimpleNamespace(
        theta=np.kron(phi @ phi.T, np.eye(2)), f0=np.zeros((10, 2)), features=None
    )
    labels = np.arange(10) % 2
    hp = Hyperparams(lr=0.5, steps=30)
    new = predict_from_ntk(ntk, labels, dataclasses.replace(hp, schedule=schedule),
                           key=jax.random.key(0))  # fmt: skip
    old = predict_from_ntk(ntk, labels, hp, dynamics=DynamicsConfig(schedule=schedule),
                           key=jax.random.key(0))  # fmt: skip
    plain = predict_from_ntk(ntk, labels, hp, key=jax.random.key(0))
    np.testing.assert_array_equal(new.curves["loss"], old.curves["loss"])  # same solve
    assert new.training_time == old.training_time
    assert not np.array_equal(new.curves["loss"], plain.curves["loss"])
    assert new.config["hparams"]["schedule"] == schedule.to_dict()
    with pytest.raises(ConfigError, match="two learning-rate schedules"):
        predict_from_ntk(
            ntk,
            labels,
            dataclasses.replace(hp, schedule=SCHEDULES[0]),
            dynamics=DynamicsConfig(schedule=SCHEDULES[1]),
            key=jax.random.key(0),
        )


def test_lr_schedule_flag_parses_to_the_schedule() -> None:
    from ttjax.cli._task_flags import parse_schedule

    assert parse_schedule("constant") == Schedule()
    assert parse_schedule("step:3,7:0.5") == SCHEDULES[0]
    assert parse_schedule("step:3,7") == Schedule(kind=ScheduleKind.STEP, milestones=(3, 7))
    assert parse_schedule("cosine:0.1") == SCHEDULES[1]
    for bad in ("bogus", "step", "step:a", "cosine:x", "constant:1"):
        with pytest.raises(ConfigError, match="--lr-schedule"):
            parse_schedule(bad)
