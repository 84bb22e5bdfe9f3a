"""The task sampler: seeded class/image draw, remapping, resizing, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from ttjax._errors import DataError
from ttjax.data import load_task, resize_images, sample_task


def _source(n_per: int = 6, n_classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    # image i is filled with the value i, so the drawn images identify themselves
    n = n_per * n_classes
    x = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 4, 4, 3)).copy()
    y = np.arange(n) % n_classes * 10  # class ids 0, 10, 20, ...
    return x, y


def test_sample_task_draws_from_the_chosen_classes() -> None:
    x, y = _source()
    t = sample_task(x, y, classes=3, per_class=4, image_size=4, seed=3)
    assert t.images.shape == (12, 4, 4, 3) and t.labels.dtype == np.int32
    assert t.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4  # class-major
    assert np.all(np.diff(t.class_ids) > 0) and set(t.class_ids) <= set(y.tolist())
    original = t.images[:, 0, 0, 0].astype(int)  # index of the source image
    assert np.array_equal(y[original], t.class_ids[t.labels])  # right class for each
    assert len(set(original.tolist())) == 12  # no image drawn twice


def test_sample_task_is_seeded() -> None:
    x, y = _source()
    a = sample_task(x, y, classes=3, per_class=4, image_size=4, seed=7)
    b = sample_task(x, y, classes=3, per_class=4, image_size=4, seed=7)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.class_ids, b.class_ids)
    draws = {
        tuple(sample_task(x, y, classes=3, per_class=4, image_size=4, seed=s).images[:, 0, 0, 0])
        for s in range(5)
    }
    assert len(draws) > 1


def test_sample_task_errors_say_how_many() -> None:
    x, y = _source(n_per=6, n_classes=5)
    with pytest.raises(DataError, match="only 5"):
        sample_task(x, y, classes=6, per_class=2, image_size=4, seed=0)
    with pytest.raises(DataError, match=r"have fewer; use --per-class ≤ 6"):
        sample_task(x, y, classes=2, per_class=7, image_size=4, seed=0)
    with pytest.raises(DataError, match="must match"):
        sample_task(x, y[:-1], classes=2, per_class=2, image_size=4, seed=0)


def test_fit_flags_cap_the_size_at_what_the_data_holds() -> None:
    x, y = _source(n_per=6, n_classes=3)
    y = y.copy()
    y[y == 20] = 0  # class 0: 12 images, class 10: 6, class 20: none -> 2 classes
    t = sample_task(x, y, classes=5, per_class=40, image_size=4, seed=0,
                    fit_classes=True, fit_per_class=True)  # fmt: skip
    assert t.num_classes == 2 and t.num_examples == 12  # 2 classes × the smaller class's 6
    assert t.labels.tolist() == [0] * 6 + [1] * 6
    # only the flagged size is capped; the other is still a demand
    with pytest.raises(DataError, match="use --per-class ≤ 6"):
        sample_task(x, y, classes=5, per_class=40, image_size=4, seed=0, fit_classes=True)
    with pytest.raises(DataError, match="only 2"):
        sample_task(x, y, classes=5, per_class=4, image_size=4, seed=0, fit_per_class=True)
    # a draw that fits asks for nothing less than it was given
    full = sample_task(x, y, classes=2, per_class=5, image_size=4, seed=0,
                       fit_classes=True, fit_per_class=True)  # fmt: skip
    same = sample_task(x, y, classes=2, per_class=5, image_size=4, seed=0)
    assert np.array_equal(full.images, same.images)
    with pytest.raises(DataError, match="at least 2"):
        sample_task(x, np.zeros_like(y), classes=5, per_class=4, image_size=4, seed=0,
                    fit_classes=True)  # fmt: skip


def test_resize_keeps_constants_and_identity() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 10, 10, 3), dtype=np.uint8)
    assert resize_images(x, 10) is x
    const = np.full((2, 7, 9, 3), 77, np.uint8)
    assert np.all(resize_images(const, 16) == 77)  # bilinear weights sum to one
    big = resize_images(x, 20)
    assert abs(float(big.mean()) - float(x.mean())) < 2.0  # interpolation keeps the mean


def test_load_task_sample_default() -> None:
    t = load_task("sample", classes=5, per_class=150, image_size=32, seed=0)
    assert t.images.shape == (750, 32, 32, 3)
    assert t.class_ids.tolist() == [5, 6, 7, 8, 9] and t.source == "sample"
