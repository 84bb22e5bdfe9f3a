"""NtkMethod.KRONECKER (layer-factored Θ) against the dense float64 Jacobian oracle."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import numpy as np
import pytest
from test_ntk_helpers import KronCNN, SmallCNN, exact_theta, make, make_frozen_bn, rel_err

from ttjax._errors import ConfigError
from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk


@functools.cache
def _setup():
    apply_fn, params, x = make_frozen_bn(KronCNN(), (5, 6, 6, 2))
    return apply_fn, params, x, exact_theta(apply_fn, params, x)


def _kron(dim: int, seed: int = 0, **kw) -> np.ndarray:
    apply_fn, params, x, _ = _setup()
    cfg = NtkConfig(method=NtkMethod.KRONECKER, projection_dim=dim, compute_dtype=np.float64, **kw)
    res = compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(seed))
    return res.theta


def test_exact_routes_reproduce_the_oracle():
    # D′ large ⇒ every layer is contracted exactly (GRAM, RAW, exact BN/bias/depthwise):
    # only float64 rounding separates it from the dense Jacobian.
    _, _, _, ref = _setup()
    apply_fn, params, x, _ = _setup()
    cfg = NtkConfig(method=NtkMethod.KRONECKER, projection_dim=10**6, compute_dtype=np.float64)
    res = compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(0))
    assert set(res.diagnostics["routes"]) == {"raw", "gram"}
    assert rel_err(res.theta, ref) < 1e-12
    np.testing.assert_allclose(res.f0, apply_fn(params, x), rtol=1e-12)


def test_sketch_is_unbiased_and_converges():
    # conv1 (54×6 kernel) and conv2 (54×8) are sketched at D′ = 64 (k = 8); the mean of
    # 24 independent sketches has error ≈ single/√24, and D′ = 4096 beats D′ = 64.
    _, _, _, ref = _setup()
    singles = [_kron(64, seed=s, kron_block=2) for s in range(24)]
    single_err = float(np.mean([rel_err(t, ref) for t in singles]))
    mean_err = rel_err(np.mean(singles, axis=0), ref)
    assert single_err > 1e-3  # really sketched
    assert mean_err < 0.45 * single_err  # ≈ 1/√24 ≈ 0.2 if unbiased
    big_err = float(np.mean([rel_err(_kron(4096, seed=s, kron_block=2), ref) for s in range(4)]))
    assert big_err < 0.5 * single_err


def test_smaller_blocks_are_more_accurate_per_feature():
    # rank-one layer gradients: one b×b sketch has relative variance ≈ 2/b, and D′/b² of
    # them are averaged, so at fixed D′ the error grows with b.
    _, _, _, ref = _setup()
    err = {
        b: float(np.mean([rel_err(_kron(256, seed=s, kron_block=b), ref) for s in range(8)]))
        for b in (1, 8)
    }
    assert err[1] < err[8]


def test_unsupported_module_is_named_and_filter_excludes_it():
    apply_fn, params, x = make(SmallCNN(), (3, 6, 6, 2))  # FrozenAffine is a custom module
    cfg = NtkConfig(method=NtkMethod.KRONECKER)
    with pytest.raises(ConfigError, match=r"bn1/scale.*param_filter"):
        compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(0))
    keep = NtkConfig(
        method=NtkMethod.KRONECKER, projection_dim=10**6, param_filter=lambda p: "bn1" not in p
    )
    res = compute_ntk(apply_fn, params, x, config=keep, key=jax.random.key(0))
    ref = exact_theta(apply_fn, params, x, param_filter=lambda p: "bn1" not in p)
    assert rel_err(res.theta, ref) < 1e-6  # float32 features


def test_training_mode_batchnorm_is_refused():
    class TrainBN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.BatchNorm(use_running_average=False)(x.reshape(x.shape[0], -1))
            return nn.Dense(2)(x)

    model = TrainBN()
    x = np.ones((3, 4), np.float32)
    v = model.init(jax.random.key(0), x)

    def apply_fn(p, xb):
        variables = {"params": p, "batch_stats": v["batch_stats"]}
        y, _ = model.apply(variables, xb, mutable=["batch_stats"])
        return y

    with pytest.raises(ConfigError, match="frozen"):
        compute_ntk(apply_fn, v["params"], x, config=NtkConfig(method=NtkMethod.KRONECKER),
                    key=jax.random.key(0))  # fmt: skip
