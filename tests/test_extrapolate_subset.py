"""Θ on a subset: stratified draw, the surrogate Θ̂'s exact spectrum, and the predict route.

Oracle for Θ̂: by construction its eigenvalues are λ̂ and the residual's squared projections
on its eigenvectors are p̂, so full-batch GD on MSE over Θ̂ (the dynamics engine) must give the
paper's eigenbasis curve ``L_t = (1/2N) Σ p̂_k (1 − η̃ λ̂_k/N)^{2t}`` (mse_loss_curve) — two
independent implementations.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import ttjax
from ttjax._config import Loss
from ttjax.dynamics import Problem, simulate
from ttjax.extrapolate import (
    ExtrapolationConfig,
    extrapolate_from_subset,
    mse_loss_curve,
    spectrum_from_ntk,
    stratified_subset,
    surrogate_ntk,
)


def test_stratified_subset_is_proportional_seeded_and_checked():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    idx = stratified_subset(labels, 10, key=jax.random.key(0))
    assert np.bincount(labels[idx]).tolist() == [1, 2, 3, 4]
    assert len(set(idx.tolist())) == 10
    again = stratified_subset(labels, 10, key=jax.random.key(0))
    other = stratified_subset(labels, 10, key=jax.random.key(1))
    np.testing.assert_array_equal(idx, again)
    assert not np.array_equal(idx, other)
    # every class is kept even when its quota rounds to zero
    small = stratified_subset(np.repeat(np.arange(3), [1, 1, 18]), 4, key=jax.random.key(0))
    assert set(np.repeat(np.arange(3), [1, 1, 18])[small].tolist()) == {0, 1, 2}
    for bad in (1, 101):
        with pytest.raises(ttjax.ConfigError, match="N0"):
            stratified_subset(labels, bad, key=jax.random.key(0))


def _toy(n=60, c=3, d=400, seed=0):
    rng = np.random.default_rng(seed)
    # a kernel with a decaying spectrum, like a real Θ: features scaled by k^(-0.6)
    g = rng.normal(size=(n * c, d)) * np.arange(1, d + 1) ** -0.6
    theta = g @ g.T
    f0 = 0.3 * rng.normal(size=(n, c))
    y = np.arange(n) % c
    return theta, f0, y


@pytest.mark.parametrize("loss", [Loss.MSE, Loss.CE])
def test_surrogate_has_the_extrapolated_spectrum_and_mse_gd_matches_the_eigen_curve(loss):
    theta, f0, y = _toy()
    n0 = 20
    idx = np.arange(0, 60, 3)[:n0]  # a uniform subset (every third example)
    flat = (idx[:, None] * 3 + np.arange(3)).reshape(-1)
    ex = extrapolate_from_subset(theta[np.ix_(flat, flat)], f0[idx], y[idx], f0=f0, labels=y,
                                 loss=loss, config=ExtrapolationConfig(k0=10))  # fmt: skip
    sur = surrogate_ntk(ex, f0, y, loss=loss, key=jax.random.key(3))
    lam = np.linalg.eigvalsh(sur.theta)[::-1]
    # float64 eigen-decomposition of a 180×180 matrix built from its eigenpairs: ~1e-12 relative
    np.testing.assert_allclose(lam, np.sort(ex.spectrum.eigenvalues)[::-1], rtol=1e-9, atol=1e-9)
    if loss is Loss.MSE:
        sp = spectrum_from_ntk(sur.theta, f0, y)
        order = np.argsort(ex.spectrum.eigenvalues)[::-1]
        np.testing.assert_allclose(sp.projections, ex.spectrum.projections[order], atol=1e-8)
        lr, steps = 0.5 * 2 * 60 / float(lam[0]), 25
        hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=lr, steps=steps, loss=Loss.MSE)
        traj = simulate(Problem.from_ntk(sur, y, loss=Loss.MSE), hp)
        ref = mse_loss_curve(ex.spectrum, effective_lr=hp.effective_lr, steps=steps)
        np.testing.assert_allclose(traj.loss[0], ref, rtol=1e-8)


def test_predict_with_an_ntk_subset_end_to_end(tmp_path):
    from ttjax.cli import main

    out = tmp_path / "p.json"
    argv = ["predict", "--model", "tiny", "--weights", "none", "--classes", "3",
            "--per-class", "8", "--image-size", "16", "--steps", "15", "--lr", "0.05",
            "--no-progress", "--ntk-subset", "12", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["config"]["ntk_subset"] == 12 and doc["config"]["num_examples"] == 24
    assert {"ntk", "extrapolate", "solve"} <= set(doc["timing_s"])
    assert len(doc["curves"]["loss"]) == 16 and np.isfinite(doc["curves"]["loss"]).all()
    assert main([*argv[:-2], "--ntk-subset", "30"]) == 2  # N0 > N: a clear error
