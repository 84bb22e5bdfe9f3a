"""Function-space dynamics vs the linearised network trained in weight space (exact Θ by jacrev)."""

from __future__ import annotations

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax import losses
from ttjax._config import Hyperparams, Loss
from ttjax.dynamics import DynamicsConfig, MomentumMode, Problem, simulate
from ttjax.training_time import epsilon_training_time

N, C, D_IN, HIDDEN, T = 8, 3, 5, 16, 60


def _net(w, x):
    h = jnp.tanh(x @ w["w1"] + w["b1"])
    return h @ w["w2"] + w["b2"]


def _setup(loss: Loss):
    k = jax.random.split(jax.random.key(7), 6)
    w0 = {
        "w1": jax.random.normal(k[0], (D_IN, HIDDEN), jnp.float64) / np.sqrt(D_IN),
        "b1": jnp.zeros(HIDDEN, jnp.float64),
        "w2": jax.random.normal(k[1], (HIDDEN, C), jnp.float64) / np.sqrt(HIDDEN),
        "b2": jnp.zeros(C, jnp.float64),
    }
    x = jax.random.normal(k[2], (N, D_IN), jnp.float64)
    labels = jax.random.randint(k[3], (N,), 0, C)
    flat0, unravel = jax.flatten_util.ravel_pytree(w0)
    jac = jax.jacrev(lambda v: _net(unravel(v), x).reshape(-1))(flat0)  # [NC, D] example-major
    f0 = _net(w0, x)
    theta = jac @ jac.T
    return Problem(theta, f0, labels, loss=loss), jac, f0, labels


def _weight_space_heavy_ball(jac, f0, labels, lr, m, loss, steps):
    """Heavy ball (optax sgd momentum) on the linearised model f = f0 + J (w − w0)."""
    dw = jnp.zeros(jac.shape[1], jnp.float64)
    a = jnp.zeros_like(dw)
    out = []
    for _ in range(steps + 1):
        f = f0 + (jac @ dw).reshape(f0.shape)
        out.append(float(losses.mean_loss(f, labels, loss=loss)))
        g = jac.T @ losses.loss_gradient(f, labels, loss=loss).reshape(-1)
        a = m * a + g
        dw = dw - lr * a
    return np.array(out)


@pytest.mark.parametrize("loss", [Loss.CE, Loss.MSE])
def test_discrete_map_equals_weight_space_gd_and_exact_momentum(loss):
    p, jac, f0, labels = _setup(loss)
    lr = 0.4 / float(p.curvature.curvature)
    for m in (0.0, 0.9):
        cfg = DynamicsConfig(momentum=MomentumMode.EXACT)
        pred = simulate(p, Hyperparams(lr=lr, momentum=m, steps=T, loss=loss), config=cfg)
        ref = _weight_space_heavy_ball(jac, f0, labels, lr, m, loss, T)
        # Same algebra in two bases (function vs weight space), float64: 1e-9 relative.
        np.testing.assert_allclose(pred.loss[0], ref, rtol=1e-9)


def test_effective_lr_matches_heavy_ball_on_the_linear_model():
    """ELR (η/(1−m), 0) vs the true heavy ball (η, m): close, not equal (paper §3.1)."""
    p, jac, f0, labels = _setup(Loss.CE)
    lr_eff = 0.3 / float(p.curvature.curvature)
    elr = simulate(p, Hyperparams(lr=lr_eff, steps=T, loss=Loss.CE)).loss[0]
    for m in (0.5, 0.9):
        heavy = _weight_space_heavy_ball(jac, f0, labels, lr_eff * (1 - m), m, Loss.CE, T)
        gap = np.abs(elr - heavy) / (elr[0] - elr[-1])
        t_elr = epsilon_training_time(elr, 0.1)
        t_hb = epsilon_training_time(heavy, 0.1)
        # Momentum lags the ELR run by ~m/(1−m) steps early on (9 at m = 0.9). Measured
        # here: gaps of 7% (m=.5) and 25% (m=.9) of the total decrease; T_0.1 = 40 (ELR)
        # vs 40 / 42; T_0.4 = 11 vs 12 / 17 — the ELR is good late, poor early at m = .9.
        assert np.max(gap) < (0.1 if m == 0.5 else 0.35)
        assert abs(int(t_elr) - int(t_hb)) <= (1 if m == 0.5 else 4)
