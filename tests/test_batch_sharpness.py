"""Batch sharpness S_B = E_B[λ_max(Θ_BB H_B(f₀))] (SGD's edge of stability): float64 oracle,
the limit it implies, and the prediction's regime flag."""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax.dynamics import Problem, batch_edge_ratio, max_stable_lr
from ttjax.dynamics._batch_sharpness import batch_sharpness
from ttjax.predict import predict_from_ntk

N, C = 16, 3


def _problem(loss: Loss, *, spread: float = 1.0) -> Problem:
    """Examples with their own feature directions (dissimilar), so batches are sharp."""
    k = jax.random.split(jax.random.key(7), 3)
    scale = 1.0 + spread * jnp.arange(N * C) / N
    x = jax.random.normal(k[0], (N * C, 40), jnp.float64) * scale[:, None]
    f0 = 0.5 * jax.random.normal(k[1], (N, C), jnp.float64)
    return Problem(x @ x.T, f0, jnp.arange(N) % C, loss=loss)


def _oracle(p: Problem, batch: int, key: jax.Array, samples: int) -> float:
    """The same batches, dense float64 eigenvalues of H_B^{1/2} Θ_BB H_B^{1/2}."""
    theta, f0 = np.asarray(p.theta), np.asarray(p.f0)
    vals = []
    for k in jax.random.split(key, samples):
        idx = np.asarray(jax.random.permutation(k, N)[:batch])
        rows = (idx[:, None] * C + np.arange(C)[None, :]).ravel()
        if p.loss is Loss.MSE:
            h = np.eye(batch * C) / batch
        else:
            blocks = []
            for i in idx:
                q = np.exp(f0[i] - f0[i].max())
                q /= q.sum()
                blocks.append((np.diag(q) - np.outer(q, q)) / batch)
            h = np.zeros((batch * C, batch * C))
            for j, b in enumerate(blocks):
                h[j * C : (j + 1) * C, j * C : (j + 1) * C] = b
        w, v = np.linalg.eigh(h)
        root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        vals.append(np.linalg.eigvalsh(root @ theta[np.ix_(rows, rows)] @ root)[-1])
    return float(np.mean(vals))


@pytest.mark.parametrize("loss", [Loss.MSE, Loss.CE])
@pytest.mark.parametrize("batch", [2, 5])
def test_batch_sharpness_matches_dense_eigenvalues(loss, batch):
    p = _problem(loss)
    key = jax.random.key(3)
    got = float(batch_sharpness(p.theta, p.f0, loss=loss, batch_size=batch, key=key, samples=8))
    assert got == pytest.approx(_oracle(p, batch, key, 8), rel=1e-6)


def test_full_batch_sharpness_is_the_full_curvature():
    p = _problem(Loss.CE)
    s = float(batch_sharpness(p.theta, p.f0, loss=Loss.CE, batch_size=N, key=jax.random.key(0)))
    assert s == pytest.approx(float(p.curvature.curvature), rel=1e-6)


def test_small_batches_of_dissimilar_examples_are_sharper_and_flagged():
    p = _problem(Loss.CE)
    full = max_stable_lr(p, Hyperparams(lr=1.0))
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.5 * full, batch_size=2, steps=20)
    ratio = batch_edge_ratio(p, hp, key=jax.random.key(0))
    assert ratio is not None and ratio > 1.0  # past the batches' edge at half the full limit
    # momentum (exact heavy ball) moves the edge to 2(1 + m)/S: the ratio scales by 1/(1 + m)
    hp_m = Hyperparams(optimizer=Optimizer.SGD, lr=0.5 * full, momentum=0.5, batch_size=2)
    assert batch_edge_ratio(p, hp_m, key=jax.random.key(0)) == pytest.approx(ratio / 1.5)
    assert batch_edge_ratio(p, Hyperparams(lr=0.5 * full), key=jax.random.key(0)) is None  # GD
    ntk = types.SimpleNamespace(theta=p.theta, f0=p.f0, features=None)
    labels = np.asarray(p.labels)
    pred = predict_from_ntk(ntk, labels, hp, key=jax.random.key(1), paths=4)
    assert pred.linearity["regime"] == "edge_of_stability"
    assert pred.linearity["batch_edge_ratio"] > 1.0  # its own 32 random batches
    assert "batch sharpness" in (pred.warning or "")
    calm = Hyperparams(optimizer=Optimizer.SGD, lr=0.5 * full / (2 * ratio), batch_size=2)
    pred = predict_from_ntk(ntk, labels, calm, key=jax.random.key(1), paths=4)
    assert pred.linearity["regime"] == "unobserved" and pred.warning is None
    assert pred.linearity["batch_edge_ratio"] < 1.0
