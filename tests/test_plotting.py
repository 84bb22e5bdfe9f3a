"""plot_curves writes a readable two-panel PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ttjax._errors import DataError
from ttjax.plotting import plot_curves


def test_png_with_bands_reference_and_markers(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    t = np.arange(31.0)
    loss, err = 1.6 * np.exp(-t / 8), 0.8 * np.exp(-t / 10)
    p = plot_curves(tmp_path / "sub" / "c.png", curves={"loss": loss, "error": err},
                    bands={"loss": (0.9 * loss, 1.1 * loss)}, reference={"loss": 1.05 * loss},
                    training_times={"T(ε=0.1)": 18}, title="test")  # fmt: skip
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(p)
    assert img.shape[1] > 1.8 * img.shape[0]  # two panels side by side
    assert img[..., :3].std() > 0.05  # not a blank canvas
    one = plot_curves(tmp_path / "one.png", curves={"loss": loss})
    assert mpimg.imread(one).shape[1] < img.shape[1]  # one panel only


def test_plot_needs_a_curve(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'loss' or an 'error'"):
        plot_curves(tmp_path / "x.png", curves={"other": np.ones(3)})
    with pytest.raises(DataError, match="1-D"):
        plot_curves(tmp_path / "x.png", curves={"loss": np.ones((2, 3))})
