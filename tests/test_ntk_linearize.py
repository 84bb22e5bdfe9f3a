"""linearize(): value, JVP vs finite differences, second-order agreement, and GD ↔ Θ."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from test_ntk_helpers import MLP, SmallCNN, make

from ttjax import losses
from ttjax._config import Loss
from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk, linearize


def _direction(params, seed: int):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    return jax.tree_util.tree_unflatten(
        treedef, [jax.random.normal(k, a.shape, a.dtype) for k, a in zip(keys, leaves, strict=True)]
    )


def _axpy(a, x, y):
    return jax.tree_util.tree_map(lambda u, v: a * u + v, x, y)


def test_linearization_value_jvp_and_taylor_order():
    apply_fn, params, x = make(SmallCNN(), (4, 6, 6, 2))
    f_lin = linearize(apply_fn, params)
    np.testing.assert_allclose(f_lin(params, x), apply_fn(params, x), rtol=1e-13)
    v = _direction(params, 1)
    # central finite difference of the network = J v up to O(h²) ≈ 1e-10 at h = 1e-5 (float64)
    h = 1e-5
    fd = (apply_fn(_axpy(h, v, params), x) - apply_fn(_axpy(-h, v, params), x)) / (2 * h)
    jv = f_lin(_axpy(1.0, v, params), x) - f_lin(params, x)
    np.testing.assert_allclose(jv, fd, rtol=1e-6, atol=1e-8)
    f0, jvp = f_lin.on(x)
    np.testing.assert_allclose(jvp(v), jv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(f0, apply_fn(params, x), rtol=1e-13)
    # network − linear model is second order for a smooth (tanh) network: halving the step
    # divides the gap by ≈ 4 (a ReLU net crosses kinks and is only first order)
    apply_fn, params, x = make(MLP(), (4, 5))
    f_lin = linearize(apply_fn, params)
    v = _direction(params, 2)
    gaps = []
    for t in (1e-2, 5e-3):
        p = _axpy(t, v, params)
        gaps.append(float(jnp.abs(apply_fn(p, x) - f_lin(p, x)).max()))
    assert 3.0 < gaps[0] / gaps[1] < 5.0, gaps


def test_gd_step_of_linear_model_moves_f_by_minus_eta_theta_grad():
    """One GD step on f_lin is exactly Δf = −η Θ ∇_f L (paper eq. 3) — links linearize and Θ."""
    apply_fn, params, x = make(SmallCNN(), (5, 6, 6, 2))
    labels = jnp.array([0, 1, 2, 1, 0])
    f_lin = linearize(apply_fn, params)
    lr = 0.3
    for loss in (Loss.CE, Loss.MSE):
        new = jax.jit(lambda p, loss=loss: f_lin.gd_step(p, x, labels, lr=lr, loss=loss))(params)
        df = np.asarray(f_lin(new, x) - f_lin(params, x)).reshape(-1)
        theta = compute_ntk(
            apply_fn, params, x,
            config=NtkConfig(method=NtkMethod.EXACT, compute_dtype=np.float64),
            key=jax.random.key(0),
        ).theta  # fmt: skip
        grad_f = np.asarray(losses.loss_gradient(apply_fn(params, x), labels, loss=loss))
        np.testing.assert_allclose(df, -lr * theta @ grad_f.reshape(-1), rtol=1e-9, atol=1e-12)
