"""SGD dynamics: noise models, |B| → N limit, Monte-Carlo convergence, no recompilation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax import losses
from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax.dynamics import (
    DynamicsConfig,
    NoiseModel,
    Problem,
    TimeMode,
    compile_count,
    simulate,
    simulate_grid,
)
from ttjax.dynamics._noise import diagonal_noise_factor

N, C, T = 12, 3, 25


def _problem(loss: Loss, seed: int = 0, d: int = 50) -> Problem:
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    feats = jax.random.normal(k1, (N * C, d), jnp.float64) / np.sqrt(d)
    f0 = 0.2 * jax.random.normal(k2, (N, C), jnp.float64)
    labels = jax.random.randint(k3, (N,), 0, C)
    return Problem(feats @ feats.T, f0, labels, loss=loss, features=feats)


def _lr(p: Problem) -> float:
    return 0.5 * 2.0 / float(p.curvature.curvature)


@pytest.mark.parametrize("d", [20, 200])  # both branches: D′ ≤ N·C (direct) and D′ > N·C (eigh)
def test_diagonal_noise_factor_is_a_factor_of_k(d):
    p = _problem(Loss.CE, d=d)
    assert p.features is not None
    a = diagonal_noise_factor(p.features, p.f0, p.labels, loss=Loss.CE)
    r = np.asarray(losses.loss_gradient(p.f0, p.labels, loss=Loss.CE)) * N
    f = np.asarray(p.features).reshape(N, C, d)
    g = np.einsum("icd,ic->id", f, r)  # per-example gradients, brute force
    sigma0 = np.cov(g.T, bias=True).diagonal()
    k = np.asarray(p.features) @ np.diag(sigma0) @ np.asarray(p.features).T
    np.testing.assert_allclose(a @ a.T, k, atol=1e-12 * np.abs(k).max() * N * C)


@pytest.mark.parametrize(
    "model",
    [NoiseModel.DIAGONAL, NoiseModel.CONSTANT, NoiseModel.FUNCTION_SPACE, NoiseModel.MINIBATCH],
)
def test_noise_vanishes_exactly_at_full_batch(model):
    p = _problem(Loss.CE)
    lr = _lr(p)
    cfg = DynamicsConfig(noise_model=model)
    grid = simulate_grid(
        p,
        optimizer=Optimizer.SGD,
        lrs=np.full(2, lr),
        momenta=np.zeros(2),
        batch_sizes=np.array([N // 2, N]),
        steps=T,
        config=cfg,
        paths=4,
        key=jax.random.key(0),
    )
    gd = simulate(p, Hyperparams(lr=lr, steps=T), config=cfg).loss[0]
    # |B| = N runs through the stochastic code path; its noise must be exactly zero.
    np.testing.assert_allclose(grid.loss[1], np.broadcast_to(gd, (4, T + 1)), rtol=1e-12)
    assert np.ptp(grid.loss[0][:, -1]) > 1e-4  # while |B| = N/2 is really random


@pytest.mark.parametrize("time", [TimeMode.DISCRETE, TimeMode.CONTINUOUS])
def test_sde_mean_tends_to_the_noise_free_solution_as_batch_grows(time):
    p = _problem(Loss.CE, seed=1)
    lr = _lr(p)
    cfg = DynamicsConfig(time=time, noise_model=NoiseModel.CONSTANT, sde_substeps=4)
    sizes = np.array([2, 6, 10, N - 1, N])
    grid = simulate_grid(
        p,
        optimizer=Optimizer.SGD,
        lrs=np.full(5, lr),
        momenta=np.zeros(5),
        batch_sizes=sizes,
        steps=T,
        config=cfg,
        paths=256,
        key=jax.random.key(1),
    )
    noise_free = grid.loss[-1, 0]  # |B| = N: the same scheme without noise
    gaps = np.max(np.abs(grid.loss[:-1].mean(axis=1) - noise_free), axis=-1)
    # The mean's bias is O(σ²) ∝ (N−|B|)/((N−1)|B|): 0.45, 0.09, 0.015, 0.008 here, while
    # the Monte-Carlo error is O(σ/√256); both shrink with |B|.
    assert np.all(np.diff(gaps) < 0), gaps
    assert gaps[-1] < 0.01 * noise_free[0]


def test_euler_maruyama_drift_converges_to_the_diffrax_ode():
    p = _problem(Loss.CE, seed=1)
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=_lr(p), batch_size=N, steps=T)
    ode = simulate(p, hp, config=DynamicsConfig(time=TimeMode.CONTINUOUS)).loss[0]
    errs = []
    for s in (2, 8):
        cfg = DynamicsConfig(
            time=TimeMode.CONTINUOUS, noise_model=NoiseModel.CONSTANT, sde_substeps=s
        )
        g = simulate_grid(
            p,
            optimizer=Optimizer.SGD,
            lrs=np.full(2, hp.lr),
            momenta=np.zeros(2),
            batch_sizes=np.array([N, 2]),  # a noisy row forces the SDE code path
            steps=T,
            config=cfg,
            key=jax.random.key(0),
        )
        errs.append(np.max(np.abs(g.loss[0, 0] - ode)))
    # Euler is first order in dt = 1/s: 4× smaller from s = 2 to 8 (allow 3×).
    assert errs[1] < errs[0] / 3.0, errs


def test_function_space_noise_matches_minibatch_moments():
    """One MSE step: E[L_1] depends only on the mean and covariance of Δf, which the
    FUNCTION_SPACE Gaussian shares with the real mini-batch step; both equal the closed form."""
    p = _problem(Loss.MSE, seed=2)
    lr, b, m = _lr(p), 4, 4000
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=lr, batch_size=b, steps=1, loss=Loss.MSE)
    y = np.eye(C)[np.asarray(p.labels)]
    theta, r = np.asarray(p.theta), np.asarray(p.f0) - y
    z = np.stack([theta[:, i * C : (i + 1) * C] @ r[i] for i in range(N)])  # Θ_{:,i} r_i
    cov = np.cov(z.T, bias=True) * (N - b) / ((N - 1) * b)  # mini-batch mean, no replacement
    mean_f1 = np.asarray(p.f0).reshape(-1) - lr * theta @ r.reshape(-1) / N
    exact = (np.sum((mean_f1 - y.reshape(-1)) ** 2) + lr**2 * np.trace(cov)) / (2 * N)
    for model in (NoiseModel.FUNCTION_SPACE, NoiseModel.MINIBATCH):
        tr = simulate(
            p, hp, config=DynamicsConfig(noise_model=model), paths=m, key=jax.random.key(3)
        )
        l1 = tr.loss[:, 1]
        se = l1.std() / np.sqrt(m)
        assert abs(l1.mean() - exact) < 4 * se, (model, l1.mean(), exact, se)  # 4 s.e.


def test_path_statistics_converge_as_paths_grow():
    p = _problem(Loss.CE, seed=4)
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=_lr(p), batch_size=3, steps=T)

    def spread(m: int) -> float:
        meds = [
            np.median(simulate(p, hp, paths=m, key=jax.random.key(s)).loss, axis=0)
            for s in range(8)
        ]
        return float(np.mean(np.std(np.stack(meds), axis=0)))

    small, large = spread(16), spread(256)
    # The median's sampling error falls as 1/√M: 4× here; with 8
    # seeds the spread estimate is itself ±25%, so require 2×.
    assert large < small / 2.0, (small, large)


def test_diagonal_noise_shrinks_with_the_gradient():
    p = _problem(Loss.CE, seed=5)
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=_lr(p), batch_size=2, steps=T)
    finals = {}
    for model in (NoiseModel.DIAGONAL, NoiseModel.CONSTANT):
        tr = simulate(
            p, hp, config=DynamicsConfig(noise_model=model), paths=128, key=jax.random.key(6)
        )
        np.testing.assert_allclose(tr.loss[:, 0], tr.loss[0, 0])  # same start
        finals[model] = np.std(tr.loss[:, -1])
    # Rescaling by ‖∇_f L_t‖/‖∇_f L_0‖ (< 1 as the loss falls) damps the late noise.
    assert finals[NoiseModel.DIAGONAL] < 0.8 * finals[NoiseModel.CONSTANT]


def test_new_hyperparameter_values_do_not_recompile():
    p = _problem(Loss.CE, seed=6)
    sgd = Optimizer.SGD
    simulate(
        p, Hyperparams(lr=0.1, batch_size=3, optimizer=sgd, steps=T), paths=8, key=jax.random.key(0)
    )
    before = compile_count()
    for lr, m, b in [(0.2, 0.5, 5), (0.05, 0.9, 2), (0.3, 0.0, 7)]:
        simulate(
            p,
            Hyperparams(lr=lr, momentum=m, batch_size=b, optimizer=sgd, steps=T),
            paths=8,
            key=jax.random.key(1),
        )
    assert compile_count() == before
    k2 = jax.random.key(2)
    g1 = simulate_grid(
        p,
        lrs=np.array([0.1, 0.2]),
        momenta=np.zeros(2),
        batch_sizes=np.array([3, 5]),
        optimizer=sgd,
        steps=T,
        paths=8,
        key=k2,
    )
    before = compile_count()
    g2 = simulate_grid(
        p,
        lrs=np.array([0.3, 0.1]),
        momenta=np.array([0.9, 0.0]),
        batch_sizes=np.array([4, 3]),
        optimizer=sgd,
        steps=T,
        paths=8,
        key=k2,
    )
    assert compile_count() == before
    # Same settings and keys give the same curves in the grid and alone.
    np.testing.assert_allclose(g2.loss[1], g1.loss[0], rtol=1e-10)


@pytest.mark.parametrize("d", [8, 40])  # D′ ≤ N and D′ > N
def test_class_trace_noise_factor_matches_the_kronecker_features(d):
    """Φ of Θ₁ must give the same K as the explicit factor F = Φ ⊗ I_C."""
    k1, k2, k3 = jax.random.split(jax.random.key(9), 3)
    phi = jax.random.normal(k1, (N, d), jnp.float64)
    f0 = jax.random.normal(k2, (N, C), jnp.float64)
    labels = jax.random.randint(k3, (N,), 0, C)
    theta = jnp.kron(phi @ phi.T, jnp.eye(C))
    trace = Problem(theta, f0, labels, loss=Loss.CE, features=phi).noise_factor
    full = Problem(theta, f0, labels, loss=Loss.CE, features=jnp.kron(phi, jnp.eye(C)))
    k_ref = full.noise_factor @ full.noise_factor.T
    np.testing.assert_allclose(trace @ trace.T, k_ref, atol=1e-10 * float(jnp.abs(k_ref).max()))
