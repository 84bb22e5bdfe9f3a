"""Every offline data source, checked against the raw files / an independent reader."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ttjax._errors import DataError
from ttjax.data import SourceKind, SourceSpec, load_source
from ttjax.data._sources import FASHION_MNIST_DIR, read_idx


def test_spec_parsing() -> None:
    assert SourceSpec.parse("sample").kind is SourceKind.SAMPLE
    s = SourceSpec.parse("tfds:cifar10")
    assert (s.kind, s.name, s.split) == (SourceKind.TFDS, "cifar10", "train")
    assert SourceSpec.parse("tfds:cars196:test[:10%]").split == "test[:10%]"
    assert SourceSpec.parse("npz:/a/b:c.npz").path == "/a/b:c.npz"  # only the first ':' splits
    with pytest.raises(DataError, match="valid sources: sample, fashion_mnist"):
        SourceSpec.parse("cifar10")
    with pytest.raises(DataError, match="needs an argument"):
        SourceSpec.parse("folder:")


def test_sample_is_fashion_mnist_classes_5_to_9() -> None:
    x, y = load_source("sample")
    assert x.shape == (750, 28, 28, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(np.unique(y, return_counts=True)[1], [150] * 5)
    assert set(np.unique(y).tolist()) == {5, 6, 7, 8, 9}
    assert np.array_equal(x[..., 0], x[..., 2])  # grey repeated to 3 channels
    if (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        raw = read_idx(FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz")
        labels = read_idx(FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz")
        # every embedded image is a training image of the class it is labelled with
        for i in (0, 200, 749):
            match = np.flatnonzero((raw == x[i, ..., 0]).all(axis=(1, 2)))
            assert match.size and labels[match[0]] == y[i]


@pytest.mark.skipif(
    not (FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_fashion_mnist_matches_idx_bytes() -> None:
    x, y = load_source("fashion_mnist")
    assert x.shape == (60000, 28, 28, 3) and y.shape == (60000,)
    with gzip.open(FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz") as fh:
        raw = np.frombuffer(fh.read(), np.uint8, offset=8)  # IDX1 header: magic + count
    assert np.array_equal(y, raw)
    assert np.bincount(y).tolist() == [6000] * 10


def test_idx_reader_rejects_garbage(tmp_path: Path) -> None:
    p = tmp_path / "bad.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")  # says 5 bytes, holds 3
    with pytest.raises(DataError, match="corrupt"):
        read_idx(p)


def test_digits_scaled_from_sklearn() -> None:
    from sklearn.datasets import load_digits

    d: Any = load_digits()
    x, y = load_source("digits")
    assert x.shape == (1797, 8, 8, 3)
    assert np.array_equal(y, d.target)
    assert np.array_equal(x[..., 1], np.rint(d.images * 255 / 16).astype(np.uint8))
    assert x.max() == 255


@pytest.mark.parametrize(
    ("shape", "dtype", "scale"),
    [((6, 5, 4), np.uint8, 1), ((6, 5, 4, 1), np.uint8, 1), ((6, 5, 4, 3), np.uint8, 1),
     ((6, 5, 4, 3), np.float32, 1 / 255), ((6, 5, 4), np.float64, 1.0)],
)  # fmt: skip
def test_npz_round_trip(tmp_path: Path, shape: tuple[int, ...], dtype: type, scale: float) -> None:
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, shape).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9])
    np.savez(tmp_path / "d.npz", images=(raw * scale).astype(dtype), labels=labels)
    x, y = load_source(f"npz:{tmp_path / 'd.npz'}")
    want = (
        raw if raw.ndim == 4 and raw.shape[-1] == 3 else np.repeat(raw.reshape(6, 5, 4, 1), 3, -1)
    )
    assert np.array_equal(x, want) and np.array_equal(y, labels)


@pytest.mark.parametrize(
    ("images", "labels", "match"),
    [
        (np.zeros((4, 5, 5, 2), np.uint8), np.zeros(4, int), "shape"),
        (np.zeros((4, 5), np.uint8), np.zeros(4, int), "shape"),
        (np.full((4, 5, 5), np.nan), np.zeros(4, int), "NaN"),
        (np.full((4, 5, 5), 300, np.int32), np.zeros(4, int), "0–255"),
        (np.zeros((4, 5, 5), np.uint8), np.array([0, 1, -1, 2]), "non-negative"),
        (np.zeros((4, 5, 5), np.uint8), np.array([0.0, 1.5, 2, 3]), "integers"),
        (np.zeros((4, 5, 5), np.uint8), np.zeros(3, int), r"\[4\]"),
        (np.array([["a"] * 25] * 4).reshape(4, 5, 5), np.zeros(4, int), "dtype"),
    ],
)
def test_npz_bad_arrays(tmp_path: Path, images: np.ndarray, labels: np.ndarray, match: str) -> None:
    np.savez(tmp_path / "d.npz", images=images, labels=labels)
    with pytest.raises(DataError, match=match):
        load_source(f"npz:{tmp_path / 'd.npz'}")


def test_npz_missing_file_or_arrays(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_source(f"npz:{tmp_path / 'nope.npz'}")
    np.savez(tmp_path / "d.npz", x=np.zeros(3))
    with pytest.raises(DataError, match=r"lacks the array\(s\) \['images', 'labels'\]"):
        load_source(f"npz:{tmp_path / 'd.npz'}")
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="corrupt"):
        load_source(f"npz:{tmp_path / 'c.npz'}")


def _write_folder(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> dict[str, list]:
    rng = np.random.default_rng(1)
    written: dict[str, list] = {}
    for cls, shapes in sizes.items():
        (root / cls).mkdir(parents=True)
        written[cls] = []
        for i, (h, w) in enumerate(shapes):
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / cls / f"{i}.png")  # PNG: lossless
            written[cls].append(img)
    return written


def test_folder_reads_sorted_classes_exactly(tmp_path: Path) -> None:
    written = _write_folder(tmp_path, {"zebra": [(6, 7)] * 2, "ant": [(6, 7)] * 3})
    (tmp_path / "ant" / "notes.txt").write_text("ignored")
    x, y = load_source(f"folder:{tmp_path}")
    assert y.tolist() == [0, 0, 0, 1, 1]  # "ant" < "zebra"
    assert np.array_equal(x, np.stack(written["ant"] + written["zebra"]))


def test_folder_varying_sizes_need_image_size(tmp_path: Path) -> None:
    _write_folder(tmp_path, {"a": [(6, 7), (9, 4)], "b": [(5, 5)]})
    with pytest.raises(DataError, match="different sizes; pass image_size"):
        load_source(f"folder:{tmp_path}")
    x, _ = load_source(f"folder:{tmp_path}", image_size=8)
    assert x.shape == (3, 8, 8, 3)


def test_folder_16_bit_grayscale_is_rescaled_not_clipped(tmp_path: Path) -> None:
    """PIL's convert("RGB") clips 16-bit values at 255: a 16-bit PNG came out white."""
    from PIL import Image

    ramp = np.array([[0, 257 * 64, 257 * 128, 65535]], np.uint16)
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(ramp).save(tmp_path / cls / "0.png")
    x, _ = load_source(f"folder:{tmp_path}")
    assert x.dtype == np.uint8 and x[0, 0, :, 0].tolist() == [0, 64, 128, 255]
    assert np.array_equal(x[..., 0], x[..., 2])  # gray → three equal channels


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_source(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(DataError, match="no class sub-folders"):
        load_source(f"folder:{tmp_path}")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        load_source(f"folder:{tmp_path}")
