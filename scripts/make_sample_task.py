"""Build the embedded default task ``ttjax/data/sample.npz`` from Debian's Fashion-MNIST.

5 classes (5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot: the classes the offline ResNet
never sees, see ``pretrain_resnet_fashion_mnist.py``) × 150 train images each, drawn with seed 0,
kept as 28×28 grey uint8 (the loader repeats grey to 3 channels), stored compressed.

Run (needs ``apt-get install dataset-fashion-mnist``)::

    python scripts/make_sample_task.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ttjax.data import FASHION_MNIST_DIR, read_idx

CLASSES = (5, 6, 7, 8, 9)
PER_CLASS = 150


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parents[1] / "ttjax/data/sample.npz"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images = read_idx(FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(args.seed)
    index = np.concatenate(
        [
            np.sort(rng.choice(np.flatnonzero(labels == c), PER_CLASS, replace=False))
            for c in CLASSES
        ]
    )
    np.savez_compressed(
        args.out, images=images[index].astype(np.uint8), labels=labels[index].astype(np.uint8)
    )
    print(
        f"wrote {args.out}: {len(index)} images, classes {CLASSES}, "
        f"{Path(args.out).stat().st_size / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
