"""Small Flax models and the float64 Jacobian oracle shared by the NTK tests (+ a check of it)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class MLP(nn.Module):
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        x = nn.tanh(nn.Dense(16, name="dense1")(x))
        x = nn.tanh(nn.Dense(16, name="dense2")(x))
        return nn.Dense(self.classes, name="head")(x)


class FrozenAffine(nn.Module):
    """Frozen-BatchNorm-like per-channel affine (scale and shift are trainable)."""

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        mean, var = 0.1, 1.5  # frozen running statistics
        return (x - mean) / jnp.sqrt(var + 1e-5) * scale + bias


class SmallCNN(nn.Module):
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(4, (3, 3), name="conv1")(x)
        x = nn.relu(FrozenAffine(name="bn1")(x))
        x = nn.Conv(6, (3, 3), strides=(2, 2), name="conv2")(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.classes, name="head")(x)


class KronCNN(nn.Module):
    """Every layer type NtkMethod.KRONECKER factors: im2col Conv, depthwise Conv, frozen
    BatchNorm, nn.Conv with bias and stride, a conv with a 1×1 output, Dense (6×6 inputs)."""

    classes: int = 3

    @nn.compact
    def __call__(self, x):
        from ttjax.models import Conv, ConvImpl

        x = Conv(6, (3, 3), use_bias=False, impl=ConvImpl.IM2COL, name="conv1")(x)
        x = nn.relu(nn.BatchNorm(use_running_average=True, name="bn1")(x))
        x = Conv(6, (3, 3), feature_group_count=6, impl=ConvImpl.IM2COL, name="dw")(x)
        x = nn.relu(nn.Conv(8, (3, 3), strides=(2, 2), name="conv2")(x))
        x = nn.relu(nn.Conv(5, (3, 3), padding="VALID", name="conv3")(x))  # 1×1 output
        return nn.Dense(self.classes, name="head")(x.reshape(x.shape[0], -1))


def make_frozen_bn(model: nn.Module, x_shape: tuple[int, ...], seed: int = 0, dtype=jnp.float64):
    """``make`` for a model with BatchNorm: running statistics moved off (0, 1), frozen."""
    k_init, k_x = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(k_x, x_shape, dtype)
    variables = model.init(k_init, x[:1])
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype) + 0.05, variables["params"])
    stats = jax.tree_util.tree_map(lambda a: a.astype(dtype) + 0.3, variables["batch_stats"])
    key = (id(model), "bn", seed, x_shape, jnp.dtype(dtype).name)
    if key not in _APPLY_CACHE:

        def apply_fn(p, xb):
            return model.apply({"params": p, "batch_stats": stats}, xb)

        _APPLY_CACHE[key] = (model, apply_fn)  # type: ignore[index]
    return _APPLY_CACHE[key][1], params, x  # type: ignore[index]


def make(model: nn.Module, x_shape: tuple[int, ...], seed: int = 0, dtype=jnp.float64):
    """``(apply_fn, params, x)`` with params and x in ``dtype``."""
    k_init, k_x = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(k_x, x_shape, dtype)
    params = model.init(k_init, x[:1])["params"]
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype), params)
    return _apply(model), params, x


_APPLY_CACHE: dict[object, object] = {}


def _apply(model: nn.Module):
    # one function object per model instance so that jit caches are re-used
    key = id(model)
    if key not in _APPLY_CACHE:

        def apply_fn(params, x):
            return model.apply({"params": params}, x)

        _APPLY_CACHE[key] = (model, apply_fn)
    return _APPLY_CACHE[key][1]  # type: ignore[index]


def exact_theta(apply_fn, params, x, param_filter=None) -> np.ndarray:
    """Θ = J Jᵀ from the dense float64 Jacobian (example-major), the oracle."""
    p64 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    x64 = x.astype(jnp.float64)
    jac = jax.jacrev(lambda p: apply_fn(p, x64).reshape(-1))(p64)
    rows = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(jac)[0]:
        name = "/".join(str(getattr(e, "key", e)) for e in path)
        if param_filter is None or param_filter(name):
            rows.append(np.asarray(leaf).reshape(leaf.shape[0], -1))
    j = np.concatenate(rows, axis=1)
    return j @ j.T


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


def test_oracle_matches_closed_form_for_a_dense_layer():
    # f(x) = x W + b  ⇒  Θ_{(i,c),(j,c')} = (x_i·x_j + 1) δ_cc' exactly.
    apply_fn, params, x = make(nn.Dense(3), (5, 4))
    want = np.kron(np.asarray(x @ x.T) + 1.0, np.eye(3))
    np.testing.assert_allclose(exact_theta(apply_fn, params, x), want, rtol=1e-12, atol=1e-12)
