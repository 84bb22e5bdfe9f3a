"""The task sampler: K random classes × n images per class, resized, labels remapped."""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Int, UInt8

from .._errors import DataError
from .._fields import as_int
from .._types import Images, Labels
from ._resize import resize_images
from ._spec import SourceKind, SourceSpec
from ._validate import as_labels, as_rgb_uint8


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class Task:
    """A fine-tuning task (immutable).

    Attributes:
        images: ``uint8 [K·n, S, S, 3]``, **class-major**: the n images of class 0 first, then
            class 1, ...; within a class in the random order they were drawn.
        labels: ``int32 [K·n]`` in ``0..K−1``.
        class_ids: ``int64 [K]``, the original label of each new class (increasing).
        source: where the images came from (a description).
    """

    images: UInt8[np.ndarray, "KN S S 3"]
    labels: Int[np.ndarray, " KN"]
    class_ids: Int[np.ndarray, " K"]
    source: str = ""

    def __post_init__(self) -> None:
        """A hand-built Task gets the contract's checks (what ``sample_task`` produces passes):
        uint8 RGB images, one integer label per image in 0..K−1, K = ``len(class_ids)``."""
        x, y = np.asarray(self.images), np.asarray(self.labels)
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3:
            raise DataError(
                f"Task.images must be uint8 [N, S, S, 3], got {x.dtype} {x.shape}; build tasks "
                "with ttjax.sample_task (it converts float/grey images), or convert them first."
            )
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"Task.labels must be integers [N] = [{len(x)}] (one per image), got {y.dtype} "
                f"{y.shape}."
            )
        k = len(np.asarray(self.class_ids))
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= k):
            raise DataError(
                f"Task.labels span {int(y.min())}..{int(y.max())} but there are {k} classes "
                f"(class_ids); labels must be 0..{k - 1}, one class_id per class."
            )

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    @property
    def num_examples(self) -> int:
        return len(self.labels)

    @property
    def per_class(self) -> int:
        """n, the images of each class (the task is balanced: ``num_examples = K·n``)."""
        return self.num_examples // self.num_classes

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])


def sample_task(
    images: Images,
    labels: Int[np.ndarray, " M"],  # M, not N: a length mismatch gets the DataError below
    *,
    classes: int,
    per_class: int,
    image_size: int,
    seed: int,
    source: str = "",
    fit_classes: bool = False,
    fit_per_class: bool = False,
) -> Task:
    """Draw K = ``classes`` random classes and n = ``per_class`` random images of each.

    With ``rng = numpy.random.default_rng(seed)``: the K classes are drawn without replacement
    among the distinct labels, then sorted and remapped to ``0..K−1`` in that order; for each
    class (in order) n of its images are drawn without replacement. Images are resized to
    ``image_size × image_size`` with PIL's bilinear filter (anti-aliased when shrinking).

    ``fit_classes`` / ``fit_per_class`` (the CLI's defaults, when ``--classes`` /
    ``--per-class`` are not given) make K / n upper bounds instead of demands:
    K = min(``classes``, number of distinct labels), n = min(``per_class``, images in the
    smallest chosen class); the sizes used are ``Task.num_classes`` and ``Task.per_class``.

    Raises:
        DataError: K < 2, fewer than K classes, fewer than n images in a chosen class, bad sizes.

    Example:
        >>> x = np.zeros((20, 8, 8, 3), np.uint8); y = np.arange(20) % 4
        >>> t = sample_task(x, y, classes=2, per_class=3, image_size=16, seed=0)
        >>> t.images.shape, t.labels.tolist()
        ((6, 16, 16, 3), [0, 0, 0, 1, 1, 1])
        >>> sample_task(x, y, classes=9, per_class=40, image_size=8, seed=0,
        ...             fit_classes=True, fit_per_class=True).images.shape  # 4 classes × 5
        (20, 8, 8, 3)
    """
    classes, per_class, image_size = (
        as_int(v, name=n) for n, v in
        (("classes", classes), ("per_class", per_class), ("image_size", image_size))
    )  # fmt: skip
    seed = as_int(seed, name="seed", minimum=0)
    for name, value in (("classes", classes), ("per_class", per_class), ("image_size", image_size)):
        if value < 1:
            raise DataError(f"{name} must be ≥ 1, got {value}.")
    if classes < 2:
        raise DataError(
            f"classes must be ≥ 2, got {classes}: with one class every label is the same and "
            "there is nothing to learn (Tε would be 0); use --classes 2 or more."
        )
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise DataError(f"{len(images)} images but {len(labels)} labels; they must match.")
    where = source or "sample_task"
    images = as_rgb_uint8(images, where=where)  # float / grey / int images → uint8 RGB
    labels = as_labels(labels, n=len(images), where=where)
    rng = np.random.default_rng(seed)
    present, counts = np.unique(labels, return_counts=True)
    if fit_classes:
        classes = min(classes, len(present))
        if classes < 2:
            raise DataError(
                f"the data has only {len(present)} class ({present.tolist()}): a classification "
                "task needs at least 2; give images of 2 or more classes."
            )
    if len(present) < classes:
        raise DataError(
            f"asked for {classes} classes but the data has only {len(present)} "
            f"({present.tolist()}); use --classes ≤ {len(present)}."
        )
    chosen = np.sort(rng.choice(present, size=classes, replace=False))
    count_of = dict(zip(present.tolist(), counts.tolist(), strict=True))
    if fit_per_class:
        per_class = min(per_class, *(count_of[int(c)] for c in chosen))
    short = {int(c): count_of[int(c)] for c in chosen if count_of[int(c)] < per_class}
    if short:
        raise DataError(
            f"asked for {per_class} images per class but class(es) {short} (id: count) have "
            f"fewer; use --per-class ≤ {min(short.values())}."
        )
    index = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False) for c in chosen]
    )
    return Task(
        images=resize_images(np.asarray(images)[index], image_size),
        labels=np.repeat(np.arange(classes, dtype=np.int32), per_class),
        class_ids=chosen.astype(np.int64),
        source=source,
    )


