"""Kernel drift: the κ-scaled dynamics vs a float64 loop, the edge-of-stability cap, the
observation of real steps, the regime report, saved outputs, and the momentum default."""

from __future__ import annotations

import dataclasses
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax import _linearity, losses
from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax._errors import ConfigError, StabilityError
from ttjax.data import Task
from ttjax.dynamics import (
    DriftModel,
    DynamicsConfig,
    MomentumMode,
    Problem,
    TimeMode,
    kernel_scale_schedule,
    max_stable_lr,
    simulate,
)
from ttjax.ntk import NtkConfig, NtkMethod
from ttjax.predict import predict_training_time
from ttjax.train import Observation, observe_steps
from ttjax.training_time import epsilon_training_time

N, C, T = 6, 3, 25


def _problem(loss: Loss) -> Problem:
    k = jax.random.split(jax.random.key(3), 3)
    x = jax.random.normal(k[0], (N * C, 9), jnp.float64)
    theta = x @ x.T
    f0 = 0.3 * jax.random.normal(k[1], (N, C), jnp.float64)
    labels = jnp.arange(N) % C
    return Problem(theta, f0, labels, loss=loss)


def _loop(p: Problem, lr: float, m: float, kappa: np.ndarray) -> np.ndarray:
    """The drifting discrete map written out: v ← m v + κ_t Θ ∇_f L, f ← f − η v (float64)."""
    f, v, out = p.f0, jnp.zeros_like(p.f0), []
    for t in range(T + 1):
        out.append(float(losses.mean_loss(f, p.labels, loss=p.loss)))
        if t == T:
            break
        g = (p.theta @ losses.loss_gradient(f, p.labels, loss=p.loss).reshape(-1)).reshape(N, C)
        v = m * v + kappa[t] * g
        f = f - lr * v
    return np.array(out)


@pytest.mark.parametrize("loss", [Loss.CE, Loss.MSE])
@pytest.mark.parametrize("m", [0.0, 0.9])
def test_drifting_kernel_equals_the_written_out_map(loss, m):
    p = _problem(loss)
    lim = max_stable_lr(p, Hyperparams(lr=1.0, momentum=m))
    hp = Hyperparams(lr=0.2 * lim, momentum=m, steps=T, loss=loss)
    obs = [0.8, 0.7, 0.75]
    traj = simulate(p, hp, kernel_scale=obs)
    kappa = kernel_scale_schedule(obs, steps=T, cap=traj.scale_cap, config=DynamicsConfig())
    np.testing.assert_allclose(kappa[:5], [1.0, 0.8, 0.7, 0.75, 0.75])
    # float64 on both sides: only summation order differs.
    np.testing.assert_allclose(traj.loss[0], _loop(p, hp.lr, m, kappa), rtol=1e-10)
    assert traj.drift and traj.edge_of_stability_step is None
    fixed = simulate(p, hp, kernel_scale=obs, config=DynamicsConfig(drift=DriftModel.NONE))
    np.testing.assert_allclose(fixed.loss[0], _loop(p, hp.lr, m, np.ones(T)), rtol=1e-10)
    assert not fixed.drift


def test_growing_kernel_is_held_at_the_stability_edge():
    p = _problem(Loss.CE)
    limit = max_stable_lr(p, Hyperparams(lr=1.0))
    hp = Hyperparams(lr=0.5 * limit, steps=T)
    traj = simulate(p, hp, kernel_scale=[1.5, 3.0])
    assert traj.scale_cap == pytest.approx(0.95 * 2.0)  # EDGE_MARGIN × limit / lr
    assert traj.kernel_scale.max() == pytest.approx(traj.scale_cap)
    assert traj.edge_of_stability_step == 2
    assert np.all(np.isfinite(traj.loss))
    assert _linearity.classify([1.5, 3.0], traj) == "edge_of_stability"
    assert _linearity.classify([1.05, 0.9], simulate(p, hp, kernel_scale=[1.05, 0.9])) == "linear"


