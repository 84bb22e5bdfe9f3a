"""GAUSSIAN, SPARSE, SKETCH and TRACE against the exact float64 Θ; errors shrink as D′ grows."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest
from test_ntk_helpers import MLP, SmallCNN, make, rel_err

from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk

KEY = jax.random.key(1)


@functools.cache
def _cnn():
    apply_fn, params, x = make(SmallCNN(), (6, 6, 6, 2))
    ref = compute_ntk(
        apply_fn,
        params,
        x,
        config=NtkConfig(method=NtkMethod.EXACT, compute_dtype=np.float64),
        key=KEY,
    ).theta  # equals the dense-Jacobian oracle (test_ntk_exact)
    return apply_fn, params, x, ref


def _bound(theta: np.ndarray, dim: int) -> float:
    """√E‖Θ̂ − Θ‖²_F / ‖Θ‖_F ≤ √(((tr Θ)² + ‖Θ‖²_F) / D′) / ‖Θ‖_F for all three sketches
    (per entry Var Θ̂_ij ≤ (Θ_ii Θ_jj + Θ_ij²)/D′: Gaussian and Achlioptas entries have
    fourth moment 3; count-sketch collides two parameters with probability ≈ 1/D′)."""
    fro = np.linalg.norm(theta)
    return float(np.sqrt((np.trace(theta) ** 2 + fro**2) / dim) / fro)


@pytest.mark.parametrize("method", [NtkMethod.GAUSSIAN, NtkMethod.SPARSE, NtkMethod.SKETCH])
def test_sketches_converge_to_exact(method):
    apply_fn, params, x, ref = _cnn()
    errs = {}
    for dim in (64, 1024):
        e = []
        for seed in range(3):
            cfg = NtkConfig(method=method, projection_dim=dim, compute_dtype=np.float64)
            res = compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(seed))
            e.append(rel_err(res.theta, ref))
            assert res.features is not None
            np.testing.assert_allclose(res.features @ res.features.T, res.theta, rtol=1e-9)
        errs[dim] = float(np.sqrt(np.mean(np.square(e))))
        # RMS over 3 draws within 3× the analytic RMS bound (a χ² with 3 dof rarely exceeds 3²)
        assert errs[dim] < 3 * _bound(ref, dim), (dim, errs[dim], _bound(ref, dim))
    # 16× more directions ⇒ 4× smaller error in expectation; require at least 2×
    assert errs[1024] < errs[64] / 2, errs


def test_trace_probe_algebra_is_exact():
    """TRACE with projection_dim=None is exactly Θ₁ = (1/C) Σ_cc′ r_c r_c′ Θ_{(i,c),(j,c′)}."""
    apply_fn, params, x, ref = _cnn()
    n, c = x.shape[0], 3
    for seed in range(2):
        cfg = NtkConfig(method=NtkMethod.TRACE, projection_dim=None, compute_dtype=np.float64)
        res = compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(seed))
        r = np.asarray(res.diagnostics["probes"])[0]
        want = np.einsum("c,icjd,d->ij", r, ref.reshape(n, c, n, c), r) / c
        assert res.theta_per_class is not None
        np.testing.assert_allclose(res.theta_per_class, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.theta, np.kron(want, np.eye(c)), rtol=1e-9, atol=1e-12)


def test_trace_is_unbiased_for_the_class_traced_theta():
    apply_fn, params, x, ref = _cnn()
    n, c = x.shape[0], 3
    traced = np.einsum("icjc->ij", ref.reshape(n, c, n, c)) / c
    ests = []
    for seed in range(24):
        cfg = NtkConfig(method=NtkMethod.TRACE, projection_dim=4096, compute_dtype=np.float64)
        ests.append(compute_ntk(apply_fn, params, x, config=cfg, key=jax.random.key(seed)))
    single = np.mean([rel_err(e.theta_per_class, traced) for e in ests])
    mean = rel_err(np.mean([e.theta_per_class for e in ests], axis=0), traced)
    # averaging 24 independent unbiased draws divides the RMS error by √24 ≈ 4.9; require 2.5×
    assert mean < single / 2.5, (mean, single)


def test_trace_exact_when_classes_decouple():
    """Only a linear head trained on shared features: Θ = (φφᵀ + 1) ⊗ I_C, so TRACE is exact."""
    apply_fn, params, x = make(MLP(), (8, 5))

    def head(p: str) -> bool:
        return p.startswith("head")

    ref = compute_ntk(
        apply_fn, params, x,
        config=NtkConfig(method=NtkMethod.EXACT, param_filter=head, compute_dtype=np.float64),
        key=KEY,
    )  # fmt: skip
    res = compute_ntk(
        apply_fn, params, x,
        config=NtkConfig(method=NtkMethod.TRACE, param_filter=head, projection_dim=None,
                         compute_dtype=np.float64),
        key=KEY,
    )  # fmt: skip
    np.testing.assert_allclose(res.theta, ref.theta, rtol=1e-10, atol=1e-12)
    assert res.diagnostics["head_trace_share"] == pytest.approx(1.0)
