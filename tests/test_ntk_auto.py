"""NtkMethod.AUTO (the default): KRONECKER for factorable Flax models, else EXACT or SKETCH.

Oracles: the dense float64 Jacobian (``exact_theta``) and the analytic RMS error bound of the
count-sketch (``test_ntk_approx._bound``).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_ntk_approx import _bound
from test_ntk_helpers import KronCNN, SmallCNN, exact_theta, make, make_frozen_bn, rel_err

from ttjax.models import create_model
from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk

KEY = jax.random.key(3)


def _cfg(**kw: Any) -> NtkConfig:
    return NtkConfig(compute_dtype=np.float64, **kw)


def _plain_cnn():
    """A CNN written in plain jax: ``apply(params, x)``, no Flax module anywhere."""
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    params = {
        "conv": jax.random.normal(k1, (3, 3, 2, 8), jnp.float64) / 4,
        "conv_b": jnp.full((8,), 0.1, jnp.float64),
        "head": jax.random.normal(k2, (4 * 4 * 8, 3), jnp.float64) / 11,
    }

    def apply(p, x):
        y = jax.lax.conv_general_dilated(
            x, p["conv"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        y = jnp.tanh(y + p["conv_b"])
        return y.reshape(y.shape[0], -1) @ p["head"]

    x = jax.random.normal(k3, (5, 6, 6, 2), jnp.float64)
    return apply, params, x


def test_plain_jax_cnn_falls_back_to_exact_when_d_is_small():
    apply, params, x = _plain_cnn()  # D = 144 + 8 + 384 = 536 ≤ D′ = 16384
    res = compute_ntk(apply, params, x, config=_cfg(), key=KEY)
    assert res.method is NtkMethod.EXACT
    choice = res.diagnostics["method_choice"]
    assert choice["requested"] == "auto" and choice["chosen"] == "exact"
    assert "not KRONECKER" in choice["reason"] and "536" in choice["reason"]
    assert rel_err(res.theta, exact_theta(apply, params, x)) < 1e-12  # float64 rounding only


def test_plain_jax_cnn_falls_back_to_sketch_when_d_exceeds_d_prime():
    apply, params, x = _plain_cnn()
    ref = exact_theta(apply, params, x)
    dim = 256  # (NC)²·D = 225·536 > NC·D + (NC)²·D′ = 15·536 + 225·256 ⇒ SKETCH
    res = compute_ntk(apply, params, x, config=_cfg(projection_dim=dim), key=KEY)
    assert res.method is NtkMethod.SKETCH
    assert "D = 536 > D′ = 256" in res.diagnostics["method_choice"]["reason"]
    # one draw within 3× the count-sketch's RMS error bound (as test_ntk_approx), and really
    # sketched (not exact by accident)
    err = rel_err(res.theta, ref)
    assert 1e-6 < err < 3 * _bound(ref, dim), (err, _bound(ref, dim))
    explicit = compute_ntk(
        apply, params, x, config=_cfg(method=NtkMethod.SKETCH, projection_dim=dim),
        key=KEY,
    )  # fmt: skip
    np.testing.assert_array_equal(res.theta, explicit.theta)  # AUTO = the route it names


def test_cost_model_counts_nc_and_memory_budget_sends_exact_to_sketch():
    # One example, C = 3 (NC = 3), D = 536 > D′ = 400: exact Gram 9·536 = 4824 ≤ sketch
    # 3·536 + 9·400 = 5208, so EXACT — unless its float64 features do not fit: the exact plan
    # needs ≈ 86 KB (max_group_params allows 497 < 536 parameters at 80 KB), the sketch ≈ 76 KB.
    apply, params, x = _plain_cnn()
    x1, ref = x[:1], exact_theta(apply, params, x[:1])
    res = compute_ntk(apply, params, x1, config=_cfg(projection_dim=400), key=KEY)
    assert res.method is NtkMethod.EXACT
    assert rel_err(res.theta, ref) < 1e-12
    tight = _cfg(projection_dim=400, memory_budget_bytes=80_000)
    res = compute_ntk(apply, params, x1, config=tight, key=KEY)
    assert res.method is NtkMethod.SKETCH
    assert "memory budget" in res.diagnostics["method_choice"]["reason"]
    assert rel_err(res.theta, ref) < 3 * _bound(ref, 400)


class _EqxCNN(eqx.Module):
    conv: eqx.nn.Conv2d
    head: eqx.nn.Linear

    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.conv = eqx.nn.Conv2d(2, 4, 3, key=k1)
        self.head = eqx.nn.Linear(4 * 4 * 4, 3, key=k2)

    def __call__(self, x):  # one CHW example
        return self.head(jnp.tanh(self.conv(x)).reshape(-1))


def test_equinox_pytree_model_works():
    model = _EqxCNN(jax.random.key(1))
    params, static = eqx.partition(model, eqx.is_array)
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    x = jax.random.normal(jax.random.key(2), (4, 2, 6, 6), jnp.float64)
    res = compute_ntk(apply, params, x, config=_cfg(), key=KEY)
    assert res.method is NtkMethod.EXACT  # no Flax layer to factor; D = 272 ≤ D′
    assert res.theta.shape == (12, 12)
    assert rel_err(res.theta, exact_theta(apply, params, x)) < 1e-12
    np.testing.assert_allclose(res.f0, apply(params, x), rtol=1e-12)


def test_flax_model_with_factorable_layers_gets_kronecker():
    # Accuracy of KRONECKER itself is test_ntk_kronecker's job; here AUTO must pick it and
    # return what the explicit method returns (same key, same compiled step).
    apply, params, x = make_frozen_bn(KronCNN(), (5, 6, 6, 2))
    res = compute_ntk(apply, params, x, config=_cfg(projection_dim=64), key=KEY)
    assert res.method is NtkMethod.KRONECKER
    assert res.diagnostics["method_choice"]["chosen"] == "kronecker"
    assert "routes" in res.diagnostics  # the layer-factored driver really ran
    kron = _cfg(method=NtkMethod.KRONECKER, projection_dim=64)
    np.testing.assert_array_equal(
        res.theta, compute_ntk(apply, params, x, config=kron, key=KEY).theta
    )


def test_flax_model_with_a_custom_layer_falls_back():
    apply, params, x = make(SmallCNN(), (2, 6, 6, 2))  # FrozenAffine is not factorable
    res = compute_ntk(apply, params, x, config=_cfg(), key=KEY)
    assert res.method is NtkMethod.EXACT
    assert "bn1/scale" in res.diagnostics["method_choice"]["reason"]
    assert rel_err(res.theta, exact_theta(apply, params, x)) < 1e-12


def test_explicit_method_is_recorded_as_requested():
    apply, params, x = _plain_cnn()
    res = compute_ntk(apply, params, x, config=_cfg(method=NtkMethod.EXACT), key=KEY)
    assert res.diagnostics["method_choice"] == {
        "requested": "exact",
        "chosen": "exact",
        "reason": "requested",
    }


@pytest.mark.parametrize("name", ["tiny", "small_cnn"])
def test_shipped_models_keep_the_layer_factored_default(name):
    # The models ttjax ships are built from factorable layers: AUTO must mean what the old
    # KRONECKER default meant for them (resolution only; the model is traced abstractly).
    from ttjax.ntk._auto import choose_method
    from ttjax.ntk._params import make_layout

    model = create_model(name, num_classes=3, image_size=16, weights=None, key=KEY)
    x1 = jnp.zeros((1, 16, 16, 3), jnp.float32)
    choice = choose_method(
        model.apply_fn, model.params, x1, config=NtkConfig(),
        layout=make_layout(model.params, None), n=4, outputs=3, accum_itemsize=4, budget=2**30,
    )  # fmt: skip
    assert choice.method is NtkMethod.KRONECKER, choice.reason
