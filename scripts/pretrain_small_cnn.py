"""Pretrain ``small_cnn`` on Fashion-MNIST classes 0–4 (the offline "pretrained" model).

The benchmark and the figure scripts fine-tune it on classes 5–9. Writes the weights to
``$TTJAX_CACHE/small_cnn_fmnist0-4_s28.npz`` (default ``~/.cache/ttjax``) and prints the test
accuracy on the 5000 test images of classes 0–4. About 2–5 minutes on a 2-core CPU. Flags only:
the data and the loop are :func:`ttjax.benchmark._pretrain.source_subset` and
:func:`ttjax.benchmark.pretrain` (Adam, lr 2e-3, batch 128).

    python scripts/pretrain_small_cnn.py [--per-class 3000] [--epochs 2] [--force]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax

from ttjax.benchmark import SMALL_CNN_FMNIST, PretrainOptimizer, cache_dir, pretrain, source_subset

IMAGE_SIZE = 28


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--per-class", type=int, default=3000, help="training images per class")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output file (default: the benchmark cache)")
    p.add_argument("--force", action="store_true", help="retrain even if the file exists")
    args = p.parse_args(argv)
    out = args.out or cache_dir() / SMALL_CNN_FMNIST.split(":", 1)[1]
    if not args.force and args.out is None and Path(out).is_file():
        print(f"{out} exists (use --force to retrain)")
        return 0
    x, y = source_subset("train", per_class=args.per_class, image_size=IMAGE_SIZE, seed=args.seed)
    xt, yt = source_subset("test", per_class=None, image_size=IMAGE_SIZE, seed=args.seed)
    res = pretrain(
        model_name="small_cnn",
        images=x,
        labels=y,
        test_images=xt,
        test_labels=yt,
        image_size=IMAGE_SIZE,
        path=out,
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=128,
        learning_rate=2e-3,
        optimizer=PretrainOptimizer.ADAM,
    )
    print(
        f"saved {res.path}: test accuracy on classes 0–4 = {res.test_accuracy:.1%} "
        f"({res.train_examples} train images, {res.epochs} epochs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