def test_saved_outputs_reproduce_the_curves():
    for loss, cfg in (
        (Loss.CE, DynamicsConfig()),
        (Loss.MSE, DynamicsConfig(drift=DriftModel.NONE)),
    ):
        p = _problem(loss)
        hp = Hyperparams(lr=0.3 * max_stable_lr(p, Hyperparams(lr=1.0)), steps=T, loss=loss)
        traj = simulate(p, hp, config=cfg, save_outputs=[0, 7, T])
        assert traj.outputs is not None and traj.outputs.shape == (1, 3, N, C)
        np.testing.assert_allclose(traj.outputs[0, 0], p.f0)
        last = losses.mean_loss(jnp.asarray(traj.outputs[0, 2]), p.labels, loss=loss)
        np.testing.assert_allclose(float(last), traj.loss[0, -1], rtol=1e-12)
        r = traj.residuals(np.asarray(p.labels), loss=loss)
        assert r.shape == (1, 3, N, C)
    with pytest.raises(Exception, match="save_outputs"):
        simulate(p, hp, save_outputs=[T + 1])


def test_momentum_default_and_public_stability_limit():
    assert DynamicsConfig().momentum is MomentumMode.EXACT
    assert DynamicsConfig(time=TimeMode.CONTINUOUS).momentum is MomentumMode.EFFECTIVE_LR
    p = _problem(Loss.MSE)
    curv = float(p.curvature.curvature)
    assert max_stable_lr(p, Hyperparams(lr=1.0, momentum=0.9)) == pytest.approx(2 * 1.9 / curv)
    elr = DynamicsConfig(momentum=MomentumMode.EFFECTIVE_LR)
    lim = max_stable_lr(p, Hyperparams(lr=1.0, momentum=0.9), config=elr)
    assert lim == pytest.approx(2 * 0.1 / curv)
    past = Hyperparams(lr=3.0 / curv, steps=5, loss=Loss.MSE)
    with pytest.raises(StabilityError):
        simulate(p, past)
    # The gradient flow is stable at any lr: no discrete-step error in continuous time.
    traj = simulate(p, past, config=DynamicsConfig(time=TimeMode.CONTINUOUS))
    assert np.all(np.isfinite(traj.loss)) and traj.loss[0, -1] < traj.loss[0, 0]


def _linear_model(c: int, size: int):
    """A model linear in its weights: Θ does not move, so every κ_k must be 1."""
    w = 0.01 * jax.random.normal(jax.random.key(0), (size * size * 3, c))

    def apply_fn(params, x):
        return x.reshape(x.shape[0], -1) @ params["dense"]

    return types.SimpleNamespace(
        name="linear",
        weights="none",
        params={"dense": w},
        apply_fn=apply_fn,
        preprocess=lambda im: jnp.asarray(im, jnp.float32) / 255.0,
        image_size=size,
        num_classes=c,
    )


def _task(n_per: int, c: int, size: int) -> Task:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n_per * c, size, size, 3), dtype=np.uint8)
    return Task(images=images, labels=np.repeat(np.arange(c), n_per), class_ids=np.arange(c))


def test_observed_kernel_of_a_linear_model_does_not_move_and_the_prediction_says_linear():
    model, task = _linear_model(3, 4), _task(4, 3, 4)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.05, steps=20)
    obs = observe_steps(model, task, hp, key=jax.random.key(1), steps=3)
    np.testing.assert_allclose(obs.kernel_scale, 1.0, rtol=1e-5)  # float32 model
    assert obs.loss[0] > obs.loss[-1] and set(obs.module_scale) == {"dense"}
    exact = NtkConfig(method=NtkMethod.EXACT)
    pred = predict_training_time(
        model, task, hp, key=jax.random.key(2), progress=False, observe=3, ntk_config=exact
    )
    assert hp.lr < 0.5 * pred.trajectories.max_stable_lr
    assert pred.linearity["regime"] == "linear" and pred.warning is None
    np.testing.assert_allclose(
        pred.linearity["first_steps_loss_predicted"], obs.loss, rtol=1e-4
    )  # step 0..2 of the linear model are the real ones
    pred0 = predict_training_time(
        model, task, hp, key=jax.random.key(2), progress=False, observe=0, ntk_config=exact
    )
    assert pred0.linearity["regime"] == "unobserved" and pred0.step_time_s is None
    grad = predict_training_time(
        model, task, hp, key=jax.random.key(2), progress=False, observe=3, ntk_config=exact,
        dynamics=DynamicsConfig(drift=DriftModel.GRADIENT),
    )  # fmt: skip
    lin = grad.linearity  # κ along the gradient drives the dynamics, the trace's is reported
    np.testing.assert_allclose(lin["kernel_scale_observed"], 1.0, rtol=1e-4)
    np.testing.assert_allclose(lin["trace_scale_observed"], obs.kernel_scale, rtol=1e-6)
    assert lin["regime"] == "linear"


