"""torchvision agreement (golden logits), name-map round trips, download cache."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ttjax._errors import WeightsError, WeightsNotFoundError
from ttjax.models import (
    EfficientNetLite0,
    ResNet18,
    ResNet34,
    create_model,
    efficientnet_lite0_table,
    resnet_table,
)
from ttjax.weights import Checkpoint, fetch_checkpoint, flax_to_torch, torch_to_flax

GOLDEN = Path(__file__).parent / "golden"
_spec = importlib.util.spec_from_file_location(
    "make_torch_golden", Path(__file__).parents[1] / "scripts" / "make_torch_golden.py"
)
assert _spec is not None and _spec.loader is not None
golden_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden_script)  # defines the numpy recipe; imports no torch


def _abstract(module, size=64):
    return jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, size, size, 3)))


def _torch_shapes(module, table):
    zeros = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, np.float32), _abstract(module, 32))
    return {k: v.shape for k, v in flax_to_torch(zeros, table).items()}


@pytest.mark.parametrize(
    ("name", "make", "stages"),
    [("resnet18", ResNet18, (2, 2, 2, 2)), ("resnet34", ResNet34, (3, 4, 6, 3))],
)
def test_resnet_matches_torchvision_logits(name, make, stages):
    module = make(num_classes=1000)
    table = resnet_table(stages)
    torch_shapes = _torch_shapes(module, table)
    torch_shapes["fc.weight"], torch_shapes["fc.bias"] = (1000, 512), (1000,)
    sd = golden_script.numpy_state_dict(torch_shapes)
    variables = torch_to_flax(sd, table, source="numpy recipe")
    variables["params"]["head"] = {"kernel": sd["fc.weight"].T, "bias": sd["fc.bias"]}
    with np.load(GOLDEN / "resnet_logits.npz") as z:
        x, want = z["input"], z[name]
    np.testing.assert_array_equal(x, golden_script.golden_input())
    got = module.apply(variables, jnp.asarray(x.transpose(0, 2, 3, 1)), train=False)
    # float32 in both frameworks, different conv algorithms (im2col vs mkldnn) through
    # 20–36 layers: ~1e-6 relative per layer; 1e-4 of the logit scale leaves a wide margin
    # while any layout bug (transposed kernel, wrong padding, BN eps) gives O(1) errors.
    scale = float(np.abs(want).max())
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-4 * scale)
    assert np.argmax(got, -1).tolist() == np.argmax(want, -1).tolist()


@pytest.mark.parametrize(
    ("module", "table"),
    [
        (ResNet18(num_classes=3), resnet_table((2, 2, 2, 2))),
        (ResNet34(num_classes=3), resnet_table((3, 4, 6, 3))),
        (EfficientNetLite0(num_classes=3), efficientnet_lite0_table()),
    ],
)
def test_name_map_round_trip_is_exact(module, table):
    abstract = _abstract(module, 32)
    rng = np.random.default_rng(0)
    variables = jax.tree_util.tree_map(
        lambda s: rng.standard_normal(s.shape).astype(np.float32), abstract
    )
    sd = flax_to_torch(variables, table)
    assert all(v.ndim in (0, 1, 2, 4) for v in sd.values())
    back = torch_to_flax(sd, table, source="round trip")
    want = dict(variables)
    want["params"] = {k: v for k, v in want["params"].items() if k != "head"}
    a = jax.tree_util.tree_leaves_with_path(back)
    b = jax.tree_util.tree_leaves_with_path(want)
    assert [p for p, _ in a] == [p for p, _ in b]
    for (_, x), (_, y) in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_name_map_reports_missing_unexpected_and_misshaped_keys(tmp_path):
    table = resnet_table((2, 2, 2, 2))
    abstract = _abstract(ResNet18(num_classes=2), 32)
    sd = flax_to_torch(
        jax.tree_util.tree_map(lambda s: np.zeros(s.shape, np.float32), abstract), table
    )
    bad = dict(sd)
    del bad["layer2.0.downsample.0.weight"]
    bad["layer9.0.conv1.weight"] = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(
        WeightsError,
        match=r"missing 1: layer2\.0\.downsample\.0\.weight.*"
        r"unexpected 1: layer9",
    ):
        torch_to_flax(bad, table, source="test")
    # a mis-shaped tensor is caught when merged into the model
    from ttjax.weights._merge import merge_backbone

    wrong = torch_to_flax(
        {**sd, "conv1.weight": np.zeros((64, 3, 3, 3), np.float32)}, table, source="test"
    )
    with pytest.raises(WeightsError, match=r"wrong shape: params/conv1/kernel"):
        merge_backbone(dict(abstract), wrong, source="test")


def test_resnet_loads_converted_weights_through_create_model(tmp_path):
    # torchvision-layout weights → flax variables file → create_model(weights=PATH).
    table = resnet_table((2, 2, 2, 2))
    shapes = _torch_shapes(ResNet18(num_classes=2), table)
    sd = golden_script.numpy_state_dict(shapes)
    path = tmp_path / "variables.npz"
    from ttjax.weights import save_flax_variables

    save_flax_variables(path, torch_to_flax(sd, table, source="recipe"))
    m = create_model("resnet18", num_classes=2, image_size=32, weights=path, key=jax.random.key(0))
    np.testing.assert_array_equal(
        m.params["conv1"]["kernel"], sd["conv1.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(m.batch_stats["bn1"]["var"], sd["bn1.running_var"])


def test_download_is_checked_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv("TTJAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TTJAX_OFFLINE", raising=False)
    src = tmp_path / "remote.pth"
    src.write_bytes(b"pretend checkpoint bytes")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    good = Checkpoint("model-abc.pth", src.as_uri(), digest)
    path = fetch_checkpoint(good)
    assert path == tmp_path / "cache" / "model-abc.pth"
    assert path.read_bytes() == src.read_bytes()
    bad = Checkpoint("model-bad.pth", src.as_uri(), "0" * 64)
    with pytest.raises(WeightsError, match="SHA-256"):
        fetch_checkpoint(bad)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["model-abc.pth"]
    path.write_bytes(b"tampered")
    with pytest.raises(WeightsError, match="delete it"):
        fetch_checkpoint(good)


def test_offline_without_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TTJAX_CACHE", str(tmp_path))
    monkeypatch.setenv("TTJAX_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError) as info:
        create_model(
            "resnet18", num_classes=2, image_size=32, weights="imagenet", key=jax.random.key(0)
        )
    msg = str(info.value)
    assert str(tmp_path / "resnet18-f37072fd.pth") in msg
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in msg
