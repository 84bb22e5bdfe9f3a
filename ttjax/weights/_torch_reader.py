"""Read PyTorch ``.pth`` checkpoints with numpy alone, through a restricted unpickler.

Two on-disk formats (``torch/serialization.py``):

* **zip** (torch ≥ 1.6): a zip archive ``<name>/data.pkl`` (the object pickle, whose
  tensors refer to storages by persistent id ``("storage", StorageType, key,
  location, numel)``) and one raw little-endian file ``<name>/data/<key>`` per storage.
* **legacy**: five concatenated pickles — magic number ``0x1950a86a20f9469cfc6c``,
  protocol version ``1001``, a sys-info dict, the object (persistent ids
  ``("storage", StorageType, root_key, location, numel, view_metadata)``), the list
  of storage keys — followed, for each key in that order, by an int64 element count
  and the raw bytes.

A tensor is ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``,
i.e. ``t[i] = storage[offset + Σ_k i_k stride_k]`` (strides in elements), which is
rebuilt here with ``numpy.lib.stride_tricks.as_strided`` after a bounds check.

Only a handful of globals may be loaded (``collections.OrderedDict``, the two
``torch._utils`` rebuild functions, ``torch.*Storage`` types); anything else, and
any malformed file, raises :class:`~ttjax.WeightsError`: loading a checkpoint never
runs code from the file.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from .._errors import WeightsError, WeightsNotFoundError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype(ml_dtypes.bfloat16),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _StorageType:
    """Stand-in for ``torch.<X>Storage`` classes: only carries the dtype."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _Tensor:
    """A rebuilt tensor before the storages are read (legacy format reads them last)."""

    def __init__(
        self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def to_numpy(self) -> np.ndarray:
        data = self.storage.array()
        if any(s < 0 for s in self.size) or any(s < 0 for s in self.stride):
            raise WeightsError("a tensor has a negative size or stride; the checkpoint is corrupt.")
        numel = int(np.prod(self.size)) if self.size else 1
        if numel == 0:
            return np.zeros(self.size, data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True))
        if self.offset < 0 or last >= data.size:
            raise WeightsError(
                f"a tensor reads elements {self.offset}..{last} of a storage of {data.size}; "
                "the checkpoint is corrupt or truncated."
            )
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * data.itemsize for s in self.stride),
            writeable=False,
        )
        out = np.array(view, order="C")  # C-contiguous copy that owns its data
        if out.dtype == ml_dtypes.bfloat16:
            out = out.astype(np.float32)
        return out


class _Storage:
    """A storage: dtype, element count, and (once read) its bytes; views slice a root."""

    def __init__(self, dtype: np.dtype, numel: int) -> None:
        self.dtype, self.numel = dtype, int(numel)
        self.data: np.ndarray | None = None
        self.root: _Storage | None = None
        self.view_offset = 0

    def set_bytes(self, raw: bytes, what: str) -> None:
        need = self.numel * self.dtype.itemsize
        if len(raw) != need:
            raise WeightsError(
                f"storage {what} has {len(raw)} bytes, expected {need}; "
                "the checkpoint is truncated or corrupt."
            )
        self.data = np.frombuffer(raw, dtype=self.dtype)

    def array(self) -> np.ndarray:
        if self.root is not None:
            base = self.root.array()
            return base[self.view_offset : self.view_offset + self.numel]
        if self.data is None:
            raise WeightsError("a tensor refers to a storage missing from the checkpoint.")
        return self.data


def _rebuild_tensor_v2(
    storage: Any, storage_offset: Any, size: Any, stride: Any, *_args: Any
) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise WeightsError("a tensor is not backed by a storage; unsupported checkpoint.")
    try:
        return _Tensor(
            storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride)
        )
    except (TypeError, ValueError) as e:
        raise WeightsError(f"malformed tensor record in the checkpoint ({e}).") from e


