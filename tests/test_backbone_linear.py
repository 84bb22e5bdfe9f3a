"""The backbone-linearised network with an exact head (:func:`ttjax.ntk.linearize_backbone`)
and the head-growth analysis (:func:`ttjax.benchmark.evaluate_head_bilinear`).

Oracles: the closed form tanh(xA₀)W + b + (sech²(xA₀) ⊙ xΔA)W in float64; a head-only move is
the real network (it is linear in the head); a backbone-only move at the pretrained head is the
fully linearised network; and for a network whose backbone is linear in its weights the model
*is* the real network under fine-tuning, while the paper's linearisation is not (the head ×
backbone product is what it drops).
"""

from __future__ import annotations

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_path_walk import SIZE, C, _task

from ttjax._config import Hyperparams, Optimizer
from ttjax.benchmark import (
    GridPreset,
    benchmark_grid,
    converged_references,
    evaluate_head_bilinear,
    loss_level_rows,
)
from ttjax.ntk import linearize, linearize_backbone
from ttjax.train import finetune


def _net(p, x):
    return jnp.tanh(x @ p["a"]) @ p["head"]["kernel"] + p["head"]["bias"]


def _params(seed: int, scale: float = 1.0):
    ka, kw, kb = jax.random.split(jax.random.key(seed), 3)
    return {"a": scale * jax.random.normal(ka, (4, 6), jnp.float64) / 2,
            "head": {"kernel": scale * jax.random.normal(kw, (6, 3), jnp.float64) / 3,
                     "bias": scale * jax.random.normal(kb, (3,), jnp.float64)}}  # fmt: skip


def test_closed_form_and_the_two_limits():
    x = jax.random.normal(jax.random.key(9), (5, 4), jnp.float64)
    p0, step = _params(0), _params(1, 0.3)
    moved = jax.tree_util.tree_map(jnp.add, p0, step)
    fb = linearize_backbone(_net, p0)
    np.testing.assert_allclose(fb(p0, x), _net(p0, x), rtol=1e-13)
    pre = x @ p0["a"]
    want = ((jnp.tanh(pre) + (1 - jnp.tanh(pre) ** 2) * (x @ step["a"]))
            @ moved["head"]["kernel"] + moved["head"]["bias"])  # fmt: skip
    np.testing.assert_allclose(fb(moved, x), want, rtol=1e-12)
    head_only = {**p0, "head": moved["head"]}
    np.testing.assert_allclose(fb(head_only, x), _net(head_only, x), rtol=1e-12)
    backbone_only = {**moved, "head": p0["head"]}
    f_lin = linearize(_net, p0)
    np.testing.assert_allclose(fb(backbone_only, x), f_lin(backbone_only, x), rtol=1e-12)
    # the two models differ by exactly the head × backbone cross term
    cross = ((1 - jnp.tanh(pre) ** 2) * (x @ step["a"])) @ step["head"]["kernel"]
    np.testing.assert_allclose(fb(moved, x) - f_lin(moved, x), cross, rtol=1e-10, atol=1e-12)
    assert float(jnp.max(jnp.abs(cross))) > 1e-3


def test_a_params_dict_without_a_head_is_refused():
    with pytest.raises(KeyError, match="head"):
        linearize_backbone(_net, {"a": jnp.ones((4, 6))})
    assert linearize_backbone(lambda p, x: x @ p["w"], {"w": jnp.ones((2, 1)), "out": 1.0},
                              head_key="out").head_key == "out"  # fmt: skip


def _linear_backbone_model():
    k1, k2 = jax.random.split(jax.random.key(4))
    head = {"kernel": jax.random.normal(k2, (8, C)) / 3, "bias": jnp.zeros(C)}
    params = {"a": jax.random.normal(k1, (SIZE * SIZE * 3, 8)) / 7.0, "head": head}

    def apply_fn(p, x):
        return (x.reshape(x.shape[0], -1) @ p["a"]) @ p["head"]["kernel"] + p["head"]["bias"]

    return types.SimpleNamespace(name="net", weights="none", params=params, apply_fn=apply_fn,
                                 preprocess=lambda im: jnp.asarray(im, jnp.float32) / 255.0,
                                 image_size=SIZE, num_classes=C)  # fmt: skip


