"""Readers for the offline sources: embedded sample, Fashion-MNIST, digits, npz, folder."""

from __future__ import annotations

import gzip
import importlib.resources
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DataError
from .._types import Images, Labels
from ._resize import stack_images
from ._validate import as_labels, as_rgb_uint8

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts its IDX files."""

SAMPLE_FILE = "sample.npz"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


def load_sample() -> tuple[Images, Labels]:
    """The embedded task: 5 Fashion-MNIST classes (5–9) × 150 train images, 28×28 grey."""
    ref = importlib.resources.files("ttjax.data").joinpath(SAMPLE_FILE)
    with importlib.resources.as_file(ref) as path, np.load(path) as f:
        images, labels = f["images"], f["labels"]
    return as_rgb_uint8(images, where="sample"), as_labels(labels, n=len(images), where="sample")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) of unsigned bytes, as used by (Fashion-)MNIST.

    Format: 2 zero bytes, a dtype byte (0x08 = uint8), the rank d, d big-endian int32 sizes,
    then the data in C order.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes; is it corrupt?")
    rank = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=rank, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: expected {dims} bytes of data, found {data.size}; corrupt file.")
    return data.reshape(dims)


def load_fashion_mnist(split: str = "train") -> tuple[Images, Labels]:
    """Fashion-MNIST from the Debian package files, else through TFDS."""
    prefix = "train" if split == "train" else "t10k"
    img = FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz"
    lab = FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz"
    if img.exists() and lab.exists():
        images = read_idx(img)
        return as_rgb_uint8(images, where=str(img)), as_labels(
            read_idx(lab), n=len(images), where=str(lab)
        )
    from ._tfds import load_tfds

    try:
        return load_tfds("fashion_mnist", split, data_dir=None, image_size=None)
    except DataError as err:
        raise DataError(
            f"Fashion-MNIST not found in {FASHION_MNIST_DIR} (install it with "
            f"`apt-get install dataset-fashion-mnist`) nor through TFDS: {err}"
        ) from None


def load_digits() -> tuple[Images, Labels]:
    """scikit-learn's digits: 1797 images 8×8 with values 0–16, scaled ×255/16 to uint8."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise DataError(
            "the 'digits' source needs scikit-learn: pip install scikit-learn."
        ) from None
    d: Any = sk_load_digits()
    images = np.rint(np.asarray(d.images) * (255.0 / 16.0)).astype(np.uint8)
    return as_rgb_uint8(images, where="digits"), as_labels(d.target, n=len(images), where="digits")


def load_npz(path: str) -> tuple[Images, Labels]:
    """A ``.npz`` with ``images`` ([N,H,W] or [N,H,W,1|3]) and ``labels`` ([N] integers)."""
    p = Path(os.path.expanduser(path))
    if not p.is_file():
        raise DataError(f"npz file {p} does not exist; pass data='npz:/path/to/file.npz'.")
    try:
        # Open the file ourselves: np.load(path) leaks its handle when the zip is truncated.
        with open(p, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            missing = {"images", "labels"} - set(f.files)
            if missing:
                raise DataError(
                    f"{p} lacks the array(s) {sorted(missing)} (it has {sorted(f.files)}); "
                    "save it with np.savez(path, images=..., labels=...)."
                )
            images, labels = f["images"], f["labels"]
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        if "allow_pickle" in str(err) and zipfile.is_zipfile(p):  # a member is an object array
            # (e.g. a list of differently sized images); a non-zip file gets numpy's same words
            raise DataError(
                f"{p} holds Python objects (an object array), not plain arrays; ttjax does not "
                "unpickle data: save images as one uint8 array [N, H, W(, 3)] and labels as "
                "integers, np.savez(path, images=..., labels=...)."
            ) from None
        # A truncated or non-zip file raises BadZipFile/EOFError; a damaged member ValueError.
        raise DataError(
            f"could not read {p} as an npz file ({type(err).__name__}: {err}); it is truncated "
            "or corrupt: re-create it with np.savez(path, images=..., labels=...)."
        ) from None
    x = as_rgb_uint8(images, where=str(p))
    return x, as_labels(labels, n=len(x), where=str(p))


def _rgb_uint8(im: Any) -> np.ndarray:
    """``uint8 [H, W, 3]`` of a PIL image. 16-bit (``I;16*``, or ``I`` holding values above
    255) and float (``F``, in [0, 1] or [0, 255]) grayscale is rescaled to 0–255 first:
    PIL's own ``convert("RGB")`` clips such values at 255 (a 16-bit PNG comes out white).

    Example:
        >>> from PIL import Image
        >>> im = Image.fromarray(np.array([[0, 32896, 65535]], np.uint16))
        >>> _rgb_uint8(im)[0, :, 0].tolist()
        [0, 128, 255]
    """
    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        peak = float(a.max(initial=0.0))
        if im.mode.startswith("I;16") or (im.mode == "I" and peak > 255):
            a = a / 257.0  # 65535 → 255
        elif im.mode == "F" and peak <= 1.0:
            a = a * 255.0
        gray = np.clip(np.round(a), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(im.convert("RGB"))


def load_folder(path: str, *, image_size: int | None) -> tuple[Images, Labels]:
    """One sub-folder per class (class ids = the sorted sub-folder names' positions).

    Images are read with PIL and converted to RGB (16-bit and float grayscale rescaled to
    0–255); if they differ in size each is resized to ``image_size`` (PIL bilinear).
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(os.path.expanduser(path))
    if not root.is_dir():
        raise DataError(f"folder {root} does not exist; pass data='folder:/path/to/root'.")
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(
            f"folder {root} has no class sub-folders; put each class's images in "
            "its own sub-folder (root/cat/1.png, root/dog/2.png, ...)."
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    for cid, cdir in enumerate(classes):
        files = sorted(f for f in cdir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"class folder {cdir} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        for f in files:
            try:
                with Image.open(f) as im:
                    images.append(_rgb_uint8(im))
            except (UnidentifiedImageError, OSError) as err:
                raise DataError(f"could not read image {f}: {err}.") from None
            labels.append(cid)
    x = stack_images(images, image_size=image_size, where=str(root))
    return x, np.asarray(labels, np.int64)
