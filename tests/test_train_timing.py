"""Timing a step with its compile in a background thread: same step, errors surface, no leak."""

from __future__ import annotations

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ttjax
from ttjax.train._timing import compile_step, start_step_timing, time_step


def _setup(classes: int = 3):
    task = ttjax.load_task("sample", classes=classes, per_class=3, image_size=16, seed=0)
    model = ttjax.create_model("tiny", num_classes=3, image_size=16, weights=None,
                               key=jax.random.key(0))  # fmt: skip
    return model, task


@pytest.mark.parametrize("background", [True, False])
def test_background_compile_times_the_same_step_as_the_foreground_one(background):
    model, task = _setup()
    hp = ttjax.Hyperparams(lr=0.01, steps=5)
    timer = start_step_timing(model, task, hp, key=jax.random.key(1), background=background)
    bg = timer.compiled()
    fg = compile_step(model, task, hp, key=jax.random.key(1))
    # the same program: the same first update of the parameters, bit for bit
    t0 = jnp.asarray(0, jnp.int32)
    new_bg, new_fg = bg.step(*bg.args, t0)[0], fg.step(*fg.args, t0)[0]
    for a, b in zip(jax.tree_util.tree_leaves(new_bg), jax.tree_util.tree_leaves(new_fg),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    assert time_step(bg, warmup=0, repeats=1) > 0
    assert not any(t.name == "ttjax-step-compile" for t in threading.enumerate())


def test_a_compile_error_is_raised_on_the_callers_thread():
    model, task = _setup(classes=5)  # labels 0..4 for a 3-output model
    timer = start_step_timing(model, task, ttjax.Hyperparams(), key=jax.random.key(1),
                              background=True)  # fmt: skip
    with pytest.raises(ttjax.DataError, match="num_classes=5"):
        timer.result(warmup=0, repeats=1)
