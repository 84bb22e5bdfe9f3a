"""Offline stand-in for ImageNet weights: pretrain ResNet-18 on Fashion-MNIST classes 0–4.

No ResNet ImageNet checkpoint can be downloaded on an offline machine (docs: OFFLINE.md). This
script pretrains ``resnet18`` (torchvision layout, ImageNet stem, 32×32 inputs: the CIFAR stem
keeps 32×32 feature maps in layer1 and is ~25× costlier per step on a CPU) on Fashion-MNIST
classes 0–4 (T-shirt, trouser, pullover, dress, coat), with BatchNorm in *training* mode; the
running statistics are then frozen by ``create_model``. Fine-tuning experiments then use the
classes it never saw, 5–9 (the embedded ``sample`` task). To stay ~10 minutes on 2 CPU cores
the training set is subsampled (``--per-class``, default 1000 of 6000 per class).

The checkpoint (params + batch_stats, ``ttjax.weights.save_flax_variables`` ``.npz``) goes to
the ttjax cache dir and is loaded with ``--weights PATH`` / ``create_model(..., weights=PATH)``::

    python scripts/pretrain_resnet_fashion_mnist.py            # ~10 min on 2 cores
    ttjax finetune --model resnet18 --image-size 32 --weights ~/.cache/ttjax/resnet18_fmnist04.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ttjax.data import resize_images
from ttjax.data._sources import load_fashion_mnist
from ttjax.models import create_model
from ttjax.weights import cache_dir, save_flax_variables

SOURCE_CLASSES = (0, 1, 2, 3, 4)


def _subset(split: str, per_class: int | None, size: int, seed: int) -> tuple[np.ndarray, ...]:
    x, y = load_fashion_mnist(split)
    rng = np.random.default_rng(seed)
    idx = [np.flatnonzero(y == c) for c in SOURCE_CLASSES]
    if per_class is not None:
        idx = [rng.choice(i, min(per_class, len(i)), replace=False) for i in idx]
    sel = rng.permutation(np.concatenate(idx))
    return resize_images(x[sel], size), y[sel].astype(np.int32)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--per-class", type=int, default=1000, help="train images per class")
    parser.add_argument("--test-per-class", type=int, default=None, help="default: all 1000")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="default: <cache dir>/resnet18_fmnist04.npz")
    args = parser.parse_args()
    from rich.progress import Progress

    t_start = time.perf_counter()
    xtr, ytr = _subset("train", args.per_class, args.image_size, args.seed)
    xte, yte = _subset("test", args.test_per_class, args.image_size, args.seed)
    model = create_model(args.model, num_classes=len(SOURCE_CLASSES), image_size=args.image_size,
                         weights=None, key=jax.random.key(args.seed))  # fmt: skip
    module, pre = model.module, model.preprocess
    opt = optax.sgd(optax.cosine_decay_schedule(args.lr, args.epochs * len(xtr) // args.batch_size),
                    momentum=0.9)  # fmt: skip
    params, stats = model.params, model.batch_stats
    opt_state = opt.init(params)

    @jax.jit
    def step(params, stats, opt_state, x, y):  # type: ignore[no-untyped-def]
        def loss_fn(p):  # type: ignore[no-untyped-def]
            logits, upd = module.apply({"params": p, "batch_stats": stats}, pre(x), train=True,
                                       mutable=["batch_stats"])  # fmt: skip
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), upd

        (loss, upd), g = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = opt.update(g, opt_state, params)
        return optax.apply_updates(params, updates), upd["batch_stats"], opt_state, loss

    @jax.jit
    def predict(params, stats, x):  # type: ignore[no-untyped-def]
        logits = module.apply({"params": params, "batch_stats": stats}, pre(x), train=False)
        return jnp.argmax(logits, -1)  # pyright: ignore[reportArgumentType]

    steps_per_epoch = len(xtr) // args.batch_size
    rng = np.random.default_rng(args.seed + 1)
    with Progress() as bar:
        task = bar.add_task("pretraining", total=args.epochs * steps_per_epoch)
        for _ in range(args.epochs):
            perm = rng.permutation(len(xtr))
            for b in range(steps_per_epoch):
                i = perm[b * args.batch_size : (b + 1) * args.batch_size]
                params, stats, opt_state, loss = step(params, stats, opt_state, xtr[i], ytr[i])
                bar.update(task, advance=1, description=f"pretraining loss {float(loss):.3f}")
    correct = sum(int((np.asarray(predict(params, stats, xte[i:i + 500])) == yte[i:i + 500]).sum())
                  for i in range(0, len(xte), 500))  # fmt: skip
    out = Path(args.out) if args.out else cache_dir() / f"{args.model}_fmnist04.npz"
    save_flax_variables(out, {"params": params, "batch_stats": stats})
    print(
        f"test accuracy on Fashion-MNIST classes 0-4: {correct / len(xte):.4f} "
        f"({len(xte)} images); train images {len(xtr)}, {args.epochs} epochs; "
        f"{time.perf_counter() - t_start:.0f} s; saved {out}"
    )


if __name__ == "__main__":
    main()
