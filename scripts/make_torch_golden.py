"""Generate the golden files of ``tests/golden/`` with PyTorch (run once; needs torch).

The ONLY file of the project that imports torch; neither the library nor the tests do.

    pip install torch==2.13.0 torchvision==0.28.0   # CPU wheels
    python scripts/make_torch_golden.py

Writes:

* ``resnet_logits.npz``: eval-mode torchvision ``resnet18`` / ``resnet34`` logits on a
  seeded input ``x [2, 3, 64, 64]``, with weights made by :func:`numpy_state_dict`
  (numpy only, so the test regenerates the identical state dict without torch).
* ``torch_zip.pth`` / ``torch_legacy.pth``: small real torch checkpoints (zip and
  legacy formats) with float32/float16/bfloat16/float64/int64 tensors, a view with a
  storage offset, a transposed (non-contiguous) tensor, two tensors sharing a storage,
  and ``num_batches_tracked``; ``torch_expected.npz``: the arrays they must load as.
"""

from __future__ import annotations

import sys
import types
import zlib
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
SEED = 20201206
INPUT_SHAPE = (2, 3, 64, 64)


def numpy_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = SEED) -> dict[str, np.ndarray]:
    """Deterministic weights for a torchvision-layout state dict, from numpy alone.

    Recipe, per key (each from ``default_rng([seed, crc32(key)])``, so order-independent):
    conv/linear ``weight`` (≥ 2-D): normal · sqrt(1/fan_in); BN ``weight``: uniform(0.5, 1.5);
    ``bias``: normal · 0.1; ``running_mean``: normal · 0.1; ``running_var``:
    uniform(0.5, 1.5); ``num_batches_tracked``: int64 0. All float32.
    """
    out: dict[str, np.ndarray] = {}
    for key, shape in shapes.items():
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            out[key] = np.zeros(shape, np.int64)
            continue
        if leaf == "weight" and len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            v = rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)
        elif leaf in ("weight", "running_var"):
            v = rng.uniform(0.5, 1.5, shape)
        else:  # bias, running_mean
            v = rng.standard_normal(shape) * 0.1
        out[key] = v.astype(np.float32)
    return out


def golden_input(seed: int = SEED) -> np.ndarray:
    """The NCHW float32 input of the golden forward passes."""
    return np.random.default_rng(seed).standard_normal(INPUT_SHAPE).astype(np.float32)


def _reader_fixture(torch):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    shared = torch.linspace(-1, 1, 10, dtype=torch.float64)
    sd = {
        "f32": torch.randn(3, 4, generator=torch.Generator().manual_seed(0)),
        "f16": (torch.arange(6, dtype=torch.float32) / 3).to(torch.float16).reshape(2, 3),
        "bf16": (torch.arange(5, dtype=torch.float32) * 0.25).to(torch.bfloat16),
        "view_offset": base[1:3, 2:5],  # storage offset 8, strides (6, 1)
        "transposed": base.t(),  # strides (1, 6)
        "base": base,  # shares its storage with the two views
        "shared_a": shared[2:6],
        "shared_b": shared[5:],
        "bn.num_batches_tracked": torch.tensor(17, dtype=torch.int64),
        "int64": torch.tensor([[1, -2], [3, 2**40]], dtype=torch.int64),
        "scalar": torch.tensor(3.5),
    }
    expected = {
        k: (v.float() if v.dtype == torch.bfloat16 else v).numpy().copy() for k, v in sd.items()
    }
    return sd, expected


def main() -> None:
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("_meta"))
    # torch is not a dependency of ttjax (this one-off script documents how to install it):
    # pyright, which runs where only requirements-ci.txt is installed, must not need it.
    import torch  # pyright: ignore[reportMissingImports]
    import torchvision  # pyright: ignore[reportMissingImports]

    GOLDEN.mkdir(parents=True, exist_ok=True)
    x = golden_input()
    logits = {"input": x}
    for name in ("resnet18", "resnet34"):
        net = getattr(torchvision.models, name)().eval()
        shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        sd = numpy_state_dict(shapes)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        with torch.no_grad():
            logits[name] = net(torch.from_numpy(x)).numpy()
        print(name, logits[name].shape, float(np.abs(logits[name]).max()))
    np.savez_compressed(GOLDEN / "resnet_logits.npz", **logits)  # pyright: ignore[reportArgumentType]

    sd, expected = _reader_fixture(torch)
    torch.save(sd, GOLDEN / "torch_zip.pth")
    torch.save(sd, GOLDEN / "torch_legacy.pth", _use_new_zipfile_serialization=False)
    np.savez(GOLDEN / "torch_expected.npz", **expected)  # pyright: ignore[reportArgumentType]
    for f in sorted(GOLDEN.iterdir()):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
