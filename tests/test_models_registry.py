"""create_model: shapes, frozen BN purity, fresh head, errors, flax save/load."""

# pyright: reportArgumentType=false, reportCallIssue=false
# (flax's apply() is typed as "Any | tuple"; numpy stubs reject jax arrays)
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._errors import ConfigError, WeightsError, WeightsNotFoundError
from ttjax.models import ConvImpl, ResNet, Stem, _registry, available_models, create_model
from ttjax.weights import load_flax_variables, save_flax_variables


def _tiny(**kw):
    args = dict(num_classes=3, image_size=8, weights=None, key=jax.random.key(0))
    args.update(kw)
    return create_model("tiny", **args)


def test_every_model_builds_with_the_right_output_shape():
    expected = {
        "tiny": (5_000, 6_000),
        "small_cnn": (90_000, 100_000),
        "resnet18": (11_170_000, 11_180_000),
        "resnet34": (21_280_000, 21_290_000),
        "resnet18_cifar": (11_160_000, 11_180_000),
        "resnet34_cifar": (21_270_000, 21_290_000),
        "efficientnet_lite0": (3_370_000, 3_380_000),
    }
    assert set(available_models()) == set(expected)
    for name, (lo, hi) in expected.items():
        module = _registry._SPECS[name].make(num_classes=5)
        v = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
        n = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(v["params"]))
        # torchvision: resnet18 11,689,512 with a 1000-way fc = 11,176,512 + 5·512 + 5 here.
        assert lo <= n <= hi, (name, n)
    m = _tiny()
    x = m.preprocess(np.zeros((4, 8, 8, 3), np.uint8))
    assert jax.jit(m.apply_fn)(m.params, x).shape == (4, 3)


def test_resnet18_parameter_count_matches_torchvision():
    m = _registry._SPECS["resnet18"].make(num_classes=1000)
    v = jax.eval_shape(m.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
    n = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(v["params"]))
    assert n == 11_689_512  # torchvision.models.resnet18() (BN running stats not counted)


def test_frozen_batchnorm_makes_each_example_independent():
    m = _tiny(key=jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (3, 8, 8, 3))
    f = jax.jit(m.apply_fn)
    full, one = f(m.params, x), f(m.params, x[1:2])
    # float32 forward; batch composition must not matter beyond rounding.
    np.testing.assert_allclose(full[1:2], one, rtol=1e-5, atol=1e-6)


def test_head_is_fresh_seeded_and_independent_of_weights(tmp_path):
    a, b, c = _tiny(), _tiny(), _tiny(key=jax.random.key(7))
    np.testing.assert_array_equal(a.params["head"]["kernel"], b.params["head"]["kernel"])
    assert not np.allclose(a.params["head"]["kernel"], c.params["head"]["kernel"])
    assert np.all(a.params["head"]["bias"] == 0)
    path = save_flax_variables(tmp_path / "t.npz", c.variables)
    d = _tiny(weights=path)
    np.testing.assert_array_equal(d.params["head"]["kernel"], a.params["head"]["kernel"])
    np.testing.assert_array_equal(d.params["conv1"]["kernel"], c.params["conv1"]["kernel"])


@pytest.mark.parametrize("suffix", [".npz", ".msgpack"])
def test_flax_variables_round_trip_through_create_model(tmp_path, suffix):
    m = create_model("small_cnn", num_classes=5, image_size=16, weights=None, key=jax.random.key(3))
    stats = jax.tree_util.tree_map(lambda s: s + 0.5, m.batch_stats)  # as if pretrained
    path = save_flax_variables(tmp_path / f"w{suffix}", {"params": m.params, "batch_stats": stats})
    back = load_flax_variables(path)
    for x, y in zip(
        jax.tree_util.tree_leaves(back),
        jax.tree_util.tree_leaves({"params": m.params, "batch_stats": stats}),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)
    # reloaded with a different number of classes: backbone and statistics kept, head fresh
    m2 = create_model(
        "small_cnn", num_classes=2, image_size=16, weights=path, key=jax.random.key(4)
    )
    np.testing.assert_array_equal(m2.params["conv0_0"]["kernel"], m.params["conv0_0"]["kernel"])
    np.testing.assert_array_equal(m2.batch_stats["bn0_0"]["var"], stats["bn0_0"]["var"])
    assert m2.params["head"]["kernel"].shape[1] == 2
    assert m2.weights == str(path)


def test_conv_impls_give_the_same_network():
    x = jax.random.normal(jax.random.key(5), (2, 16, 16, 3))
    nets = [
        ResNet(num_classes=3, stage_sizes=(1, 1), width=8, stem=Stem.CIFAR, conv_impl=impl)
        for impl in (ConvImpl.XLA, ConvImpl.IM2COL)
    ]
    v = nets[0].init(jax.random.key(0), x)
    y0, y1 = (jax.jit(n.apply)(v, x) for n in nets)
    # float32 through 6 conv layers, accumulation order differs: relative ~1e-6.
    np.testing.assert_allclose(y0, y1, rtol=1e-4, atol=1e-4 * float(jnp.abs(y0).max()))


def test_bad_input_raises_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("resnet19", num_classes=2, image_size=32, weights=None, key=jax.random.key(0))
    with pytest.raises(ConfigError, match="num_classes"):
        _tiny(num_classes=0)
    with pytest.raises(ConfigError, match="too small"):
        create_model("resnet18", num_classes=2, image_size=16, weights=None, key=jax.random.key(0))
    with pytest.raises(ConfigError, match="ImageNet stem"):
        create_model(
            "resnet18_cifar",
            num_classes=2,
            image_size=32,
            weights="imagenet",
            key=jax.random.key(0),
        )
    with pytest.raises(ConfigError, match="no ImageNet"):
        _tiny(weights="imagenet")
    with pytest.raises(WeightsNotFoundError):
        _tiny(weights=tmp_path / "nope.npz")
    other = create_model(
        "small_cnn", num_classes=3, image_size=8, weights=None, key=jax.random.key(0)
    )
    path = save_flax_variables(tmp_path / "other.npz", other.variables)
    with pytest.raises(WeightsError, match="missing"):
        _tiny(weights=path)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(WeightsError, match="cannot read") as bad:
        _tiny(weights=tmp_path / "bad.npz")
    assert "allow_pickle" not in str(bad.value)  # numpy's advice would be to unpickle it
    with pytest.raises(WeightsError, match="no torch name map"):
        (tmp_path / "x.pth").write_bytes(b"x")
        _tiny(weights=tmp_path / "x.pth")
