"""Transparent huge pages for malloc, so that XLA:CPU's per-call buffers cost few page faults.

On a CPU every call of a compiled XLA program allocates its temporary buffers afresh and frees
them when it returns: for a training step of EfficientNet-Lite0 on 200 images at 64×64, one
3.5 GB block per call. glibc's ``malloc`` serves a block that large with ``mmap`` and returns it
with ``munmap``, so every call touches 3.5 GB of fresh 4 KiB pages: ≈ 860 000 page faults per
step, about half of the step's CPU time spent in the kernel (measured on the 2-core CPU: 2.1 s a
step, 1.9 s of it system time). With glibc's tunable ``glibc.malloc.hugetlb=1`` (glibc ≥ 2.35)
malloc asks for transparent huge pages (``madvise(MADV_HUGEPAGE)``), one fault per 2 MiB
instead of per 4 KiB: the default ``ttjax finetune`` fell from 356 s to 162 s wall, while
``ttjax predict``, whose largest programs run only once or twice, gained less (43 → 41 s in the
same paired run; README, "Whole-process speed"), with the same peak memory, since freed memory
is still handed back.

A tunable is read once, when the process starts, so the ``ttjax`` command re-executes itself
with it set (:func:`reexec_with_huge_pages`, ≈ 1.5 s of Python start-up) unless it is set
already, the platform is not Linux/glibc, or ``TTJAX_NO_HUGE_PAGES=1``. ``predict`` and
``finetune`` then run under the same allocator, so a predicted wall-clock is that of ``ttjax
finetune``. A library user gets the same speed by starting Python (or Jupyter) with
``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` in the environment; a prediction measures its step in
the process it runs in, so its wall-clock matches training in that same process either way.
"""

from __future__ import annotations

import ctypes
import os
import sys

from ._env import env_flag

DISABLE_ENV = "TTJAX_NO_HUGE_PAGES"
TUNABLE = "glibc.malloc.hugetlb=1"


def _is_glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018 — present in glibc only
    except (OSError, AttributeError):
        return False
    return True


def tunables_with_huge_pages(current: str | None) -> str | None:
    """The ``GLIBC_TUNABLES`` value that adds :data:`TUNABLE` to ``current``; None if present.

    Tunables are ``name=value`` pairs joined by ``:``; one already naming
    ``glibc.malloc.hugetlb`` (whatever its value: the user's choice) is left alone.

    Example:
        >>> tunables_with_huge_pages(None)
        'glibc.malloc.hugetlb=1'
        >>> tunables_with_huge_pages("glibc.malloc.arena_max=2")
        'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'
        >>> tunables_with_huge_pages("glibc.malloc.hugetlb=0") is None
        True
    """
    items = [item for item in (current or "").split(":") if item]
    if any(item.split("=", 1)[0] == "glibc.malloc.hugetlb" for item in items):
        return None
    return ":".join([*items, TUNABLE])


def reexec_with_huge_pages() -> None:
    """Re-execute this Python process with :data:`TUNABLE` in ``GLIBC_TUNABLES`` (see module).

    Returns without doing anything when the tunable is already set (so it runs at most once),
    off Linux/glibc, or when ``$TTJAX_NO_HUGE_PAGES`` is set; otherwise does not return: the
    process is replaced by ``sys.executable`` with the same command line (``sys.orig_argv``:
    ``-m ttjax …``, a console script, ``-c …`` alike) and the amended environment.
    """
    value = tunables_with_huge_pages(os.environ.get("GLIBC_TUNABLES"))
    if value is None or env_flag(DISABLE_ENV) or not _is_glibc():
        return
    env = {**os.environ, "GLIBC_TUNABLES": value}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


__all__ = ["DISABLE_ENV", "TUNABLE", "reexec_with_huge_pages", "tunables_with_huge_pages"]
