"""Boolean switches read from environment variables (``TTJAX_NO_COMPILE_CACHE``, …)."""

from __future__ import annotations

import os


def env_flag(name: str) -> bool:
    """True when ``$name`` is set to anything but ``""``, ``0``, ``false`` or ``no`` (any case).

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"TTJAX_DOC_FLAG": " False "}):
        ...     env_flag("TTJAX_DOC_FLAG")
        False
        >>> with mock.patch.dict("os.environ", {"TTJAX_DOC_FLAG": "1"}):
        ...     env_flag("TTJAX_DOC_FLAG")
        True
    """
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


__all__ = ["env_flag"]