def load_source(spec: str | SourceSpec, *, image_size: int | None = None) -> tuple[Images, Labels]:
    """Load a whole image source as ``(uint8 [N, H, W, 3], int64 [N])``.

    ``spec`` is one of ``sample``, ``fashion_mnist``, ``digits``, ``npz:PATH``, ``folder:PATH``,
    ``tfds:NAME[:SPLIT]`` (see :class:`SourceKind`). Grey images get 3 equal channels.
    ``image_size`` is only used by ``folder``/``tfds`` sources whose images differ in size:
    each is then resized to ``image_size²`` on load.

    Raises:
        DataError: unknown source, missing file, bad arrays, TFDS dataset not prepared.

    Example:
        >>> x, y = load_source("digits")
        >>> x.shape, x.dtype, int(y.max())
        ((1797, 8, 8, 3), dtype('uint8'), 9)
    """
    from . import _sources
    from ._tfds import load_tfds

    s = spec if isinstance(spec, SourceSpec) else SourceSpec.parse(spec)
    match s.kind:
        case SourceKind.SAMPLE:
            return _sources.load_sample()
        case SourceKind.FASHION_MNIST:
            return _sources.load_fashion_mnist()
        case SourceKind.DIGITS:
            return _sources.load_digits()
        case SourceKind.NPZ:
            return _sources.load_npz(str(s.path))
        case SourceKind.FOLDER:
            return _sources.load_folder(str(s.path), image_size=image_size)
        case SourceKind.TFDS:
            return load_tfds(str(s.name), s.split, data_dir=None, image_size=image_size)


def load_task(
    data: str | SourceSpec,
    *,
    classes: int,
    per_class: int,
    image_size: int,
    seed: int,
    fit_classes: bool = False,
    fit_per_class: bool = False,
) -> Task:
    """:func:`load_source` then :func:`sample_task` (the same seeded draw and ``fit_*`` flags).

    Example:
        >>> t = load_task("sample", classes=5, per_class=10, image_size=32, seed=0)
        >>> t.images.shape, t.class_ids.tolist()
        ((50, 32, 32, 3), [5, 6, 7, 8, 9])
    """
    spec = data if isinstance(data, SourceSpec) else SourceSpec.parse(data)
    images, labels = load_source(spec, image_size=image_size)
    return sample_task(
        images,
        labels,
        classes=classes,
        per_class=per_class,
        image_size=image_size,
        seed=seed,
        source=str(spec),
        fit_classes=fit_classes,
        fit_per_class=fit_per_class,
    )
