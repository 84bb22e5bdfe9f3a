"""Stability limit of the discrete map: exact curvature, refusal, and the limit is real."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._config import Hyperparams, Loss
from ttjax._errors import StabilityError
from ttjax.dynamics import DynamicsConfig, MomentumMode, Problem, simulate

N, C = 6, 3


def _problem(loss: Loss) -> Problem:
    k1, k2, k3 = jax.random.split(jax.random.key(3), 3)
    j = jax.random.normal(k1, (N * C, 30), jnp.float64)
    f0 = jax.random.normal(k2, (N, C), jnp.float64)
    return Problem(j @ j.T, f0, jax.random.randint(k3, (N,), 0, C), loss=loss)


@pytest.mark.parametrize("loss", [Loss.CE, Loss.MSE])
def test_curvature_matches_dense_eigenvalues(loss):
    p = _problem(loss)
    p_soft = np.asarray(jax.nn.softmax(p.f0, axis=-1))
    blocks = [
        (np.diag(q) - np.outer(q, q)) / N if loss is Loss.CE else np.eye(C) / N for q in p_soft
    ]
    h = np.zeros((N * C, N * C))
    for i, b in enumerate(blocks):
        h[i * C : (i + 1) * C, i * C : (i + 1) * C] = b
    w, v = np.linalg.eigh(h)
    h_half = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    ref = np.linalg.eigvalsh(h_half @ np.asarray(p.theta) @ h_half).max()
    # 100 power iterations on a well-separated top eigenvalue: 1e-6 relative.
    np.testing.assert_allclose(float(p.curvature.curvature), ref, rtol=1e-6)
    np.testing.assert_allclose(
        float(p.curvature.lambda_max), np.linalg.eigvalsh(np.asarray(p.theta)).max(), rtol=1e-6
    )


@pytest.mark.parametrize("exact", [False, True])
def test_refuses_unstable_lr_and_the_limit_is_real(exact):
    p = _problem(Loss.MSE)  # MSE: the curvature is constant, so the limit is sharp
    m = 0.5
    cfg = DynamicsConfig(momentum=MomentumMode.EXACT if exact else MomentumMode.EFFECTIVE_LR)
    curv = float(p.curvature.curvature)
    limit = (2 * (1 + m) if exact else 2 * (1 - m)) / curv
    with pytest.raises(StabilityError, match="--lr <"):
        simulate(p, Hyperparams(lr=1.02 * limit, momentum=m, steps=10, loss=Loss.MSE), config=cfg)
    unchecked = dataclasses.replace(cfg, check_stability=False, mse_closed_form=False)
    over = simulate(
        p, Hyperparams(lr=1.05 * limit, momentum=m, steps=400, loss=Loss.MSE), config=unchecked
    )
    under = simulate(
        p, Hyperparams(lr=0.95 * limit, momentum=m, steps=400, loss=Loss.MSE), config=cfg
    )
    assert not np.isfinite(over.loss[0, -1]) or over.loss[0, -1] > 1e3 * over.loss[0, 0]
    assert under.loss[0, -1] < under.loss[0, 0]
