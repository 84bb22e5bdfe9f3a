"""Offline stand-in for ImageNet weights: pretrain ResNet-18 on Fashion-MNIST classes 0–4.

No ResNet ImageNet checkpoint can be downloaded on an offline machine (docs: OFFLINE.md). This
script pretrains ``resnet18`` (torchvision layout, ImageNet stem, 32×32 inputs: the CIFAR stem
keeps 32×32 feature maps in layer1 and is ~25× costlier per step on a CPU) on Fashion-MNIST
classes 0–4 (T-shirt, trouser, pullover, dress, coat), with BatchNorm in *training* mode; the
running statistics are then frozen by ``create_model``. Fine-tuning experiments then use the
classes it never saw, 5–9 (the embedded ``sample`` task). To stay ~10 minutes on 2 CPU cores
the training set is subsampled (``--per-class``, default 1000 of 6000 per class). Flags only:
the data and the loop are :func:`ttjax.benchmark._pretrain.source_subset` and
:func:`ttjax.benchmark.pretrain` (SGD, momentum 0.9, cosine decay from ``--lr``).

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

from ttjax.benchmark import PretrainOptimizer, cache_dir, pretrain, source_subset


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    size, seed = args.image_size, args.seed
    xtr, ytr = source_subset("train", per_class=args.per_class, image_size=size, seed=seed)
    xte, yte = source_subset("test", per_class=args.test_per_class, image_size=size, seed=seed)
    res = pretrain(
        model_name=args.model,
        images=xtr,
        labels=ytr,
        test_images=xte,
        test_labels=yte,
        image_size=size,
        path=Path(args.out) if args.out else cache_dir() / f"{args.model}_fmnist04.npz",
        key=jax.random.key(seed),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        optimizer=PretrainOptimizer.SGD_COSINE,
    )
    print(
        f"test accuracy on Fashion-MNIST classes 0-4: {res.test_accuracy:.4f} "
        f"({len(xte)} images); train images {res.train_examples}, {res.epochs} epochs; "
        f"{time.perf_counter() - t_start:.0f} s; saved {res.path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
