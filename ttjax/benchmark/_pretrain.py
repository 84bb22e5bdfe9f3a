"""Offline "pretrained" starting points: train a network on a source task and cache it.

No ImageNet ResNet/CNN weights can be downloaded offline (docs: OFFLINE.md), so the benchmark's
fast model is ``small_cnn`` pretrained on Fashion-MNIST classes 0–4 and fine-tuned on classes
5–9 (a real source → target transfer, just a small one). The weights are written with
:func:`ttjax.weights.save_flax_variables` into the cache directory and referenced in benchmark
configs as ``"cache:<file name>"`` so that configs (and their keys) do not depend on the machine.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._errors import WeightsNotFoundError
from .._types import PRNGKey

SMALL_CNN_FMNIST = "cache:small_cnn_fmnist0-4_s28.npz"
"""Weights name of ``small_cnn`` pretrained on Fashion-MNIST 0–4 at 28×28 (see the script)."""

CACHE_PREFIX = "cache:"


def cache_dir() -> Path:
    """``$TTJAX_CACHE`` or ``~/.cache/ttjax``."""
    return Path(os.environ.get("TTJAX_CACHE", Path.home() / ".cache" / "ttjax"))


def resolve_weights(weights: str | None) -> str | None:
    """Map ``"cache:NAME"`` to the file in :func:`cache_dir`; other values pass through.

    Raises:
        WeightsNotFoundError: a ``cache:`` file that was not produced yet (names the script).
    """
    if weights is None or not weights.startswith(CACHE_PREFIX):
        return weights
    path = cache_dir() / weights[len(CACHE_PREFIX) :]
    if not path.is_file():
        script = "pretrain_small_cnn.py` (≈ 2–5 min on a CPU)"
        if path.name.startswith("resnet"):
            script = "pretrain_resnet_fashion_mnist.py` (≈ 10 min on a CPU)"
        raise WeightsNotFoundError(
            f"pretrained weights {weights!r} are not in the cache ({path}); create them with "
            f"`python scripts/{script}."
        )
    return str(path)


@dataclasses.dataclass(frozen=True)
class PretrainResult:
    """Output of :func:`pretrain`: where the weights went and how good they are."""

    path: Path
    test_accuracy: float
    train_examples: int
    epochs: int


def pretrain(
    *,
    model_name: str,
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    image_size: int,
    path: str | os.PathLike[str],
    key: PRNGKey,
    epochs: int = 2,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    progress: bool = True,
) -> PretrainResult:
    """Train ``model_name`` from scratch with Adam and cross-entropy, BatchNorm in train mode.

    Labels must already be ``0..K−1``; images ``uint8 [N, S, S, 3]`` at ``image_size``. Saves
    ``{"params", "batch_stats"}`` to ``path`` and returns the test accuracy.
    """
    from ..models import create_model
    from ..weights._flax_io import save_flax_variables

    num_classes = int(labels.max()) + 1
    k_init, k_shuffle = jax.random.split(key)
    model = create_model(
        model_name, num_classes=num_classes, image_size=image_size, weights=None, key=k_init
    )
    module = model.module
    tx = optax.adam(learning_rate)
    params, stats = model.params, model.batch_stats
    opt_state = tx.init(params)

    @jax.jit
    def step(params, stats, opt_state, x, y):
        def loss_fn(p):
            logits, upd = module.apply(
                {"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
            )
            onehot = jax.nn.one_hot(y, num_classes)
            return optax.softmax_cross_entropy(logits, onehot).mean(), upd["batch_stats"]

        (loss, new_stats), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, loss

    @jax.jit
    def predict(params, stats, x):
        logits = module.apply({"params": params, "batch_stats": stats}, x)
        return jnp.argmax(jnp.asarray(logits), -1)

    n = len(labels)
    steps_per_epoch = n // batch_size
    from rich.progress import Progress

    with Progress(disable=not progress) as bar:
        task = bar.add_task("pretraining", total=epochs * steps_per_epoch)
        for epoch in range(epochs):
            perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_shuffle, epoch), n))
            for i in range(steps_per_epoch):
                idx = perm[i * batch_size : (i + 1) * batch_size]
                x = model.preprocess(images[idx])
                params, stats, opt_state, loss = step(
                    params, stats, opt_state, x, jnp.asarray(labels[idx])
                )
                bar.update(task, advance=1, description=f"epoch {epoch + 1} loss {float(loss):.3f}")
    correct = 0
    for i in range(0, len(test_labels), 500):
        pred = predict(params, stats, model.preprocess(test_images[i : i + 500]))
        correct += int(np.sum(np.asarray(pred) == test_labels[i : i + 500]))
    out = save_flax_variables(path, {"params": params, "batch_stats": stats})
    return PretrainResult(
        path=out, test_accuracy=correct / len(test_labels), train_examples=n, epochs=epochs
    )
