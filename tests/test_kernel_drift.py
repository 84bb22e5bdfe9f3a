"""kernel_drift: Θ(w_k) vs Θ(w₀) against dense Jacobians of independently trained weights."""

from __future__ import annotations

import dataclasses

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import ttjax
from ttjax._errors import ConfigError
from ttjax._prediction._kernel_drift import target_alignment
from ttjax._schedule import ScheduleKind
from ttjax.ntk import NtkConfig, NtkMethod


def test_kernel_drift_matches_dense_jacobians_along_plain_gradient_descent() -> None:
    model = ttjax.create_model("tiny", num_classes=3, image_size=8, weights=None,
                               key=jax.random.key(0))  # fmt: skip
    task = ttjax.load_task("digits", classes=3, per_class=3, image_size=8, seed=0)
    hp = ttjax.Hyperparams(lr=0.5, steps=10)
    d = ttjax.kernel_drift(model, task, hp, steps=(1, 4), key=jax.random.key(1),
                           ntk_config=NtkConfig(method=NtkMethod.EXACT))  # fmt: skip
    # The oracle: plain full-batch GD written here (mean CE over N), dense J at each w_k.
    x = model.preprocess(jnp.asarray(task.images))
    y = jnp.asarray(task.labels)

    def loss(params):
        logits = model.apply_fn(params, x)
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(len(y)), y])

    w, unravel = jax.flatten_util.ravel_pytree(model.params)

    @jax.jit
    def dense_theta(w):
        jac = jax.jacobian(lambda v: model.apply_fn(unravel(v), x).reshape(-1))(w)
        return jac @ jac.T

    step = jax.jit(lambda w: w - 0.5 * jax.grad(lambda v: loss(unravel(v)))(w))
    theta0 = np.asarray(dense_theta(w), np.float64)
    g0 = np.asarray(jax.grad(lambda f: -jnp.mean(jax.nn.log_softmax(f)[jnp.arange(len(y)), y]))(
        model.apply_fn(model.params, x)), np.float64).ravel()  # fmt: skip
    thetas, losses = {}, {}
    for k in range(1, 5):
        w = step(w)
        thetas[k] = np.asarray(dense_theta(w), np.float64)
        losses[k] = float(loss(unravel(w)))
    for i, k in enumerate((1, 4)):
        kappa = np.trace(thetas[k]) / np.trace(theta0)
        n0 = np.linalg.norm(theta0)
        np.testing.assert_allclose(d.trace_ratio[i], kappa, rtol=1e-6)
        np.testing.assert_allclose(
            d.distance[i], np.linalg.norm(thetas[k] - theta0) / n0, rtol=1e-5
        )
        np.testing.assert_allclose(
            d.shape_distance[i], np.linalg.norm(thetas[k] / kappa - theta0) / n0, rtol=1e-5
        )
        np.testing.assert_allclose(
            d.alignment[i + 1], target_alignment(thetas[k], task.labels, 3), rtol=1e-5, atol=1e-8
        )
        np.testing.assert_allclose(d.loss[i], losses[k], rtol=1e-6)
        np.testing.assert_allclose(
            d.gradient_ratio[i], (g0 @ thetas[k] @ g0) / (g0 @ theta0 @ g0), rtol=1e-5
        )
    assert d.distance[1] > d.distance[0] > 0  # the tiny network is not linear in its weights


def test_target_alignment_ignores_the_kernel_scale() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 4))
    theta = a @ a.T
    labels = np.array([0, 1, 0])
    assert target_alignment(2.5 * theta, labels, 2) == pytest.approx(
        target_alignment(theta, labels, 2)
    )


def test_kernel_drift_refuses_schedules_and_bad_steps() -> None:
    model = ttjax.create_model("tiny", num_classes=2, image_size=8, weights=None,
                               key=jax.random.key(0))  # fmt: skip
    task = ttjax.load_task("digits", classes=2, per_class=2, image_size=8, seed=0)
    hp = ttjax.Hyperparams(lr=0.1, steps=5)
    with pytest.raises(ConfigError, match="k ≥ 1"):
        ttjax.kernel_drift(model, task, hp, steps=(0,), key=jax.random.key(0))
    cosine = dataclasses.replace(hp, schedule=ttjax.Schedule(kind=ScheduleKind.COSINE))
    with pytest.raises(ConfigError, match="constant learning rate"):
        ttjax.kernel_drift(model, task, cosine, key=jax.random.key(0))