def test_a_drifting_run_is_flagged_with_a_wider_band():
    p = _problem(Loss.CE)
    traj = simulate(p, Hyperparams(lr=0.1, steps=T), kernel_scale=[0.6, 0.5])
    assert _linearity.classify([0.6, 0.5], traj) == "drifting"
    from ttjax.predict import predict_from_ntk

    ntk = types.SimpleNamespace(theta=p.theta, f0=p.f0, features=None)
    obs = Observation(
        loss=np.array([1.0, 0.9]),
        kernel_scale=np.array([0.6, 0.5]),
        module_scale={"params": 0.5},
        module_share={"params": 1.0},
        step_time_s=0.1,
        compile_s=0.0,
        probe_s=0.0,
    )
    hp = Hyperparams(lr=0.3 * max_stable_lr(p, Hyperparams(lr=1.0)), steps=T)
    pred = predict_from_ntk(
        ntk,
        np.asarray(p.labels),
        hp,
        key=jax.random.key(0),
        observation=obs,
    )
    lin = pred.linearity
    assert lin["regime"] == "drifting" and "outside the linear regime" in (pred.warning or "")
    assert set(lin["fixed_kernel_training_time"]) == {"0.01", "0.1", "0.4"}
    fixed_curve = simulate(p, hp).loss[0]  # the paper's fixed kernel
    assert lin["fixed_kernel_training_time"]["0.1"]["median"] == float(
        epsilon_training_time(fixed_curve, 0.1)
    )
    # A kernel at about half its size makes less progress by step T than the fixed one.
    assert pred.curves["loss"][-1] > simulate(p, hp).loss[0, -1]
    s = pred.training_time[0.1]
    assert s.q05 <= s.median <= s.q95


def test_gradient_scale_matches_dense_jacobians_and_is_one_for_a_linear_model():
    """κ^g_k = [gₖᵀΘ(wₖ)gₖ / gₖᵀΘ₀gₖ] / [g₀ᵀΘ₀g₀ / g₀ᵀΘ₀g₀] with Θ(w) from dense Jacobians."""
    c, size = 3, 4
    model, task = _linear_model(c, size), _task(4, c, size)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.05, steps=20)
    x = model.preprocess(task.images)

    def theta_at(params, apply_fn):
        jac = jax.jacobian(lambda p: apply_fn(p, x).reshape(-1))(params)
        flat = jnp.concatenate(
            [j.reshape(j.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)], 1
        )
        return np.asarray(flat, np.float64) @ np.asarray(flat, np.float64).T

    obs = observe_steps(model, task, hp, key=jax.random.key(1), steps=3, gradient=True)
    theta0 = theta_at(model.params, model.apply_fn)
    np.testing.assert_allclose(obs.gradient_scale(theta0), 1.0, rtol=1e-4)  # Θ never moves
    # a non-linear model (tanh hidden layer): the kernel moves; compare with dense Θ(w_k)
    k1, k2 = jax.random.split(jax.random.key(4))
    params = {"w1": jax.random.normal(k1, (size * size * 3, 8)) / 7.0,
              "w2": jax.random.normal(k2, (8, c))}  # fmt: skip

    def mlp(p, xb):
        return jnp.tanh(xb.reshape(xb.shape[0], -1) @ p["w1"]) @ p["w2"]

    net = types.SimpleNamespace(**{**vars(model), "params": params, "apply_fn": mlp})
    hp = Hyperparams(optimizer=Optimizer.GD, lr=2.0, steps=20)
    obs = observe_steps(net, task, hp, key=jax.random.key(1), steps=3, gradient=True)
    assert observe_steps(net, task, hp, key=jax.random.key(1), steps=3).grad_sq is None  # opt-in
    th0 = theta_at(params, mlp)
    got = obs.gradient_scale(th0)
    from ttjax.train._step import make_optimizer, make_step

    step = jax.jit(make_step(mlp, hp, num_examples=len(task.labels)))
    p, st, want, y = params, make_optimizer(hp).init(params), [], jnp.asarray(task.labels)
    g = lambda q: np.asarray(jax.grad(lambda f: losses.mean_loss(f, y, loss=hp.loss))(mlp(q, x)))  # noqa: E731
    g0 = g(p).reshape(-1)
    for t in range(3):
        p, st, _ = step(p, st, x, y, jax.random.key(0), jnp.asarray(t))
        gk = g(p).reshape(-1)
        want.append((gk @ theta_at(p, mlp) @ gk) / (gk @ th0 @ gk) / 1.0)
    assert abs(float(g0 @ th0 @ g0) / float(obs.grad_sq[0]) - 1.0) < 1e-4
    np.testing.assert_allclose(got, want, rtol=2e-3)  # float32 model vs float64 Jacobians
    assert np.max(np.abs(np.asarray(want) - 1.0)) > 0.01  # and the kernel did move


