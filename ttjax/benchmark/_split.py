"""Tuning / held-out split of benchmark cases by a fixed hash of the case key.

Every default of the predictor is chosen on the ``tune`` half and accuracy is reported on the
``heldout`` half. The split of a case depends on its key alone — not on the grid it sits in or
on the order of cases — so adding cases never moves an old one between halves:

    split(key) = tune if SHA-256(key)[last byte] is even else heldout.
"""

from __future__ import annotations

import enum
import hashlib


class Split(enum.Enum):
    """Which half of the cases a summary reports (``ALL``: both)."""

    TUNE = "tune"
    HELDOUT = "heldout"
    ALL = "all"


def case_split(key: str) -> Split:
    """``Split.TUNE`` or ``Split.HELDOUT`` for a case key (see the module docstring).

    Example:
        >>> case_split("0123456789abcdef") in (Split.TUNE, Split.HELDOUT)
        True
        >>> case_split("0123456789abcdef") is case_split("0123456789abcdef")
        True
    """
    last = hashlib.sha256(key.encode()).digest()[-1]
    return Split.TUNE if last % 2 == 0 else Split.HELDOUT


def in_split(key: str, split: Split) -> bool:
    """Whether the case ``key`` belongs to ``split`` (always, for ``Split.ALL``)."""
    return split is Split.ALL or case_split(key) is split
