"""``tfds:NAME:SPLIT`` on a dataset built locally, offline, without TensorFlow."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("array_record")

from PIL import Image  # noqa: E402

from ttjax._errors import DataError  # noqa: E402
from ttjax.data import load_source  # noqa: E402


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8), np.arange(n) % 3


class TtjaxTinyImages(tfds.core.GeneratorBasedBuilder):
    """12 train + 6 test random 8×8 RGB images, 3 classes (PNG-encoded with PIL: no TF)."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):  # type: ignore[no-untyped-def]
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(8, 8, 3), encoding_format="png"),
                "label": tfds.features.ClassLabel(num_classes=3),
            }),
        )  # fmt: skip

    def _split_generators(self, dl_manager):  # type: ignore[no-untyped-def]
        return {"train": self._generate_examples(12, 0), "test": self._generate_examples(6, 1)}

    def _generate_examples(self, n: int, seed: int):  # type: ignore[no-untyped-def]
        x, y = _images(n, seed)
        for i in range(n):
            yield i, {"image": Image.fromarray(x[i]), "label": int(y[i])}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tfds")
    builder = TtjaxTinyImages(data_dir=str(d), file_format="array_record")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    return d


def test_tfds_round_trip_without_tensorflow(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    for split, n, seed in (("train", 12, 0), ("test", 6, 1)):
        x, y = load_source(f"tfds:ttjax_tiny_images:{split}")
        want_x, want_y = _images(n, seed)
        # TFDS shuffles records by key: match each read image to the one written (PNG lossless)
        where = [int(np.flatnonzero((want_x == img).all(axis=(1, 2, 3)))[0]) for img in x]
        assert sorted(where) == list(range(n)) and np.array_equal(y, want_y[where])
    assert "tensorflow" not in sys.modules


def test_tfds_errors(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    with pytest.raises(DataError, match="Unknown split"):
        load_source("tfds:ttjax_tiny_images:validation")
    with pytest.raises(DataError, match=r"not prepared.*internet.*array_record"):
        load_source("tfds:mnist")
    with pytest.raises(DataError, match="has no dataset"):
        load_source("tfds:no_such_dataset_xyz")


def test_tfds_not_prepared_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty variant folder (an interrupted or offline prepare) makes TFDS log an absl
    WARNING before our DataError; the user sees only the error."""
    version = str(tfds.builder("mnist", data_dir=str(tmp_path)).version)
    (tmp_path / "mnist" / version).mkdir(parents=True)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with caplog.at_level("WARNING"), pytest.raises(DataError, match="not prepared"):
        load_source("tfds:mnist")
    assert not [r.getMessage() for r in caplog.records if r.name == "absl"]
