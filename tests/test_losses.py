"""The shared losses: ∇_f L from `loss_gradient` must be the autodiff gradient of `mean_loss`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax import losses
from ttjax._config import Loss


@pytest.mark.parametrize("loss", [Loss.CE, Loss.MSE])
def test_loss_gradient_is_autodiff_gradient(loss):
    key_f, key_y = jax.random.split(jax.random.key(0))
    f = jax.random.normal(key_f, (7, 4), dtype=jnp.float64)
    y = jax.random.randint(key_y, (7,), 0, 4)
    auto = jax.grad(lambda z: losses.mean_loss(z, y, loss=loss))(f)
    np.testing.assert_allclose(losses.loss_gradient(f, y, loss=loss), auto, rtol=1e-12, atol=1e-14)


def test_values_against_hand_computation():
    f = jnp.array([[2.0, 0.0], [0.0, 0.0]], dtype=jnp.float64)
    y = jnp.array([0, 1])
    ce = 0.5 * (np.log(np.exp(2) + 1) - 2 + np.log(2))
    np.testing.assert_allclose(losses.mean_loss(f, y, loss=Loss.CE), ce, rtol=1e-12)
    # MSE: ½‖(2,0)−(1,0)‖² = ½, ½‖(0,0)−(0,1)‖² = ½ → mean ½
    np.testing.assert_allclose(losses.mean_loss(f, y, loss=Loss.MSE), 0.5, rtol=1e-12)
    # example 2 ties at (0, 0): argmax picks class 0 ≠ 1 → one error out of two
    np.testing.assert_allclose(losses.error_rate(f, y), 0.5)
