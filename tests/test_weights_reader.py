"""The torch-free checkpoint reader on genuine torch files, and on hostile/corrupt ones."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ttjax._errors import WeightsError, WeightsNotFoundError
from ttjax.weights import load_torch_checkpoint

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["torch_zip.pth", "torch_legacy.pth"])
def test_reads_real_torch_files_exactly(name):
    got = load_torch_checkpoint(GOLDEN / name)
    with np.load(GOLDEN / "torch_expected.npz") as z:
        expected = {k: z[k] for k in z.files}
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k].dtype == v.dtype, k  # bf16 comes back as float32, the rest as stored
        assert got[k].shape == v.shape, k
        np.testing.assert_array_equal(got[k], v, err_msg=k)  # exact: same bytes
    assert got["bn.num_batches_tracked"].dtype == np.int64
    assert got["transposed"].flags.c_contiguous


def _pickle_with_global(module: str, name: str) -> bytes:
    # A protocol-2 pickle that calls module.name("x") when loaded.
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x01\x00\x00\x00x\x85R."


def _write_zip(path: Path, data_pkl: bytes, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        for k, v in (extra or {}).items():
            zf.writestr(k, v)
    return path


def test_malicious_pickles_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    payload = (
        b"\x80\x02cos\nsystem\nX"
        + len(f"touch {marker}").to_bytes(4, "little")
        + f"touch {marker}".encode()
        + b"\x85R."
    )
    with pytest.raises(WeightsError, match=r"os\.system"):
        load_torch_checkpoint(_write_zip(tmp_path / "evil.pth", payload))
    legacy = tmp_path / "evil_legacy.pth"
    legacy.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + payload)
    with pytest.raises(WeightsError, match=r"os\.system"):
        load_torch_checkpoint(legacy)
    with pytest.raises(WeightsError, match=r"builtins\.eval"):
        load_torch_checkpoint(
            _write_zip(tmp_path / "e2.pth", _pickle_with_global("builtins", "eval"))
        )
    assert not marker.exists()


@pytest.mark.parametrize("name", ["torch_zip.pth", "torch_legacy.pth"])
def test_truncated_files_raise_weights_error(tmp_path, name):
    raw = (GOLDEN / name).read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 3):
        p = tmp_path / f"cut{cut}.pth"
        p.write_bytes(raw[:cut])
        with pytest.raises(WeightsError):
            load_torch_checkpoint(p)


def test_corrupt_storage_and_other_bad_files(tmp_path):
    # zip whose storage is shorter than the tensor needs
    src = zipfile.ZipFile(GOLDEN / "torch_zip.pth")
    members = {n: src.read(n) for n in src.namelist()}
    storage = next(n for n in members if "/data/" in n and len(members[n]) > 8)
    members[storage] = members[storage][:-4]
    with zipfile.ZipFile(tmp_path / "short.pth", "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_torch_checkpoint(tmp_path / "short.pth")
    # unsupported storage dtype
    bad = _write_zip(tmp_path / "dtype.pth", _pickle_with_global("torch", "ComplexFloatStorage"))
    with pytest.raises(WeightsError, match="ComplexFloatStorage"):
        load_torch_checkpoint(bad)
    # not a checkpoint at all
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(WeightsError):
        load_torch_checkpoint(tmp_path / "text.pth")
    # a pickle with a wrong magic number
    (tmp_path / "magic.pth").write_bytes(pickle.dumps(1234, protocol=2))
    with pytest.raises(WeightsError, match="magic"):
        load_torch_checkpoint(tmp_path / "magic.pth")
    with pytest.raises(WeightsNotFoundError):
        load_torch_checkpoint(tmp_path / "missing.pth")


def test_out_of_bounds_view_is_refused(tmp_path):
    # Rewrite the zip fixture's pickle so that one tensor's offset points past its storage.
    src = zipfile.ZipFile(GOLDEN / "torch_zip.pth")
    members = {n: src.read(n) for n in src.namelist()}
    pkl_name = next(n for n in members if n.endswith("data.pkl"))
    data = members[pkl_name]
    # _rebuild_tensor_v2(storage, offset=8, size=(2, 3), ...) of "view_offset": offset K8 → K99
    assert b"K\x08" in data
    members[pkl_name] = data.replace(b"K\x08", b"Kc", 1)
    with zipfile.ZipFile(tmp_path / "oob.pth", "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(WeightsError):
        load_torch_checkpoint(tmp_path / "oob.pth")
