"""EXACT Θ against the dense float64 Jacobian oracle, for every blocking path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_ntk_helpers import MLP, SmallCNN, exact_theta, make, rel_err

from ttjax.ntk import AccumDtype, NtkConfig, NtkMethod, compute_ntk

KEY = jax.random.key(0)


@pytest.mark.parametrize(
    ("model", "shape"), [(MLP(), (7, 5)), (SmallCNN(), (5, 6, 6, 2))], ids=["mlp", "cnn"]
)
@pytest.mark.parametrize(("block", "param_block"), [(None, None), (2, 40)], ids=["one", "blocks"])
def test_exact_float64_equals_oracle(model, shape, block, param_block):
    apply_fn, params, x = make(model, shape)
    cfg = NtkConfig(
        method=NtkMethod.EXACT,
        compute_dtype=np.float64,
        example_block=block,
        param_block=param_block,
    )
    res = compute_ntk(apply_fn, params, x, config=cfg, key=KEY)
    want = exact_theta(apply_fn, params, x)
    # float64 throughout: only round-off (≈ 1e-16 · D) separates the two contractions
    np.testing.assert_allclose(res.theta, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
    np.testing.assert_allclose(res.f0, apply_fn(params, x), rtol=1e-12)
    assert res.theta.shape == (x.shape[0] * 3,) * 2
    if param_block is not None:
        assert res.diagnostics["param_groups"] > 1
    # the diagnostic Σ‖∇f‖² per leaf sums to tr Θ exactly for per-output methods
    assert res.diagnostics["head_trace_share"] == pytest.approx(
        sum(v for k, v in res.diagnostics["trace_share_by_module"].items() if k == "head")
    )


def test_exact_float32_default_close_to_float64():
    apply_fn, params, x = make(SmallCNN(), (6, 6, 6, 2), dtype=jnp.float32)
    want = exact_theta(apply_fn, params, x)
    for accum in AccumDtype:
        res = compute_ntk(
            apply_fn,
            params,
            x,
            config=NtkConfig(method=NtkMethod.EXACT, accum_dtype=accum),
            key=KEY,
        )
        assert res.theta.dtype == (np.float64 if accum is AccumDtype.FLOAT64 else np.float32)
        # float32 gradients: relative error ≈ eps32 · sqrt(depth) ≪ 1e-5
        assert rel_err(res.theta, want) < 1e-5


def test_param_filter_restricts_the_jacobian():
    apply_fn, params, x = make(MLP(), (6, 5))

    def only_last(path: str) -> bool:
        return path.startswith("dense2") or path.startswith("head")

    res = compute_ntk(
        apply_fn,
        params,
        x,
        config=NtkConfig(method=NtkMethod.EXACT, param_filter=only_last, compute_dtype=np.float64),
        key=KEY,
    )
    want = exact_theta(apply_fn, params, x, param_filter=only_last)
    np.testing.assert_allclose(res.theta, want, rtol=1e-10, atol=1e-12)
    assert res.diagnostics["num_params"] == 16 * 16 + 16 + 16 * 3 + 3
