"""Real fine-tuning against a float64 numpy oracle (linear model), plus the tiny CNN."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax._errors import DataError, StabilityError
from ttjax.data import Task, load_task
from ttjax.train import finetune, measure_step_time
from ttjax.training_time import epsilon_training_time


@dataclasses.dataclass(frozen=True)
class LinearModel:
    """f(x) = flatten(x) W + b: the duck-typed Model interface with a closed-form gradient."""

    params: Any
    image_size: int
    num_classes: int

    @staticmethod
    def apply_fn(params: Any, x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0], -1) @ params["w"] + params["b"]

    @staticmethod
    def preprocess(images: Any) -> jax.Array:
        return jnp.asarray(images, jnp.float32) / 255.0


def _linear_setup(n_per: int = 6, c: int = 3, s: int = 3) -> tuple[LinearModel, Task]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_per * c, s, s, 3), dtype=np.uint8)
    task = Task(images=images, labels=np.repeat(np.arange(c, dtype=np.int32), n_per),
                class_ids=np.arange(c))  # fmt: skip
    d = s * s * 3
    params = {"w": jnp.asarray(rng.normal(0, 0.1, (d, c)), jnp.float32),
              "b": jnp.zeros((c,), jnp.float32)}  # fmt: skip
    return LinearModel(params=params, image_size=s, num_classes=c), task


def _oracle(
    model: LinearModel, task: Task, hp: Hyperparams, batches: list[np.ndarray]
) -> np.ndarray:
    """float64 heavy-ball SGD on the MSE loss of the linear model, written out by hand."""
    x = np.asarray(task.images, np.float64).reshape(task.num_examples, -1) / 255.0
    e = np.eye(model.num_classes)[task.labels]
    w, b = (np.asarray(model.params[k], np.float64) for k in ("w", "b"))
    aw, ab = np.zeros_like(w), np.zeros_like(b)

    def loss(w: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(0.5 * np.sum((x @ w + b - e) ** 2, axis=1)))

    curve = [loss(w, b)]
    for idx in batches:
        r = (x[idx] @ w + b - e[idx]) / len(idx)  # ∇_f of the mean batch loss
        aw, ab = hp.momentum * aw + x[idx].T @ r, hp.momentum * ab + r.sum(0)
        w, b = w - hp.lr * aw, b - hp.lr * ab
        curve.append(loss(w, b))
    return np.asarray(curve)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_gd_matches_float64_oracle(momentum: float) -> None:
    model, task = _linear_setup()
    hp = Hyperparams(lr=0.05, momentum=momentum, steps=12, loss=Loss.MSE)
    r = finetune(model, task, hp, key=jax.random.key(0), progress=False)
    want = _oracle(model, task, hp, [np.arange(task.num_examples)] * hp.steps)
    # float32 forward/backward on O(1) values: ~1e-6 relative error per step, 12 steps
    np.testing.assert_allclose(r.loss, want, rtol=2e-5)
    assert r.loss.shape == r.error.shape == (13,) and r.loss[-1] < r.loss[0]


def test_sgd_uses_documented_batches() -> None:
    model, task = _linear_setup()
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.1, momentum=0.5, batch_size=5, steps=8,
                     loss=Loss.MSE)  # fmt: skip
    key = jax.random.key(3)
    r = finetune(model, task, hp, key=key, progress=False)
    batches = [
        np.asarray(
            jax.random.choice(jax.random.fold_in(key, t), task.num_examples, (5,), replace=False)
        )
        for t in range(hp.steps)
    ]
    assert all(len(set(b.tolist())) == 5 for b in batches)  # distinct within a step
    np.testing.assert_allclose(r.loss, _oracle(model, task, hp, batches), rtol=2e-5)


def test_sgd_with_full_batch_equals_gd() -> None:
    model, task = _linear_setup()
    n = task.num_examples
    gd = finetune(model, task, Hyperparams(lr=0.2, steps=6), key=jax.random.key(0), progress=False)
    sgd = finetune(model, task, Hyperparams(optimizer=Optimizer.SGD, lr=0.2, batch_size=n,
                   steps=6), key=jax.random.key(5), progress=False)  # fmt: skip
    np.testing.assert_allclose(sgd.loss, gd.loss, rtol=1e-5)  # only summation order differs


def test_tiny_cnn_loss_decreases_and_times_are_consistent() -> None:
    from ttjax.models import create_model

    task = load_task("sample", classes=3, per_class=8, image_size=8, seed=0)
    model = create_model("tiny", num_classes=3, image_size=8, weights=None, key=jax.random.key(0))
    r = finetune(model, task, Hyperparams(lr=0.05, momentum=0.9, steps=15),
                 key=jax.random.key(1), progress=False)  # fmt: skip
    assert r.loss[-1] < 0.95 * r.loss[0]  # measured ≈ 0.91 at these settings
    logits = model.apply_fn(model.params, model.preprocess(task.images))
    l0 = -np.mean(jax.nn.log_softmax(np.asarray(logits, np.float64))[np.arange(24), task.labels])
    np.testing.assert_allclose(r.loss[0], l0, rtol=1e-5)  # step 0 = the pretrained model
    for eps in (0.01, 0.1, 0.4):
        assert r.training_time(eps) == int(epsilon_training_time(r.loss, eps))
    assert r.step_time_s > 0 and r.train_time_s == pytest.approx(15 * r.step_time_s)
    assert measure_step_time(model, task, Hyperparams(), key=jax.random.key(0), repeats=2) > 0


def test_divergence_and_mismatch_errors() -> None:
    model, task = _linear_setup()
    with pytest.raises(StabilityError, match="lower the learning rate"):
        finetune(model, task, Hyperparams(lr=1e4, steps=60, loss=Loss.MSE),
                 key=jax.random.key(0), progress=False)  # fmt: skip
    with pytest.raises(DataError, match="num_classes=3"):
        finetune(dataclasses.replace(model, num_classes=2), task, Hyperparams(steps=1),
                 key=jax.random.key(0), progress=False)  # fmt: skip
    with pytest.raises(DataError, match="image_size=4"):
        finetune(dataclasses.replace(model, image_size=4), task, Hyperparams(steps=1),
                 key=jax.random.key(0), progress=False)  # fmt: skip
