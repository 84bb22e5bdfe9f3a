"""Observing more real steps before predicting (:mod:`ttjax.benchmark._closed_loop`).

Oracles: the first k of K observed steps are the k-step observation itself (same key, GD);
the recorded outputs are the real network's (their loss is ``finetune``'s curve); for a network
linear in its weights the real run *is* the linear model, so restarting the linear model from
the observed outputs after K steps gives the fixed-kernel curve from step 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_path_walk import _linear, _mlp, _task, _theta

from ttjax import losses
from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax._errors import ConfigError
from ttjax.benchmark import (
    GridPreset,
    band_pairs,
    benchmark_grid,
    evaluate_closed_loop,
    restarted_curves,
)
from ttjax.dynamics import DEFAULT_DYNAMICS, Problem, simulate
from ttjax.train import finetune, observe_steps


def test_first_k_steps_are_the_k_step_observation():
    model, task = _mlp(), _task()
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.5, steps=10)
    long = observe_steps(model, task, hp, key=jax.random.key(2), steps=6, gradient=True)
    short = observe_steps(model, task, hp, key=jax.random.key(2), steps=3, gradient=True)
    head = long.first(3)
    np.testing.assert_allclose(head.kernel_scale, short.kernel_scale, rtol=1e-6)
    np.testing.assert_allclose(head.loss, short.loss, rtol=1e-6)
    assert head.outputs is not None and short.outputs is not None and head.grad_sq is not None
    assert head.outputs.shape == (4, len(task.labels), task.num_classes) and len(head.grad_sq) == 4
    np.testing.assert_allclose(head.outputs, short.outputs, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="first"):
        long.first(7)


def test_observed_outputs_are_the_real_run():
    model, task = _mlp(), _task()
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.5, steps=5)
    obs = observe_steps(model, task, hp, key=jax.random.key(2), steps=5, gradient=True)
    real = finetune(model, task, hp, key=jax.random.key(3), progress=False)
    assert obs.outputs is not None
    y = jnp.asarray(task.labels)
    got = [float(losses.mean_loss(jnp.asarray(f), y, loss=hp.loss)) for f in obs.outputs]
    np.testing.assert_allclose(got, real.loss, rtol=1e-5)


@pytest.mark.parametrize("loss", [Loss.CE, Loss.MSE])
def test_restarting_a_linear_network_gives_the_fixed_kernel_curve(loss):
    model, task = _linear(), _task()
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.1, steps=20, loss=loss)
    x = model.preprocess(task.images)
    problem = Problem(jnp.asarray(_theta(model, task)), model.apply_fn(model.params, x),
                      jnp.asarray(task.labels), loss=loss)  # fmt: skip
    obs = observe_steps(model, task, hp, key=jax.random.key(2), steps=6, gradient=True)
    np.testing.assert_allclose(obs.kernel_scale, 1.0, rtol=1e-5)  # Θ does not move
    assert obs.outputs is not None
    want = simulate(problem, hp).loss[0]
    for k in (2, 6):
        got = restarted_curves(problem, hp, obs.outputs[: k + 1], 1.0, dynamics=DEFAULT_DYNAMICS,
                               paths=1, key=jax.random.key(0))  # fmt: skip
        assert got.shape == (1, 21)
        np.testing.assert_allclose(got[0], want, rtol=2e-4, atol=1e-6)
    with pytest.raises(ConfigError, match="restart"):
        restarted_curves(problem, hp, obs.outputs[:1], 1.0, dynamics=DEFAULT_DYNAMICS,
                         paths=1, key=jax.random.key(0))  # fmt: skip


def test_evaluate_closed_loop_scores_every_k_and_restarts_only_without_momentum():
    grid = benchmark_grid(preset=GridPreset.TINY)
    still = next(c for c in grid if c.hparams.momentum == 0)
    moving = next(c for c in grid if c.hparams.momentum > 0)
    for case in (still, moving):
        rec = evaluate_closed_loop(case, jax.random.key(0), observe=(2, 3))
        names = set(rec["predicted_variants"])
        assert {"observed@2", "observed@3", "gradient@2", "gradient@3"} <= names
        assert ({"restart@2", "restart@3"} <= names) is (case is still)
        assert rec["predicted"] == rec["predicted_variants"]["observed@2"]
        # The shipped prediction's flags, as `ttjax benchmark` keeps them: the band tools
        # (calibrate_band, with_band) take these records.
        assert rec["linearity"]["regime"] in {"linear", "drifting", "edge_of_stability"}
        assert len(rec["linearity"]["kernel_scale_observed"]) == 2
        pairs = band_pairs([{**rec, "key": case.key, "status": "ok"}])
        assert bool(pairs) is (rec["real_status"] == "converged")
        assert len(rec["closed_loop"]["kernel_scale"]) == 3
        assert set(rec["real"]) == set(rec["predicted"])
    with pytest.raises(ConfigError, match="observe"):
        evaluate_closed_loop(still, jax.random.key(0), observe=(1,))
