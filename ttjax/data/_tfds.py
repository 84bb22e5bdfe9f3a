"""tensorflow-datasets through ``data_source`` (random access, works without TensorFlow).

Only datasets prepared in the ``array_record`` file format can be read this way. Preparing the
built-in datasets (cifar10, caltech_birds2011, ...) needs internet and, for most builders,
TensorFlow; reading them afterwards does not.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import numpy as np

from .._errors import DataError
from .._types import Images, Labels
from ._resize import stack_images
from ._validate import as_labels, as_rgb_uint8

_CHUNK = 1024


def _how_to_prepare(name: str, data_dir: str | None) -> str:
    where = f", data_dir={data_dir!r}" if data_dir else ""
    return (
        f"prepare it once on a machine with internet (most built-in builders also need "
        f"`pip install tensorflow-cpu`): tfds.builder({name!r}{where}).download_and_prepare("
        f"file_format='array_record'), or `tfds build {name} --file_format=array_record`; "
        "then point $TFDS_DATA_DIR at that directory"
    )


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Silence TFDS's absl WARNING lines (e.g. "Variant folder … has no dataset_info.json")
    while the builder is looked up: what they report is raised below as one clear DataError."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_tfds(
    name: str, split: str, *, data_dir: str | None, image_size: int | None
) -> tuple[Images, Labels]:
    """Read all ``image``/``label`` records of ``name[split]``.

    Args:
        name: TFDS dataset name (optionally ``name/config:version``).
        split: split, e.g. ``"train"`` or ``"train[:10%]"``.
        data_dir: where prepared datasets live; ``None`` reads ``$TFDS_DATA_DIR`` (else TFDS's
            default ``~/tensorflow_datasets``).
        image_size: if the images differ in size, each is resized to this (PIL bilinear).
    """
    try:
        import tensorflow_datasets as tfds
        from tensorflow_datasets.core.registered import DatasetNotFoundError
    except ImportError:
        raise DataError(
            "tfds sources need tensorflow-datasets: pip install tensorflow-datasets array_record."
        ) from None
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or None
    try:
        with _quiet_absl():
            builder = tfds.builder(name, data_dir=data_dir)
            prepared = builder.is_prepared()
    except DatasetNotFoundError:
        raise DataError(
            f"TFDS has no dataset {name!r} (nor is one prepared under "
            f"{data_dir or 'the default data_dir'}); see https://www.tensorflow.org/datasets/catalog."
        ) from None
    if not prepared:
        raise DataError(
            f"TFDS dataset {name!r} is not prepared under {builder.data_dir}; "
            + _how_to_prepare(name, data_dir)
            + "."
        )
    try:
        source = builder.as_data_source(split=split)  # pyright: ignore[reportCallIssue]
    except ValueError as err:
        raise DataError(f"TFDS dataset {name!r}: {err}") from None
    except NotImplementedError:
        raise DataError(
            f"TFDS dataset {name!r} is prepared in a format without random access (tfrecord); "
            + _how_to_prepare(name, data_dir)
            + "."
        ) from None
    n = len(source)
    if n == 0:
        raise DataError(f"TFDS dataset {name!r} split {split!r} is empty.")
    first = source[0]
    if "image" not in first or "label" not in first:
        raise DataError(
            f"TFDS dataset {name!r} has features {sorted(first)}; ttjax needs 'image' and "
            "'label' (an image classification dataset)."
        )
    images: list[np.ndarray] = []
    labels: list[int] = []
    for start in range(0, n, _CHUNK):
        for rec in source.__getitems__(list(range(start, min(n, start + _CHUNK)))):
            img = np.asarray(rec["image"])
            images.append(img if img.ndim == 3 else img[..., None])
            labels.append(int(rec["label"]))
    where = f"tfds:{name}:{split}"
    if len({img.shape for img in images}) == 1:
        x = as_rgb_uint8(np.stack(images), where=where)
    else:
        rgb = [as_rgb_uint8(img[None], where=where)[0] for img in images]
        x = stack_images(rgb, image_size=image_size, where=where)
    return x, as_labels(np.asarray(labels), n=len(x), where=where)
