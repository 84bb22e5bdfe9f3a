"""Re-linearising with the whole kernel at predicted points (:func:`ttjax.train.relinearised_path`).

Oracles: for a network linear in its weights every Θ rebuild returns Θ₀ and the moved weights
are exact, so both modes give the float64 linear heavy-ball map; restarting from the real
outputs with the exact Θ at every step is real full-batch gradient descent
(:func:`ttjax.train.finetune`), heavy ball included.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_path_walk import _linear, _mlp, _task, _theta

from ttjax import losses
from ttjax._config import Hyperparams, Optimizer
from ttjax._errors import ConfigError
from ttjax.train import finetune, relinearised_path


def _exact_kernel(model, task):
    x = model.preprocess(task.images)

    def kernel(params):
        jac = jax.jacobian(lambda p: model.apply_fn(p, x).reshape(-1))(params)
        flat = jnp.concatenate(
            [j.reshape(j.shape[0], -1) for j in jax.tree_util.tree_leaves(jac)], 1
        )
        return flat @ flat.T

    return x, kernel


def _linear_map(theta, f0, y, lr, m, steps):
    """float64 heavy ball in function space with a fixed Θ: the plain linear model."""
    th = np.asarray(theta, np.float64)
    f, u = np.asarray(f0, np.float64), np.zeros(np.shape(f0))
    grad = jax.grad(lambda o: losses.mean_loss(o, jnp.asarray(y), loss=Hyperparams().loss))
    out = [float(losses.mean_loss(jnp.asarray(f), jnp.asarray(y), loss=Hyperparams().loss))]
    for _ in range(steps):
        g = np.asarray(grad(jnp.asarray(f, jnp.float32)), np.float64)
        u = m * u - lr * (th @ g.reshape(-1)).reshape(f.shape)
        f = f + u
        out.append(float(losses.mean_loss(jnp.asarray(f), jnp.asarray(y), loss=Hyperparams().loss)))
    return np.asarray(out)


@pytest.mark.parametrize("continuous", [True, False])
@pytest.mark.parametrize("m", [0.0, 0.9])
def test_linear_network_gives_the_linear_model(continuous, m):
    model, task = _linear(), _task()
    x, kernel = _exact_kernel(model, task)
    theta = _theta(model, task)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.3, momentum=m, steps=24)
    y = jnp.asarray(task.labels)
    r = relinearised_path(model.apply_fn, model.params, x, y, theta, hp, steps=(3, 10, 17),
                          kernel=kernel, continuous=continuous)  # fmt: skip
    want = _linear_map(theta, model.apply_fn(model.params, x), task.labels, 0.3, m, 24)
    np.testing.assert_allclose(r.loss, want, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(r.trace_ratio, 1.0, rtol=1e-5)
    np.testing.assert_allclose(r.real_loss, r.linear_loss, rtol=2e-4)


@pytest.mark.parametrize("m", [0.0, 0.9])
def test_restarting_every_step_is_real_gradient_descent(m):
    model, task = _mlp(), _task()
    x, kernel = _exact_kernel(model, task)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.5, momentum=m, steps=10)
    r = relinearised_path(model.apply_fn, model.params, x, jnp.asarray(task.labels),
                          _theta(model, task), hp, steps=range(1, 10), kernel=kernel,
                          continuous=False)  # fmt: skip
    real = finetune(model, task, hp, key=jax.random.key(3), progress=False)
    np.testing.assert_allclose(r.loss[:-1], real.loss[:-1], rtol=1e-4)  # L_T: a linear step
    # the linear model is not the network: carrying the linear outputs on differs
    c = relinearised_path(model.apply_fn, model.params, x, jnp.asarray(task.labels),
                          _theta(model, task), hp, steps=range(1, 10), kernel=kernel)  # fmt: skip
    assert np.max(np.abs(c.loss - real.loss)) > 1e-3


def test_kernel_rebuilt_at_the_moved_weights():
    model, task = _mlp(), _task()
    x, kernel = _exact_kernel(model, task)
    hp = Hyperparams(optimizer=Optimizer.GD, lr=0.5, steps=12)
    seen = []

    def spy(p):
        seen.append(p)
        return kernel(p)

    r = relinearised_path(model.apply_fn, model.params, x, jnp.asarray(task.labels),
                          _theta(model, task), hp, steps=(4,), kernel=spy)  # fmt: skip
    assert len(seen) == 1 and r.steps == (4,)
    moved = float(losses.mean_loss(model.apply_fn(seen[0], x), jnp.asarray(task.labels),
                                   loss=hp.loss))  # fmt: skip
    assert r.real_loss == pytest.approx((moved,), rel=1e-6)
    assert r.trace_ratio[0] != pytest.approx(1.0, abs=1e-4)  # tanh network: Θ moved
    assert set(r.to_dict()) >= {"loss", "steps", "trace_ratio", "real_loss", "seconds"}


def test_a_blown_up_stage_is_written_null():
    from ttjax.train import Relinearised

    r = Relinearised(loss=np.array([1.0, np.nan]), steps=(1,), trace_ratio=(np.inf,),
                     real_loss=(np.nan,), linear_loss=(0.5,), seconds=0.1)  # fmt: skip
    d = r.to_dict()
    assert d["loss"] == [1.0, None] and d["trace_ratio"] == [None] and d["real_loss"] == [None]
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize("steps", [(0,), (12,), (5, 5), (7, 3), (-1,)])
def test_bad_stage_steps_are_refused(steps):
    model, task = _linear(), _task()
    x, kernel = _exact_kernel(model, task)
    with pytest.raises(ConfigError, match="strictly inside"):
        relinearised_path(model.apply_fn, model.params, x, jnp.asarray(task.labels),
                          _theta(model, task), Hyperparams(lr=0.1, steps=12), steps=steps,
                          kernel=kernel)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_record(tmp_path_factory):
    from ttjax.benchmark import GridPreset, benchmark_grid, read_records, run_benchmark

    case = benchmark_grid(preset=GridPreset.TINY)[0]  # GD, T = 6
    path = tmp_path_factory.mktemp("relin") / "b.jsonl"
    run_benchmark([case], path=path, key=jax.random.key(0), progress=False)
    (record,) = read_records(path)
    assert record["status"] == "ok"
    return record


def test_benchmark_records_gain_the_relinearised_variants(tiny_record, monkeypatch):
    import ttjax.benchmark._relinearise as mod
    from ttjax.benchmark import variant_name, with_relinearised

    (r,) = with_relinearised([tiny_record], [(0.25,), (0.25, 0.5)], key=jax.random.key(0),
                             progress=False)  # fmt: skip
    names = {variant_name(s, continuous=c) for s in [(0.25,), (0.25, 0.5)] for c in (True, False)}
    assert names <= set(r["predicted_variants"])
    for name in names:
        times = r["predicted_variants"][name]
        assert set(times) == set(tiny_record["real"])
        assert all(0 <= t["median"] <= 6 for t in times.values())
    assert r["relinearised"]["relin@0.25,0.5"]["steps"] == [2, 3]
    # the baseline: no stage is the fixed-kernel mean path, for GD the fixed-kernel prediction
    assert r["predicted_variants"]["relin@none"] == {
        e: {"median": t["median"]} for e, t in tiny_record["predicted_variants"]["none"].items()
    }
    # scored records are not scored again (resumable); a new stage set is
    calls = []
    real_fn = mod.relinearised_variants
    monkeypatch.setattr(mod, "relinearised_variants",
                        lambda *a, **k: calls.append(a) or real_fn(*a, **k))  # fmt: skip
    (again,) = with_relinearised([r], [(0.25,)], key=jax.random.key(0), progress=False)
    assert again == r and not calls
    (more,) = with_relinearised([r], [(0.5,)], key=jax.random.key(0), progress=False)
    assert len(calls) == 1 and "relin@0.5" in more["predicted_variants"]
    assert {"relin@0.25", "relin@0.5"} <= set(more["relinearised"])
    # the fixed-kernel variant is kept, untouched
    assert r["predicted_variants"]["none"] == tiny_record["predicted_variants"]["none"]


def test_records_of_other_weights_are_refused(tiny_record):
    from ttjax import DataError
    from ttjax.benchmark import relinearised_variants

    hp = tiny_record["hparams_resolved"]
    stale = {**tiny_record, "hparams_resolved": {**hp, "lr": 1.1 * hp["lr"]}}
    with pytest.raises(DataError, match="other pretrained weights"):
        relinearised_variants(stale, [(0.25,)], key=jax.random.key(0))
