"""The one pretraining loop (``ttjax.benchmark.pretrain``) and the two scripts that call it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ttjax.benchmark import pretrain
from ttjax.benchmark._pretrain import PretrainOptimizer, _optimizer
from ttjax.data._sources import FASHION_MNIST_DIR
from ttjax.models import create_model
from ttjax.weights import load_flax_variables

ROOT = Path(__file__).resolve().parents[1]
FASHION_MNIST_PRESENT = (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file()


def _data(n: int = 40, size: int = 8, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return x, (np.arange(n) % classes).astype(np.int32)


def _run(path: Path, optimizer: PretrainOptimizer, seed: int = 0):
    x, y = _data()
    return pretrain(
        model_name="tiny",
        images=x,
        labels=y,
        test_images=x[:10],
        test_labels=y[:10],
        image_size=8,
        path=path,
        key=jax.random.key(seed),
        epochs=2,
        batch_size=8,
        learning_rate=1e-2,
        optimizer=optimizer,
        progress=False,
    )


@pytest.mark.parametrize("optimizer", list(PretrainOptimizer))
def test_pretrain_trains_batchnorm_saves_and_reloads(tmp_path: Path, optimizer):
    res = _run(tmp_path / "a.npz", optimizer)
    assert res.path == tmp_path / "a.npz" and res.train_examples == 40 and res.epochs == 2
    assert 0.0 <= res.test_accuracy <= 1.0
    saved = load_flax_variables(res.path)
    init = create_model("tiny", num_classes=3, image_size=8, weights=None, key=jax.random.key(0))
    # BatchNorm ran in training mode: the running mean moved away from its initial zeros.
    assert np.abs(saved["batch_stats"]["bn1"]["mean"]).max() > 0
    assert not np.array_equal(saved["params"]["conv1"]["kernel"], init.params["conv1"]["kernel"])
    # the file is a backbone for create_model (head fresh, statistics frozen as saved)
    m = create_model("tiny", num_classes=2, image_size=8, weights=res.path, key=jax.random.key(1))
    np.testing.assert_array_equal(m.params["conv1"]["kernel"], saved["params"]["conv1"]["kernel"])
    np.testing.assert_array_equal(m.batch_stats["bn1"]["var"], saved["batch_stats"]["bn1"]["var"])
    # reproducible from the key alone
    again = load_flax_variables(_run(tmp_path / "b.npz", optimizer).path)
    leaves = jax.tree_util.tree_leaves
    for u, v in zip(leaves(saved), leaves(again), strict=True):
        np.testing.assert_array_equal(u, v)


def test_sgd_cosine_is_heavy_ball_with_a_cosine_decay_to_zero():
    # Closed form for a constant gradient g = 1: a_t = Σ_{k≤t} 0.9^{t−k},
    # lr_t = ½ lr (1 + cos(π t / T)) for t < T and 0 after, w_T+1 = −Σ_t lr_t a_t.
    lr, total = 0.1, 4
    tx = _optimizer(PretrainOptimizer.SGD_COSINE, lr, total)
    w = {"w": jnp.zeros((), jnp.float64)}
    state = tx.init(w)
    for _ in range(total + 1):
        upd, state = tx.update({"w": jnp.ones((), jnp.float64)}, state, w)
        w = optax.apply_updates(w, upd)
    a = np.cumsum([0.9 ** (-k) for k in range(total + 1)]) * 0.9 ** np.arange(total + 1)
    rates = [0.5 * lr * (1 + np.cos(np.pi * t / total)) for t in range(total)] + [0.0]
    # float64 throughout: only summation order differs.
    (got,) = jax.tree_util.tree_leaves(w)
    np.testing.assert_allclose(float(got), -np.dot(rates, a), rtol=1e-12)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_MNIST_PRESENT, reason="needs dataset-fashion-mnist")
@pytest.mark.parametrize(
    ("name", "flags", "model", "size"),
    [
        ("pretrain_small_cnn", ["--per-class", "26", "--epochs", "1"], "small_cnn", 28),
        (
            "pretrain_resnet_fashion_mnist",
            ["--per-class", "26", "--test-per-class", "4", "--epochs", "1"],
            "resnet18",
            32,
        ),
    ],
)
def test_pretraining_scripts_run_one_step_and_write_loadable_weights(
    tmp_path: Path, capsys, name, flags, model, size
):
    out = tmp_path / "w.npz"
    assert _script(name).main([*flags, "--out", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    m = create_model(model, num_classes=5, image_size=size, weights=out, key=jax.random.key(0))
    assert m.weights == str(out)
