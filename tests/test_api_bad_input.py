"""The public Python API given what a new user passes: strings for enums, floats for counts,
float or grey images, hand-built tasks, plain-int keys, a batch of curves, bfloat16 weights.

Each case was a silent wrong answer or a traceback from deep inside numpy/JAX/flax/matplotlib
in a sweep of the library API; now each is the right answer or one ttjax error naming the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ttjax
from ttjax import (
    ConfigError,
    DataError,
    Hyperparams,
    Loss,
    Schedule,
    WeightsError,
)
from ttjax._linearity import _regime_warning
from ttjax.dynamics import Problem, ScheduleKind

KEY = jax.random.key(0)


def _problem(loss: Loss = Loss.CE) -> Problem:
    x = np.random.default_rng(0).normal(size=(6, 4))
    y = np.arange(6) % 2
    theta = np.kron(x @ x.T, np.eye(2))
    return Problem(theta=theta, f0=np.zeros((6, 2)), labels=y, loss=loss)


# --- wrongly typed arguments, as a user's plain Python passes them ---------------------------
# Under pytest every ttjax function is wrapped by a run-time type checker (conftest.py), which
# would refuse these before ttjax sees them; users run without it. So these cases run in one
# plain subprocess, each printed as ``name: result`` or ``name: ErrorClass: message``.

_PLAIN = r"""
import jax, jax.numpy as jnp, numpy as np, ttjax
from ttjax import (ConfigError, DynamicsConfig, Hyperparams, NtkConfig, Optimizer, Schedule)
from ttjax.dynamics import Problem
x = np.random.default_rng(0).normal(size=(6, 4))
p = Problem(np.kron(x @ x.T, np.eye(2)), np.zeros((6, 2)), np.arange(6) % 2, loss=ttjax.Loss.MSE)
key = jax.random.key(0)
xf = np.random.default_rng(0).random((20, 8, 8, 3)).astype(np.float32)
y = np.arange(20) % 2
hp = Hyperparams(lr=0.5, steps=20, loss=ttjax.Loss.MSE)
cases = {
 "enum_strings": lambda: (Hyperparams(optimizer="sgd", batch_size=2, loss="mse").optimizer.name,
                          ttjax.simulate(p, Hyperparams(optimizer="sgd", batch_size=2, lr=0.1,
                                         steps=5, loss="mse"), paths=4, key=key).loss.shape[0]),
 "schedule_string": lambda: [round(float(v), 3) for v in Schedule(
     kind="step", milestones=(2,), gamma=0.1).factor(jnp.arange(4.0), total_steps=4)],
 "dynamics_string": lambda: DynamicsConfig(time="continuous").time.name,
 "ntk_string": lambda: NtkConfig(method="exact").method.name,
 "bad_optimizer": lambda: Hyperparams(optimizer="adam"),
 "bad_schedule": lambda: Schedule(kind="linear"),
 "bad_noise": lambda: DynamicsConfig(noise_model="minibach"),
 "bad_method": lambda: NtkConfig(method=3),
 "float_steps": lambda: Hyperparams(steps=10.5),
 "float_batch": lambda: Hyperparams(optimizer=Optimizer.SGD, batch_size=2.5),
 "string_lr": lambda: Hyperparams(lr="0.1"),
 "float_milestone": lambda: Schedule(kind="step", milestones=(2.5,)),
 "numpy_ints": lambda: (Hyperparams(steps=np.int64(7)).steps, ttjax.create_model(
     "tiny", num_classes=np.int64(2), image_size=np.int64(8), weights=None, key=key).image_size),
 "float_classes": lambda: ttjax.sample_task(xf, y, classes=2.5, per_class=3, image_size=8, seed=0),
 "negative_seed": lambda: ttjax.sample_task(xf, y, classes=2, per_class=3, image_size=8, seed=-1),
 "int_key_model": lambda: ttjax.create_model("tiny", num_classes=2, image_size=8, weights=None,
                                             key=0),
 "int_key_simulate": lambda: ttjax.simulate(p, Hyperparams(optimizer="sgd", batch_size=2,
                                            loss="mse"), paths=2, key=0),
 "raw_key": lambda: ttjax.simulate(p, Hyperparams(optimizer="sgd", batch_size=2, loss="mse",
                                   steps=3), paths=2, key=jax.random.PRNGKey(0)).loss.shape,
 "eps_scalar": lambda: sorted(ttjax.predict_from_ntk(None, p.labels, hp, problem=p, key=key,
                                                     eps=0.1).training_time),
 "eps_text": lambda: sorted(ttjax.predict_from_ntk(None, p.labels, hp, problem=p, key=key,
                                                   eps="0.1,0.4").training_time),
 "criterion_string": lambda: ttjax.predict_from_ntk(None, p.labels, hp, problem=p, key=key,
                                                    eps=(0.1,), criterion="error").criterion.name,
 "criterion_typo": lambda: ttjax.predict_from_ntk(None, p.labels, hp, problem=p, key=key,
                                                  criterion="los"),
 "eps_array": lambda: ttjax.epsilon_training_time(np.linspace(1, 0, 5), np.array([0.1, 0.4])),
 "batch_of_curves": lambda: ttjax.classify_run(np.array([[1.0, 0.5, 0.1], [1.0, 0.9, 0.8]])),
 "float_images": lambda: (lambda t: (str(t.images.dtype), int(t.images.max() > 200)))(
     ttjax.sample_task(xf, y, classes=2, per_class=3, image_size=8, seed=0)),
 "float_images_resized": lambda: int(ttjax.sample_task(xf, y, classes=2, per_class=3,
                                                       image_size=16, seed=0).images.max() > 0),
 "grey_images": lambda: ttjax.sample_task((xf[..., 0] * 255).astype(np.uint8), y.astype(float),
                                          classes=2, per_class=3, image_size=16, seed=0
                                          ).images.shape,
 "int_300": lambda: ttjax.sample_task(np.full((20, 8, 8, 3), 300), y, classes=2, per_class=3,
                                      image_size=8, seed=0),
 "nan_pixel": lambda: ttjax.sample_task(np.where(xf > 0.999, np.nan, xf), y, classes=2,
                                        per_class=3, image_size=8, seed=0),
 "float_task": lambda: ttjax.Task(images=xf, labels=y, class_ids=np.arange(2)),
 "short_labels": lambda: ttjax.Task(images=(xf * 255).astype(np.uint8), labels=y[:5],
                                    class_ids=np.arange(2)),
 "one_curve_2d": lambda: ttjax.classify_run(np.array([[1.0, 0.5, 0.1]])).value,
 "plot_none_tt": lambda: ttjax.plot_curves(OUT + "/c.png", curves={"loss": np.linspace(1, 0, 11)},
                                           training_times={"a": None, "b": 3}).suffix,
}
for name, make in cases.items():
    try:
        print(f"{name}: {make()}")
    except Exception as e:
        print(f"{name}: {type(e).__name__}: {e}")
