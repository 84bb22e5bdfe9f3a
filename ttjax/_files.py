"""Output files: check a path is writable *before* any computation; write it atomically.

Every file ttjax writes (``--json``, ``--plot``, ``benchmark --out``, the Θ cache) goes
through these two functions, so a bad path is one clear :class:`ConfigError` raised up front,
and a failed write leaves neither a partial file nor a temporary one behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ._errors import ConfigError


def check_output_path(path: str | os.PathLike[str], *, what: str) -> Path:
    """Raise :class:`ConfigError` unless a file can be written at ``path``; creates nothing.

    The path must not be an existing folder, device, pipe or socket; its nearest existing
    ancestor must be a folder in which a file can really be created (probed with a temporary
    file, removed at once, so read-only mounts and pseudo file systems such as ``/proc`` are
    caught too).

    Args:
        path: the file to be written (missing parent folders are allowed: they are created
            when the file is written).
        what: how the user named it, e.g. ``"--json"``; starts the error message.

    Returns:
        ``path`` as a :class:`Path`.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> check_output_path(d + "/sub/out.json", what="--json").name
        'out.json'
        >>> check_output_path(d, what="--json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ttjax._errors.ConfigError: --json ... is a folder; give a file path such as .../result.json.
    """
    p = Path(path)  # as the writer will open it (a quoted "~" is not the home folder there)
    if p.is_dir():
        raise ConfigError(
            f"{what} {p} is a folder; give a file path such as {p / ('result' + _ext(what))}."
        )
    if p.exists() and not p.is_file():  # the atomic rename would replace a device or FIFO
        raise ConfigError(
            f"{what} {p} is not a regular file (a device, pipe or socket); give a file path."
        )
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"{what} {p}: {ancestor} is a file, not a folder; choose a path inside a folder."
        )
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".ttjax-probe-", suffix=".tmp")
    except OSError as err:
        raise ConfigError(
            f"{what} {p}: cannot create files in {ancestor} ({err.strerror}); "
            "choose a writable folder."
        ) from None
    os.close(fd)
    os.unlink(probe)
    return p


def _ext(what: str) -> str:
    return ".png" if "plot" in what else ".jsonl" if "out" in what else ".json"


def _umask() -> int:
    """The process umask (read by setting it and putting it back: POSIX has no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], *, mode: str = "w", what: str = "output"
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success rename it onto ``path``.

    The rename is atomic on POSIX, so readers see the old file or the whole new one. On any
    failure the temporary file is removed; an ``OSError`` becomes a :class:`ConfigError`
    naming ``what`` and the path.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a" / "x.txt"
        >>> with atomic_write(p) as fh:
        ...     _ = fh.write("hi")
        >>> p.read_text(), sorted(q.name for q in p.parent.iterdir())
        ('hi', ['x.txt'])
        >>> p.stat().st_mode & 0o777 == 0o666 & ~_umask()  # as open() would create it
        True
    """
    p = Path(path)
    tmp: str | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; give it what open() would have: 0666 less the umask
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
        tmp = None
    except OSError as err:
        raise ConfigError(
            f"could not write {what} {p} ({err.strerror or err}); choose a writable file path."
        ) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
