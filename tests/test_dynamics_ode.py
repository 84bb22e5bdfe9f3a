"""Deterministic dynamics: diffrax ODE vs MSE closed form vs expm; discrete map vs matrix power."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.linalg import expm

from ttjax import losses
from ttjax._config import Hyperparams, Loss
from ttjax.dynamics import (
    DynamicsConfig,
    Method,
    OdeSolver,
    Problem,
    Schedule,
    ScheduleKind,
    TimeMode,
    mse_loss_curve,
    simulate,
)

N, C, T = 6, 3, 30


def _problem(loss: Loss, seed: int = 0) -> Problem:
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    j = jax.random.normal(k1, (N * C, 40), jnp.float64)
    theta = j @ j.T / 40.0
    f0 = 0.3 * jax.random.normal(k2, (N, C), jnp.float64)
    labels = jax.random.randint(k3, (N,), 0, C)
    return Problem(theta, f0, labels, loss=loss)


def _lr(p: Problem, frac: float = 0.5) -> float:
    """A learning rate at ``frac`` of the discrete stability limit (moderately stiff)."""
    return frac * 2.0 / float(p.curvature.curvature)


def _expm_loss(p: Problem, lr: float) -> np.ndarray:
    """Reference: linear gradient flow δ_t = expm(−η̃ t Θ / N) δ_0 (float64)."""
    y = jax.nn.one_hot(p.labels, C, dtype=jnp.float64)
    d0 = (p.f0 - y).reshape(-1)
    out = []
    for t in range(T + 1):
        d = expm(-lr * t * p.theta / N) @ d0
        out.append(losses.mean_loss((d.reshape(N, C) + y), p.labels, loss=Loss.MSE))
    return np.array(out)


def test_mse_ode_closed_form_and_expm_agree():
    p = _problem(Loss.MSE)
    lr = _lr(p)
    hp = Hyperparams(lr=lr, steps=T, loss=Loss.MSE)
    cont = DynamicsConfig(time=TimeMode.CONTINUOUS, rtol=1e-10, atol=1e-12)
    closed = simulate(p, hp, config=cont)
    ode = simulate(p, hp, config=dataclasses.replace(cont, mse_closed_form=False))
    assert closed.method is Method.CLOSED_FORM and ode.method is Method.ODE
    ref = _expm_loss(p, lr)
    # float64 throughout; the ODE runs at rtol 1e-10, so 1e-8 relative is ample margin.
    np.testing.assert_allclose(closed.loss[0], ref, rtol=1e-9)
    np.testing.assert_allclose(ode.loss[0], ref, rtol=1e-8)
    # The eigenbasis formula L_t = (1/2N) Σ p_k e^{−2η̃λ_k t/N} (independent of f_t).
    lam, vec = np.linalg.eigh(np.asarray(p.theta))
    y = np.eye(C)[np.asarray(p.labels)]
    proj = (vec.T @ (np.asarray(p.f0) - y).reshape(-1)) ** 2
    formula = mse_loss_curve(jnp.asarray(lam), jnp.asarray(proj), lr, steps=T, n=N)
    np.testing.assert_allclose(formula, ref, rtol=1e-9)
    assert ref[-1] < 0.5 * ref[0]  # the test is not trivially flat


def test_mse_discrete_closed_form_matches_matrix_power_and_scan():
    p = _problem(Loss.MSE, seed=1)
    lr = _lr(p, 0.8)
    hp = Hyperparams(lr=lr, steps=T, loss=Loss.MSE)
    closed = simulate(p, hp, config=DynamicsConfig(time=TimeMode.DISCRETE))
    scan = simulate(p, hp, config=DynamicsConfig(time=TimeMode.DISCRETE, mse_closed_form=False))
    assert scan.method is Method.SCAN
    y = jax.nn.one_hot(p.labels, C, dtype=jnp.float64)
    step = np.eye(N * C) - lr * np.asarray(p.theta) / N
    d = np.asarray(p.f0 - y).reshape(-1)
    ref = []
    for _ in range(T + 1):
        ref.append(0.5 * np.sum(d**2) / N)
        d = step @ d
    np.testing.assert_allclose(closed.loss[0], ref, rtol=1e-10)  # exact algebra, float64
    np.testing.assert_allclose(scan.loss[0], ref, rtol=1e-10)


@pytest.mark.parametrize("kind", [ScheduleKind.COSINE, ScheduleKind.STEP])
def test_schedule_closed_form_matches_ode(kind):
    p = _problem(Loss.MSE, seed=2)
    sched = Schedule(kind=kind, milestones=(10, 20), gamma=0.3, final_fraction=0.1)
    hp = Hyperparams(lr=_lr(p), steps=T, loss=Loss.MSE)
    base = DynamicsConfig(time=TimeMode.CONTINUOUS, schedule=sched, rtol=1e-10, atol=1e-12)
    closed = simulate(p, hp, config=base)
    ode = simulate(p, hp, config=dataclasses.replace(base, mse_closed_form=False))
    # Step schedules have kinks the adaptive solver must find: 1e-7 relative.
    np.testing.assert_allclose(ode.loss[0], closed.loss[0], rtol=1e-7)


@pytest.mark.parametrize("solver", [OdeSolver.TSIT5, OdeSolver.DOPRI5])
def test_ce_ode_is_the_small_step_limit_of_the_discrete_map(solver):
    p = _problem(Loss.CE, seed=3)
    lr = _lr(p, 0.5)
    ode = simulate(
        p,
        Hyperparams(lr=lr, steps=T, loss=Loss.CE),
        config=DynamicsConfig(time=TimeMode.CONTINUOUS, ode_solver=solver, rtol=1e-9, atol=1e-11),
    )
    errs = []
    for k in (8, 32):
        disc = simulate(p, Hyperparams(lr=lr / k, steps=T * k, loss=Loss.CE))
        errs.append(np.max(np.abs(disc.loss[0, ::k] - ode.loss[0])))
    # Euler is first order: the gap shrinks ~4× from k = 8 to 32 (allow 3×), and is small.
    assert errs[1] < errs[0] / 3.0
    assert errs[1] < 1e-2 * ode.loss[0, 0]
