"""Parse a data-source string (``"npz:PATH"``, ``"tfds:NAME:SPLIT"``, ...) once, into an object.

Every other module dispatches on :class:`SourceKind`; no string matching elsewhere.
"""

from __future__ import annotations

import dataclasses
import enum

from .._errors import DataError


class SourceKind(enum.Enum):
    """The kinds of image source :func:`ttjax.data.load_source` reads.

    * ``SAMPLE``: the embedded default task (5 Fashion-MNIST classes × 150 images).
    * ``FASHION_MNIST``: the Fashion-MNIST train split (Debian package files, else TFDS).
    * ``DIGITS``: scikit-learn's 8×8 digits (1797 images).
    * ``NPZ``: a ``.npz`` file with arrays ``images`` and ``labels``.
    * ``FOLDER``: a directory with one sub-folder of images per class.
    * ``TFDS``: a tensorflow-datasets dataset prepared in ``array_record`` format.
    """

    SAMPLE = "sample"
    FASHION_MNIST = "fashion_mnist"
    DIGITS = "digits"
    NPZ = "npz"
    FOLDER = "folder"
    TFDS = "tfds"


_NO_ARGUMENT = (SourceKind.SAMPLE, SourceKind.FASHION_MNIST, SourceKind.DIGITS)
VALID_SOURCES = "sample, fashion_mnist, digits, npz:PATH, folder:PATH, tfds:NAME[:SPLIT]"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SourceSpec:
    """A parsed data source.

    Attributes:
        kind: which loader reads it.
        path: file or directory (``NPZ``/``FOLDER``), else ``None``.
        name: TFDS dataset name (``TFDS``), else ``None``.
        split: TFDS split (default ``"train"``).

    Example:
        >>> SourceSpec.parse("tfds:cifar10:test").split
        'test'
    """

    kind: SourceKind
    path: str | None = None
    name: str | None = None
    split: str = "train"

    @classmethod
    def parse(cls, spec: str) -> SourceSpec:
        """Parse ``sample | fashion_mnist | digits | npz:PATH | folder:PATH | tfds:NAME[:SPLIT]``.

        Raises:
            DataError: for an unknown source or a missing argument (lists the valid forms).
        """
        text = spec.strip()
        head, sep, rest = text.partition(":")
        try:
            kind = SourceKind(head.lower())
        except ValueError:
            raise DataError(
                f"unknown data source {spec!r}; valid sources: {VALID_SOURCES}."
            ) from None
        if kind in _NO_ARGUMENT:
            if sep:
                raise DataError(f"data source {head!r} takes no argument, got {spec!r}.")
            return cls(kind=kind)
        if not rest:
            form = "tfds:NAME[:SPLIT]" if kind is SourceKind.TFDS else f"{kind.value}:PATH"
            raise DataError(f"data source {spec!r} needs an argument: use {form}.")
        if kind is SourceKind.TFDS:
            name, _, split = rest.partition(":")
            return cls(kind=kind, name=name, split=split or "train")
        return cls(kind=kind, path=rest)

    def __str__(self) -> str:
        if self.kind is SourceKind.TFDS:
            return f"tfds:{self.name}:{self.split}"
        if self.path is not None:
            return f"{self.kind.value}:{self.path}"
        return self.kind.value
