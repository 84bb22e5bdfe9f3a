"""Sharding, caching, memory budget, recompilation, spectrum and input errors of the NTK engine."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_ntk_helpers import MLP, make

from ttjax._errors import ConfigError, DataError, MemoryBudgetError
from ttjax.ntk import (
    NtkCacheError,
    NtkConfig,
    NtkMethod,
    cached_ntk,
    compute_ntk,
    eigh_spectrum,
    load_ntk,
    save_ntk,
)

KEY = jax.random.key(3)
EXACT64 = NtkConfig(method=NtkMethod.EXACT, compute_dtype=np.float64)


@pytest.mark.slow
def test_four_devices_give_the_single_device_theta(tmp_path: Path):
    script = textwrap.dedent(
        """
        import os, sys
        import jax, numpy as np
        sys.path.insert(0, sys.argv[2])
        from test_ntk_helpers import KronCNN, SmallCNN, make, make_frozen_bn
        from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk
        assert len(jax.devices()) == int(sys.argv[3])
        apply_fn, params, x = make(SmallCNN(), (10, 6, 6, 2), dtype=np.float32)
        out = {}
        for m in (NtkMethod.EXACT, NtkMethod.SKETCH, NtkMethod.TRACE):
            cfg = NtkConfig(method=m, projection_dim=512, example_block=2)
            r = compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(0))
            out[m.value] = r.theta
            out[m.value + "_dev"] = np.array(r.diagnostics["devices"])
        apply_fn, params, x = make_frozen_bn(KronCNN(), (10, 6, 6, 2), dtype=np.float32)
        cfg = NtkConfig(method=NtkMethod.KRONECKER, projection_dim=64, example_block=2)
        r = compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(0))
        out["kronecker"], out["kronecker_dev"] = r.theta, np.array(r.diagnostics["devices"])
        np.savez(sys.argv[1], **out)
        """
    )
    results = {}
    for n_dev in (1, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_dev}")
        out = tmp_path / f"theta{n_dev}.npz"
        tests_dir = str(Path(__file__).parent)
        subprocess.run(
            [sys.executable, "-c", script, str(out), tests_dir, str(n_dev)],
            check=True, env=env, timeout=300,
        )  # fmt: skip
        results[n_dev] = dict(np.load(out))
    for m in ("exact", "sketch", "trace", "kronecker"):
        assert int(results[4][m + "_dev"]) == 4
        # same sketch tables and probes; only float32 summation order can differ
        np.testing.assert_allclose(results[4][m], results[1][m], rtol=1e-5, atol=1e-6)


def test_cache_round_trip_and_corruption(tmp_path: Path):
    apply_fn, params, x = make(MLP(), (4, 5))
    cfg = NtkConfig(method=NtkMethod.SKETCH, projection_dim=64, compute_dtype=np.float64)
    first = cached_ntk(apply_fn, params, x, model_name="mlp", config=cfg, key=KEY,
                       cache_dir=tmp_path)  # fmt: skip
    files = list(tmp_path.glob("ntk-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    again = cached_ntk(apply_fn, params, x, model_name="mlp", config=cfg, key=KEY,
                       cache_dir=tmp_path)  # fmt: skip
    assert again.diagnostics.get("cached") is True
    np.testing.assert_array_equal(again.theta, first.theta)
    np.testing.assert_array_equal(again.features, first.features)
    # a different seed or different data is a different entry
    cached_ntk(apply_fn, params, x + 1, model_name="mlp", config=cfg, key=KEY, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("ntk-*.npz"))) == 2
    # corrupt the file: flip bytes in the middle of theta's data
    raw = bytearray(files[0].read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 8] = bytes(8 * [0x7F])
    files[0].write_bytes(bytes(raw))
    with pytest.raises(NtkCacheError):
        load_ntk(files[0])
    with pytest.warns(RuntimeWarning, match="Recomputing"):
        fresh = cached_ntk(apply_fn, params, x, model_name="mlp", config=cfg, key=KEY,
                           cache_dir=tmp_path)  # fmt: skip
    np.testing.assert_array_equal(fresh.theta, first.theta)
    save_ntk(fresh, tmp_path / "x.npz")
    np.testing.assert_array_equal(load_ntk(tmp_path / "x.npz").f0, fresh.f0)


def test_memory_budget_lowers_the_block_then_refuses():
    apply_fn, params, x = make(MLP(), (16, 5), dtype=np.float32)
    cfg = NtkConfig(method=NtkMethod.SKETCH, projection_dim=64)
    base = compute_ntk(apply_fn, params, x, config=cfg, key=KEY)
    assert base.diagnostics["example_block"] == [8]
    p = base.diagnostics["num_params"]
    # the documented estimate (ttjax/ntk/_memory.py) with room for 2.5 examples' gradients
    fixed = 2 * p * 4 + 8 * p + 2 * 16 * 3 * 64 * 4 + 2 * 48**2 * 4
    per_example = 3 * p * 4 * 3 + 3 * 64 * 4
    budget = int(fixed + 2.5 * per_example)
    tight = NtkConfig(method=NtkMethod.SKETCH, projection_dim=64, memory_budget_bytes=budget)
    res = compute_ntk(apply_fn, params, x, config=tight, key=KEY)
    assert res.diagnostics["example_block"] == [2]
    assert res.diagnostics["estimated_peak_bytes"] <= budget
    # blocking changes nothing but the summation order
    np.testing.assert_allclose(res.theta, base.theta, rtol=1e-5, atol=1e-6)
    # EXACT: all 419 raw gradients of 48 rows do not fit 180 kB, a group of ≈ 360 does
    exact = NtkConfig(method=NtkMethod.EXACT, memory_budget_bytes=180_000)
    grouped = compute_ntk(apply_fn, params, x, config=exact, key=KEY)
    assert grouped.diagnostics["param_groups"] > 1
    full = compute_ntk(apply_fn, params, x, config=NtkConfig(method=NtkMethod.EXACT), key=KEY)
    np.testing.assert_allclose(grouped.theta, full.theta, rtol=1e-5, atol=1e-6)
    with pytest.raises(MemoryBudgetError, match="memory_budget_bytes"):
        tiny = NtkConfig(method=NtkMethod.EXACT, memory_budget_bytes=10_000)
        compute_ntk(apply_fn, params, x, config=tiny, key=KEY)
    with pytest.raises(MemoryBudgetError, match="TRACE"):
        compute_ntk(apply_fn, params, x,
                    config=NtkConfig(method=NtkMethod.SKETCH, projection_dim=10**6,
                                     memory_budget_bytes=10**7), key=KEY)  # fmt: skip


def test_no_recompilation_when_only_x_values_change():
    traces = []
    apply_mlp, params, x = make(MLP(), (6, 5), dtype=np.float32)

    def counting_apply(p, xb):
        traces.append(1)  # runs only while JAX traces
        return apply_mlp(p, xb)

    cfg = NtkConfig(method=NtkMethod.SKETCH, projection_dim=128)
    compute_ntk(counting_apply, params, x, config=cfg, key=KEY)
    after_first = len(traces)
    compute_ntk(counting_apply, params, x * 2.0 + 1.0, config=cfg, key=jax.random.key(9))
    compute_ntk(counting_apply, params, -x, config=cfg, key=KEY)
    # the first call traced (eval_shape + the compiled step); later calls hit the jit caches
    assert after_first >= 1
    assert len(traces) == after_first


def test_spectrum_reconstructs_theta_and_residual():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 7))
    theta = a @ a.T
    resid = rng.normal(size=(4, 3))
    lam, p = eigh_spectrum(theta.astype(np.float32), resid)
    assert p is not None
    assert np.all(np.diff(lam) <= 1e-6 * lam[0])
    np.testing.assert_allclose(lam, np.sort(np.linalg.eigvalsh(theta))[::-1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(p.sum(), np.sum(resid**2), rtol=1e-12)
    with pytest.raises(DataError, match="residual"):
        eigh_spectrum(theta, resid[:3])


def test_bad_inputs_raise_named_errors():
    apply_fn, params, x = make(MLP(), (4, 5))
    with pytest.raises(ConfigError, match="param_filter"):
        compute_ntk(apply_fn, params, x, config=NtkConfig(param_filter=lambda p: False), key=KEY)
    with pytest.raises(DataError, match="NaN"):
        compute_ntk(apply_fn, params, x.at[0, 0].set(jnp.nan), config=EXACT64, key=KEY)
    with pytest.raises(ConfigError, match="projection_dim"):
        NtkConfig(method=NtkMethod.GAUSSIAN, projection_dim=None)
    with pytest.raises(ConfigError, match=r"logits \[1, C\]"):
        compute_ntk(lambda p, xb: apply_fn(p, xb)[:, 0], params, x, config=EXACT64, key=KEY)