def _rebuild_parameter(data: Any, *_args: Any) -> Any:
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, f: io.BufferedIOBase, persistent: Any = None) -> None:
        super().__init__(f)
        self._persistent = persistent

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise WeightsError(
                f"the checkpoint asks to load {module}.{name}, which a weights file never "
                "needs; refusing to unpickle it (only state dicts of tensors are supported)."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._persistent is None:
            raise WeightsError("unexpected persistent id in a checkpoint header.")
        return self._persistent(pid)


def _pickle_load(f: io.BufferedIOBase, persistent: Any = None) -> Any:
    try:
        return _RestrictedUnpickler(f, persistent).load()
    except WeightsError:
        raise
    except Exception as e:  # EOFError, UnpicklingError, struct errors, ...
        raise WeightsError(
            f"cannot unpickle the checkpoint ({type(e).__name__}: {e}); the "
            "file is truncated or not a torch checkpoint."
        ) from e


def _storage_type(obj: Any) -> _StorageType:
    if not isinstance(obj, _StorageType):
        raise WeightsError(
            f"unsupported storage type {obj!r} (supported: {', '.join(_STORAGE_DTYPES)})."
        )
    return obj


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise WeightsError(
                f"{path} is a zip file without a single '<name>/data.pkl'; "
                "it is not a torch checkpoint."
            )
        prefix = pkl[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in names and zf.read(f"{prefix}byteorder") != b"little":
            raise WeightsError(f"{path} was written on a big-endian machine; unsupported.")
        storages: dict[str, _Storage] = {}

        def persistent(pid: Any) -> _Storage:
            if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] in ("storage", b"storage")):
                raise WeightsError(f"unsupported persistent id {pid!r:.80} in {path}.")
            stype, key, _loc, numel = _storage_type(pid[1]), str(pid[2]), pid[3], pid[4]
            if key not in storages:
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise WeightsError(f"{path} lacks storage {member}; the file is truncated.")
                st = _Storage(stype.dtype, int(numel))
                st.set_bytes(zf.read(member), member)
                storages[key] = st
            return storages[key]

        return _pickle_load(io.BytesIO(zf.read(pkl[0])), persistent)


def _load_legacy(f: io.BufferedIOBase, path: Path) -> Any:
    if _pickle_load(f) != LEGACY_MAGIC:
        raise WeightsError(
            f"{path} is neither a zip nor a legacy torch checkpoint (bad magic number)."
        )
    if _pickle_load(f) != LEGACY_PROTOCOL:
        raise WeightsError(f"{path}: unsupported legacy protocol version.")
    sys_info = _pickle_load(f)
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise WeightsError(f"{path} was written on a big-endian machine; unsupported.")
    roots: dict[str, _Storage] = {}
    views: dict[str, _Storage] = {}

    def persistent(pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] in ("storage", b"storage")):
            raise WeightsError(f"unsupported persistent id {pid!r:.80} in {path}.")
        stype, root_key, _loc, numel, view = _storage_type(pid[1]), str(pid[2]), *pid[3:]
        if root_key not in roots:
            roots[root_key] = _Storage(stype.dtype, int(numel))
        root = roots[root_key]
        if view is None:
            return root
        view_key, offset, view_size = view
        if view_key not in views:
            v = _Storage(stype.dtype, int(view_size))
            v.root, v.view_offset = root, int(offset)
            views[view_key] = v
        return views[view_key]

    obj = _pickle_load(f, persistent)
    keys = _pickle_load(f)
    if not isinstance(keys, list):
        raise WeightsError(f"{path}: malformed storage key list.")
    for key in keys:
        st = roots.get(str(key))
        if st is None:
            raise WeightsError(f"{path}: storage {key!r} is listed but never used.")
        header = f.read(8)
        if len(header) != 8:
            raise WeightsError(f"{path} is truncated (storage {key} missing).")
        (count,) = struct.unpack("<q", header)
        if count not in (st.numel, st.numel * st.dtype.itemsize):
            raise WeightsError(f"{path}: storage {key} has {count} elements, expected {st.numel}.")
        st.set_bytes(f.read(st.numel * st.dtype.itemsize), str(key))
    return obj


def _flatten(obj: Any, prefix: str, out: dict[str, np.ndarray]) -> None:
    if isinstance(obj, _Tensor):
        out[prefix] = obj.to_numpy()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, bool | int | float):
        out[prefix] = np.asarray(obj)
    # strings, lists and None (e.g. training metadata) carry no weights: skipped.


def load_torch_checkpoint(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read the tensors of a torch checkpoint (zip or legacy format) as numpy arrays.

    Nested dicts are flattened with ``.`` (so ``{"state_dict": {"fc.weight": w}}``
    gives ``"state_dict.fc.weight"``); bfloat16 tensors are returned as float32, all
    other dtypes as stored (float16/32/64, int8–64, uint8, bool).

    Raises:
        WeightsNotFoundError: no file at ``path``.
        WeightsError: corrupt/truncated file, a pickle asking for any global outside the
            allow-list, unsupported dtypes, out-of-bounds views.

    Example:
        >>> sd = load_torch_checkpoint("tests/golden/torch_zip.pth")  # doctest: +SKIP
        >>> sd["weight"].dtype  # doctest: +SKIP
        dtype('float32')
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"no checkpoint file at {path}; check the path.")
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            with path.open("rb") as f:
                obj = _load_legacy(f, path)
        out: dict[str, np.ndarray] = {}
        _flatten(obj, "", out)
    except WeightsError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, TypeError, KeyError) as e:
        raise WeightsError(
            f"cannot read torch checkpoint {path} ({type(e).__name__}: {e}); "
            "the file is corrupt: delete it and download it again."
        ) from e
    if not out:
        raise WeightsError(f"{path} holds no tensors.")
    return out
