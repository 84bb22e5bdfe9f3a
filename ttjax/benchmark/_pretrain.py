"""Offline "pretrained" starting points: train a network on a source task and cache it.

No ImageNet ResNet/CNN weights can be downloaded offline (docs: OFFLINE.md), so the benchmark's
models are pretrained here on Fashion-MNIST classes 0–4 (:func:`source_subset`) and fine-tuned on
classes 5–9 (a real source → target transfer, just a small one): ``small_cnn`` at 28×28 with Adam
(``scripts/pretrain_small_cnn.py``), ``resnet18`` at 32×32 with SGD + cosine decay
(``scripts/pretrain_resnet_fashion_mnist.py``). Both scripts only parse flags and call
:func:`pretrain`, the one pretraining loop. The weights are written with
:func:`ttjax.weights.save_flax_variables` into the cache directory and referenced in benchmark
configs as ``"cache:<file name>"`` so that configs (and their keys) do not depend on the machine.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, UInt8

from .._errors import WeightsNotFoundError
from .._types import PRNGKey, PyTree
from ..weights import cache_dir  # the benchmark cache is the weights cache (re-exported)

SMALL_CNN_FMNIST = "cache:small_cnn_fmnist0-4_s28.npz"
"""Weights name of ``small_cnn`` pretrained on Fashion-MNIST 0–4 at 28×28 (see the script)."""

CACHE_PREFIX = "cache:"
SOURCE_CLASSES = (0, 1, 2, 3, 4)
"""The Fashion-MNIST classes the offline models are pretrained on (T-shirt … coat)."""


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


def source_subset(
    split: str, *, per_class: int | None, image_size: int, seed: int
) -> tuple[UInt8[np.ndarray, "N S S 3"], Int[np.ndarray, " N"]]:
    """The pretraining source task: Fashion-MNIST ``split`` restricted to :data:`SOURCE_CLASSES`.

    Draws ``per_class`` images of each class (all of them when ``None`` or fewer exist) with
    ``numpy.random.default_rng(seed)``, class by class, keeps them in file order and resizes
    them to ``image_size``. Labels stay ``0..4``.

    Raises:
        DataError: Fashion-MNIST is not installed.
    """
    from ..data import load_fashion_mnist, resize_images

    images, labels = load_fashion_mnist(split)
    rng = np.random.default_rng(seed)
    idx = []
    for c in SOURCE_CLASSES:
        where = np.flatnonzero(labels == c)
        if per_class is not None:
            where = rng.choice(where, min(per_class, len(where)), replace=False)
        idx.append(where)
    index = np.sort(np.concatenate(idx))
    return resize_images(images[index], image_size), labels[index].astype(np.int32)


class PretrainOptimizer(enum.Enum):
    """The optimiser of :func:`pretrain`.

    * ``ADAM``: ``optax.adam(lr)``, constant learning rate (``small_cnn``).
    * ``SGD_COSINE``: ``optax.sgd`` with heavy-ball momentum 0.9 and ``lr`` decayed to 0 by a
      cosine over all steps (``resnet18``).
    """

    ADAM = "adam"
    SGD_COSINE = "sgd_cosine"


def _optimizer(
    kind: PretrainOptimizer, lr: float, total_steps: int
) -> optax.GradientTransformation:
    if kind is PretrainOptimizer.SGD_COSINE:
        return optax.sgd(optax.cosine_decay_schedule(lr, max(total_steps, 1)), momentum=0.9)
    return optax.adam(lr)


def _make_step(module: Any, tx: optax.GradientTransformation, num_classes: int) -> Callable:
    """One Adam/SGD step on the mean cross-entropy, BatchNorm in training mode (batch statistics,
    running averages updated)."""

    @jax.jit
    def step(
        params: PyTree, stats: PyTree, opt_state: Any, x: Float[Array, "B S S 3"], y: Array
    ) -> tuple[PyTree, PyTree, Any, Array]:
        def loss_fn(p: PyTree) -> tuple[Array, PyTree]:
            logits, upd = module.apply(
                {"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"]
            )
            onehot = jax.nn.one_hot(y, num_classes)
            return optax.softmax_cross_entropy(logits, onehot).mean(), upd["batch_stats"]

        (loss, new_stats), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), new_stats, opt_state, loss

    return step


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
    optimizer: PretrainOptimizer = PretrainOptimizer.ADAM,
    progress: bool = True,
) -> PretrainResult:
    """Train ``model_name`` from scratch on cross-entropy, BatchNorm in train mode; save it.

    ``key`` is split once into the initialisation key and the shuffling key; epoch ``e`` visits
    the examples in the order ``permutation(fold_in(shuffle_key, e), N)``, in
    ``N // batch_size`` full batches. The running BatchNorm statistics are then frozen by
    ``create_model(..., weights=path)``.

    Args:
        model_name: a :func:`ttjax.models.available_models` name.
        images: ``uint8 [N, S, S, 3]`` at ``image_size``.
        labels: ``0..K−1`` (K = the number of classes of the pretraining head).
        test_images, test_labels: the held-out set the accuracy is measured on.
        image_size: ``S``.
        path: where ``{"params", "batch_stats"}`` are written (``.npz``/``.msgpack``).
        key: PRNG key.
        epochs, batch_size, learning_rate, optimizer: the recipe (:class:`PretrainOptimizer`).
        progress: show a progress bar.

    Returns:
        The saved path and the test accuracy.
    """
    from .._progress import progress_bar
    from ..models import create_model
    from ..weights import save_flax_variables

    num_classes = int(labels.max()) + 1
    k_init, k_shuffle = jax.random.split(key)
    model = create_model(
        model_name, num_classes=num_classes, image_size=image_size, weights=None, key=k_init
    )
    n = len(labels)
    steps_per_epoch = n // batch_size
    tx = _optimizer(optimizer, learning_rate, epochs * steps_per_epoch)
    step = _make_step(model.module, tx, num_classes)
    params, stats = model.params, model.batch_stats
    opt_state = tx.init(params)
    with progress_bar(progress, epochs * steps_per_epoch, "pretraining") as tick:
        for epoch in range(epochs):
            perm = np.asarray(jax.random.permutation(jax.random.fold_in(k_shuffle, epoch), n))
            for i in range(steps_per_epoch):
                idx = perm[i * batch_size : (i + 1) * batch_size]
                x = model.preprocess(images[idx])
                params, stats, opt_state, loss = step(
                    params, stats, opt_state, x, jnp.asarray(labels[idx])
                )
                tick(status=f"epoch {epoch + 1} loss {float(loss):.3f}")
    accuracy = _accuracy(model.module, params, stats, model.preprocess, test_images, test_labels)
    out = save_flax_variables(path, {"params": params, "batch_stats": stats})
    return PretrainResult(path=out, test_accuracy=accuracy, train_examples=n, epochs=epochs)


def _accuracy(
    module: Any,
    params: PyTree,
    stats: PyTree,
    preprocess: Callable[[np.ndarray], Array],
    images: np.ndarray,
    labels: np.ndarray,
    chunk: int = 500,
) -> float:
    """Top-1 accuracy with BatchNorm in inference mode, ``chunk`` images at a time."""

    @jax.jit
    def predict(params: PyTree, stats: PyTree, x: Array) -> Array:
        logits = module.apply({"params": params, "batch_stats": stats}, x)
        return jnp.argmax(jnp.asarray(logits), -1)

    correct = 0
    for i in range(0, len(labels), chunk):
        pred = predict(params, stats, preprocess(images[i : i + chunk]))
        correct += int(np.sum(np.asarray(pred) == labels[i : i + chunk]))
    return correct / len(labels)