"""

_EXPECTED = {
    # strings for enums are converted (they compared unequal to every member: "sgd" ran
    # deterministic full-batch GD in simulate, one path, while finetune ran SGD)
    "enum_strings": "('SGD', 4)",
    "schedule_string": "[1.0, 1.0, 0.1, 0.1]",
    "dynamics_string": "CONTINUOUS",  # it ran the discrete scan
    "ntk_string": "EXACT",
    "bad_optimizer": "ConfigError: optimizer must be a Optimizer or one of 'gd', 'sgd'",
    "bad_schedule": "ConfigError: kind must be a ScheduleKind or one of 'constant', 'step'",
    "bad_noise": "ConfigError: noise_model must be a NoiseModel or one of",  # AssertionError
    "bad_method": "ConfigError: method must be a NtkMethod",
    "float_steps": "ConfigError: steps must be an integer, got 10.5",  # accepted before
    "float_batch": "ConfigError: batch_size must be an integer, got 2.5",  # a batch of 2.5
    "string_lr": "ConfigError: lr must be a number, got '0.1'",
    "float_milestone": "ConfigError: a schedule milestone must be an integer, got 2.5",
    "numpy_ints": "(7, 8)",  # "image_size np.int64(8) is too small"
    "float_classes": "ConfigError: classes must be an integer, got 2.5",  # numpy TypeError
    "negative_seed": "ConfigError: seed must be ≥ 0, got -1",  # numpy's message
    "int_key_model": "ConfigError: key must be a JAX PRNG key, e.g. key=jax.random.key(0)",
    "int_key_simulate": "ConfigError: key must be a JAX PRNG key",  # JAX TypeError
    "raw_key": "(2, 4)",  # old-style uint32 keys keep working
    "eps_scalar": "[0.1]",  # TypeError: 'float' object is not iterable
    "eps_text": "[0.1, 0.4]",
    "criterion_string": "ERROR",  # AttributeError
    "criterion_typo": "ConfigError: criterion must be a Criterion or one of 'loss', 'error'",
    "eps_array": "DataError: ε must be one number in (0, 1]",  # numpy "truth value ambiguous"
    "batch_of_curves": "DataError: classify_run takes one loss curve [T+1], got shape (2, 3)",
    "float_images": "('uint8', 1)",  # float32 images kept as float (or all black resized)
    "float_images_resized": "1",
    "grey_images": "(6, 16, 16, 3)",  # a broadcast ValueError; float labels: KeyError
    "int_300": "DataError: sample_task: integer images must be in 0–255",  # wrapped mod 256
    "nan_pixel": "DataError: sample_task: the float images contain NaN",  # silently 0
    "float_task": "DataError: Task.images must be uint8 [N, S, S, 3], got float32",
    "short_labels": "DataError: Task.labels must be integers [N] = [20]",  # JAX reshape error
    "one_curve_2d": "converged",  # a [1, T+1] curve is one curve
    "plot_none_tt": ".png",  # TypeError: float(None)
}


def test_wrongly_typed_arguments_in_plain_python(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    code = f"OUT = {str(tmp_path)!r}\n" + _PLAIN
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    for name, want in _EXPECTED.items():
        assert got.get(name, "").startswith(want), (name, got.get(name))


def test_schedule_factor_of_integer_steps() -> None:
    """γ was cast to the integer dtype of t: lr 0 after the milestone."""
    step = Schedule(kind=ScheduleKind.STEP, milestones=(2,), gamma=0.5)
    hp = Hyperparams(lr=0.1, steps=4, schedule=step)
    assert np.allclose(hp.learning_rate(jnp.arange(4)), [0.1, 0.1, 0.05, 0.05])
    s = Schedule(kind=ScheduleKind.COSINE)
    assert np.allclose(s.integral(jnp.arange(3), total_steps=4),
                       s.integral(jnp.arange(3.0), total_steps=4))  # fmt: skip


# --- images and tasks ----------------------------------------------------------------------


def test_a_hand_built_task_is_checked() -> None:
    task = ttjax.load_task("digits", classes=2, per_class=6, image_size=8, seed=0)
    with pytest.raises(DataError, match=r"labels must be 0\.\.1"):
        ttjax.Task(images=task.images, labels=task.labels + 1, class_ids=task.class_ids)
    with pytest.raises(DataError, match=r"labels must be 0\.\.0"):  # one class_id, two labels
        ttjax.Task(images=task.images, labels=task.labels, class_ids=task.class_ids[:1])


def test_predict_checks_the_task_without_observed_steps() -> None:
    """``observe=0`` skipped the real steps and with them the image-size check (Tε = 9)."""
    m = ttjax.create_model("tiny", num_classes=2, image_size=8, weights=None, key=KEY)
    task12 = ttjax.load_task("digits", classes=2, per_class=6, image_size=12, seed=0)
    with pytest.raises(DataError, match="image_size=8"):
        ttjax.predict_training_time(m, task12, Hyperparams(lr=0.05, steps=10), observe=0,
                                    paths=1, key=KEY, progress=False)  # fmt: skip


# --- curves, degenerate problems, warnings -----------------------------------------------


def test_curves_and_samples() -> None:
    curves = np.array([[1.0, 0.5, 0.1], [1.0, 0.9, 0.8]])
    assert [ttjax.classify_run(c).value for c in curves] == ["converged", "converged"]
    with pytest.raises(DataError, match="NaN or inf"):
        ttjax.training_time_stats([3.0, np.nan])


def test_a_problem_with_nothing_to_learn_says_so_in_strict_json() -> None:
    y = np.arange(6) % 2
    zero = SimpleNamespace(theta=np.zeros((12, 12)), f0=np.zeros((6, 2)), features=None)
    pred = ttjax.predict_from_ntk(zero, y, Hyperparams(lr=0.1, steps=5), eps=(0.1,), key=KEY)
    assert pred.status.value == "not_decreasing"
    assert "does not move" in (pred.warning or "") and "lower the learning rate" not in (
        pred.warning or ""
    )
    doc = json.loads(json.dumps(pred.to_json_dict(), allow_nan=False))  # no Infinity
    assert doc["stability"]["max_stable_lr"] is None


def test_the_drift_warning_names_the_peak_when_the_run_came_back() -> None:
    info = {"kernel_scale_observed": [1.03, 1.92, 6.84, 0.49], "observed_steps": 4,
            "band_widening": 2.0, "edge_of_stability_step": 0}  # fmt: skip
    text = _regime_warning("edge_of_stability", info) or ""
    assert "as far as 6.84×" in text and "ending at 0.49×" in text
    info["kernel_scale_observed"] = [1.0, 1.1, 1.3, 1.5]
    assert "moved to 1.50×" in (_regime_warning("drifting", info) or "")


# --- files -----------------------------------------------------------------------------------


def test_bfloat16_weights_round_trip_through_npz(tmp_path: Path) -> None:
    m = ttjax.create_model("tiny", num_classes=2, image_size=8, weights=None, key=KEY)
    v = jax.tree_util.tree_map(lambda a: a.astype(jnp.bfloat16),
                               {"params": m.params, "batch_stats": m.batch_stats})  # fmt: skip
    path = ttjax.save_flax_variables(tmp_path / "w.npz", v)
    back = ttjax.load_flax_variables(path)["params"]["head"]["kernel"]
    want = np.asarray(v["params"]["head"]["kernel"].astype(jnp.float32))
    assert back.dtype == np.float32 and np.array_equal(back, want)  # was raw bytes (|V2)
    assert ttjax.create_model("tiny", num_classes=2, image_size=8, weights=str(path), key=KEY)
    raw = tmp_path / "raw.npz"  # what numpy itself writes for bfloat16: bytes, dtype lost
    np.savez(raw, **{"params/head/kernel": np.asarray(v["params"]["head"]["kernel"])})
    with pytest.raises(WeightsError, match="raw bytes"):
        ttjax.load_flax_variables(raw)


def test_file_and_plot_mistakes_are_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="weights file"):
        ttjax.save_flax_variables(blocker / "v.npz", {"params": {"a": np.ones(2)}})
    c = np.linspace(1, 0, 11)
    out = ttjax.plot_curves(tmp_path / "c.png", curves={"loss": c},
                            training_times={"T(0.1)": None, "T(0.4)": 3})  # fmt: skip
    assert out.stat().st_size > 0  # a None Tε (no training time) is skipped, not float(None)
    with pytest.raises(DataError, match="band has 5/5 points but the curve has 11"):
        ttjax.plot_curves(tmp_path / "d.png", curves={"loss": c}, bands={"loss": (c[:5], c[:5])})