def _aligned_loop(p: Problem, lr: float, m: float, kappa: np.ndarray, *, ref: float, k: int,
                  gamma: float, hi: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``DriftModel.ALIGNED`` written out: κ_t (R_ref / R₀(r_t))^γ from step K, R₀(r) = rᵀΘr/rᵀr.
    Returns the loss curve and the κ_t used."""
    theta = np.asarray(p.theta, np.float64)
    f, v, out, used = np.asarray(p.f0, np.float64), np.zeros((N, C)), [], []
    for t in range(T + 1):
        out.append(float(losses.mean_loss(jnp.asarray(f), p.labels, loss=p.loss)))
        if t == T:
            break
        r = np.asarray(losses.loss_gradient(jnp.asarray(f), p.labels, loss=p.loss)).reshape(-1)
        scale = kappa[t]
        if t >= k:
            scale = float(np.clip(scale * (ref / (r @ theta @ r / (r @ r))) ** gamma, 0.1, hi))
        used.append(scale)
        v = m * v + scale * (theta @ r).reshape(N, C)
        f = f - lr * v
    return np.array(out), np.array(used)


@pytest.mark.parametrize("loss", [Loss.CE, Loss.MSE])
@pytest.mark.parametrize("m", [0.0, 0.9])
@pytest.mark.parametrize("gamma", [0.5, 1.0])
def test_aligned_drift_equals_the_written_out_map(loss, m, gamma):
    p = _problem(loss)
    limit = max_stable_lr(p, Hyperparams(lr=1.0, momentum=m, loss=loss))
    hp = Hyperparams(lr=0.2 * limit, momentum=m, steps=T, loss=loss)
    obs, ref = [1.1, 1.3], 0.5 * float(jnp.trace(p.theta)) / (N * C)
    cfg = DynamicsConfig(drift=DriftModel.ALIGNED, drift_alignment=gamma)
    traj = simulate(p, hp, config=cfg, kernel_scale=obs, rate_reference=ref)
    schedule = kernel_scale_schedule(obs, steps=T, cap=traj.scale_cap, config=cfg)
    want, used = _aligned_loop(p, hp.lr, m, schedule, ref=ref, k=2, gamma=gamma,
                               hi=min(10.0, traj.scale_cap))  # fmt: skip
    np.testing.assert_allclose(traj.loss[0], want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(traj.kernel_scale, used, rtol=1e-9)  # the κ_t actually used
    plain = simulate(p, hp, config=DynamicsConfig(drift=DriftModel.GRADIENT), kernel_scale=obs)
    assert np.max(np.abs(traj.loss[0] - plain.loss[0])) > 1e-3  # the factor does act


def test_aligned_drift_reduces_to_the_gradient_drift():
    """γ = 0, no reference, or a kernel whose every direction has the same rate (Θ = cI)."""
    p = _problem(Loss.CE)
    hp = Hyperparams(lr=0.2 * max_stable_lr(p, Hyperparams(lr=1.0)), steps=T)
    obs = [0.9, 0.8]
    grad = simulate(p, hp, config=DynamicsConfig(drift=DriftModel.GRADIENT), kernel_scale=obs)
    for gamma, ref in ((0.0, 3.0), (1.0, None)):
        cfg = DynamicsConfig(drift=DriftModel.ALIGNED, drift_alignment=gamma)
        got = simulate(p, hp, config=cfg, kernel_scale=obs, rate_reference=ref)
        np.testing.assert_allclose(got.loss, grad.loss, rtol=1e-12)
    iso = Problem(2.0 * jnp.eye(N * C, dtype=jnp.float64), p.f0, p.labels, loss=Loss.CE)
    hp = Hyperparams(lr=0.2, steps=T)
    cfg = DynamicsConfig(drift=DriftModel.ALIGNED, drift_alignment=1.0)
    got = simulate(iso, hp, config=cfg, kernel_scale=obs, rate_reference=2.0)  # R₀ ≡ 2
    want = simulate(iso, hp, config=DynamicsConfig(drift=DriftModel.GRADIENT), kernel_scale=obs)
    np.testing.assert_allclose(got.loss, want.loss, rtol=1e-12)
    with pytest.raises(ConfigError, match="rate_reference"):
        simulate(p, hp, config=cfg, kernel_scale=obs, rate_reference=float("nan"))
    with pytest.raises(ConfigError, match="drift_alignment"):
        DynamicsConfig(drift=DriftModel.ALIGNED, drift_alignment=-1.0)


def test_aligned_stochastic_noise_models_run_and_gamma_zero_is_the_gradient_drift():
    p = _problem(Loss.CE)
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.2 * max_stable_lr(p, Hyperparams(lr=1.0)),
                     batch_size=2, steps=T)  # fmt: skip
    from ttjax.dynamics import NoiseModel

    for noise in NoiseModel:
        base = dict(noise_model=noise, time=TimeMode.DISCRETE)
        grad = simulate(p, hp, config=DynamicsConfig(drift=DriftModel.GRADIENT, **base),
                        kernel_scale=[1.2], paths=4, key=jax.random.key(0))  # fmt: skip
        zero = simulate(p, hp, config=DynamicsConfig(drift=DriftModel.ALIGNED,
                        drift_alignment=0.0, **base), kernel_scale=[1.2], paths=4,
                        key=jax.random.key(0), rate_reference=1.0)  # fmt: skip
        np.testing.assert_allclose(zero.loss, grad.loss, rtol=1e-10)
        one = simulate(p, hp, config=DynamicsConfig(drift=DriftModel.ALIGNED,
                       drift_alignment=1.0, **base), kernel_scale=[1.2], paths=4,
                       key=jax.random.key(0), rate_reference=1.0)  # fmt: skip
        assert np.all(np.isfinite(one.loss)) and not np.allclose(one.loss, grad.loss)


def test_rate_reference_is_the_rayleigh_quotient_of_the_last_gradient():
    g = np.arange(2 * N * C, dtype=np.float64).reshape(2, N, C) - 5.0
    theta = np.diag(np.linspace(1.0, 2.0, N * C))
    obs = Observation(loss=np.array([1.0, 0.9]), kernel_scale=np.array([1.0]),
                      module_scale={}, module_share={}, step_time_s=0.1, compile_s=0.0,
                      probe_s=0.0, grad_sq=np.array([1.0, 1.0]), loss_grad=g)  # fmt: skip
    last = g[-1].reshape(-1)
    assert obs.rate_reference(theta) == pytest.approx(last @ theta @ last / (last @ last))
    assert dataclasses.replace(obs, loss_grad=None).rate_reference(theta) is None
    assert dataclasses.replace(obs, loss_grad=0.0 * g).rate_reference(theta) is None


def test_fitted_alignment_recovers_gamma_and_is_zero_on_a_linear_network():
    from ttjax.dynamics import fit_alignment

    rates = np.array([5.0, 4.0, 3.1, 2.5, 2.2])
    for gamma in (0.0, 0.3, 0.8):
        kappa_g = (rates[0] / rates[1:]) ** gamma
        assert fit_alignment(kappa_g, rates) == pytest.approx(gamma, abs=1e-9)
    assert fit_alignment((rates[0] / rates[1:]) ** 3.0, rates) == 1.0  # clipped to [0, 1]
    assert fit_alignment((rates[0] / rates[1:]) ** -0.5, rates) == 0.0
    assert fit_alignment([1.3, 1.1], [2.0, 2.0, 2.0]) == 0.0  # R₀ did not move: nothing to fit
    with pytest.raises(ConfigError, match="R₀"):
        fit_alignment([1.0, 1.0], [1.0, 1.0])
    # predict resolves γ = None from the observed steps; a linear network does not re-align
    model, task = _linear_model(3, 4), _task(4, 3, 4)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.05, steps=20)
    exact = NtkConfig(method=NtkMethod.EXACT)
    preds = {}
    for drift in (DriftModel.ALIGNED, DriftModel.GRADIENT):
        dyn = DynamicsConfig(drift=drift, drift_alignment=None)
        preds[drift] = predict_training_time(model, task, hp, key=jax.random.key(2),
            progress=False, observe=3, ntk_config=exact, dynamics=dyn)  # fmt: skip
    fitted = preds[DriftModel.ALIGNED].config["dynamics"]["drift_alignment"]
    assert fitted is not None and fitted < 0.05
    np.testing.assert_allclose(
        preds[DriftModel.ALIGNED].curves["loss"], preds[DriftModel.GRADIENT].curves["loss"],
        rtol=1e-3,
    )  # fmt: skip