@pytest.mark.parametrize("m", [0.0, 0.9])
def test_with_a_linear_backbone_the_model_is_the_real_network(m):
    model, task = _linear_backbone_model(), _task()
    hp = Hyperparams(optimizer=Optimizer.GD, lr=2.0, momentum=m, steps=25)

    def run(apply_fn):
        ref = types.SimpleNamespace(**{**vars(model), "apply_fn": apply_fn})
        return np.asarray(finetune(ref, task, hp, key=jax.random.key(3), progress=False).loss)

    real = run(model.apply_fn)
    bil = run(linearize_backbone(model.apply_fn, model.params))
    lin = run(linearize(model.apply_fn, model.params))
    np.testing.assert_allclose(bil, real, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(lin - real)) > 1e-3  # the paper's model drops the a × head product


def test_evaluate_head_bilinear_record_and_reuse():
    case = benchmark_grid(preset=GridPreset.TINY)[0]
    rec = evaluate_head_bilinear(case, jax.random.key(0))
    assert {"linear", "head_bilinear"} <= set(rec["predicted_variants"])
    assert rec["predicted"] == rec["predicted_variants"]["head_bilinear"]
    assert set(rec["real"]) == set(rec["predicted"]) and not rec["head_bilinear"]["failed"]
    levels = rec["head_bilinear"]["loss_T"]
    assert levels["real"] == rec["curves"]["real_loss"][-1]
    assert levels["linear"] == rec["curves"]["linear_loss"][-1]
    assert len(rec["curves"]["head_bilinear_loss"]) == case.hparams.steps + 1
    flat = [2.0] + [1.0] * case.hparams.steps
    old = {**rec, "predicted_variants": {"observed@4": rec["predicted"]},
           "curves": {**rec["curves"], "real_loss": flat}}  # fmt: skip
    again = evaluate_head_bilinear(case, jax.random.key(0), reuse_real=old)
    assert again["real_reused"] and "observed@4" in again["predicted_variants"]
    assert again["head_bilinear"]["loss_T"]["real"] == 1.0
    np.testing.assert_allclose(again["curves"]["head_bilinear_loss"],
                               rec["curves"]["head_bilinear_loss"])  # fmt: skip


def test_a_reference_run_that_blew_up_has_no_training_time_and_an_infinite_level_ratio():
    rec = {"status": "ok", "case": {"task": {"model": "m", "image_size": 8}},
           "predicted_variants": {"linear": {"0.1": {"median": 3.0}},
                                  "head_bilinear": {"0.1": {"median": 0.0}}},
           "curves": {"linear_loss": [1.0, 0.6, 0.5], "head_bilinear_loss": [1.0, 50.0, 1e6]},
           "head_bilinear": {"failed": [], "loss_T": {"real": 0.4, "linear": 0.5,
                                                      "head_bilinear": 1e6}}}  # fmt: skip
    (out,) = converged_references([rec])
    assert set(out["predicted_variants"]) == {"linear"}
    assert out["head_bilinear"]["unconverged"] == {"head_bilinear": "diverged"}
    rows = {(r["backbone"], r["model"]): r for r in loss_level_rows([out])}
    bad, good = rows[("m@8", "head_bilinear")], rows[("m@8", "linear")]
    assert bad["unconverged"] == 1 and bad["median_abs_log_ratio"] == float("inf")
    assert good["unconverged"] == 0 and good["within_1.25x"] == 1.0
    np.testing.assert_allclose(good["median_abs_log_ratio"], np.log(0.5 / 0.4))
