"""PNG figures of training curves: predicted (with bands), real on top, Tε markers.

matplotlib is imported lazily and drawn through its Agg canvas directly (no pyplot, no global
backend change), so importing ttjax stays fast and works headless.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ._errors import ConfigError, DataError
from ._files import atomic_write, check_output_path

PANELS = (("loss", "training loss (full set)"), ("error", "training error (full set)"))


def _as_curve(name: str, values: object) -> np.ndarray:
    c = np.asarray(values, dtype=np.float64)
    if c.ndim != 1 or c.size < 1:
        raise DataError(f"curve {name!r} must be 1-D (T+1 points), got shape {c.shape}.")
    return c


def check_plot_path(path: str | os.PathLike[str], *, what: str = "--plot") -> Path:
    """:func:`ttjax._files.check_output_path` plus: the suffix is a format matplotlib writes.

    Example:
        >>> import tempfile
        >>> check_plot_path(tempfile.mkdtemp() + "/c.png").suffix
        '.png'
    """
    from matplotlib.backend_bases import FigureCanvasBase

    p = check_output_path(path, what=what)
    formats = FigureCanvasBase.get_supported_filetypes()
    fmt = p.suffix.lstrip(".").lower()
    if fmt and fmt not in formats:
        raise ConfigError(
            f"{what} {p}: matplotlib cannot write '.{fmt}' files; use one of "
            f"{', '.join('.' + f for f in sorted(formats))} (e.g. .png)."
        )
    return p


def plot_curves(
    path: str | os.PathLike[str],
    *,
    curves: Mapping[str, ArrayLike],
    bands: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    reference: Mapping[str, ArrayLike] | None = None,
    training_times: Mapping[str, float | None] | None = None,
    title: str = "",
    curve_label: str = "predicted",
    reference_label: str = "real fine-tuning",
) -> Path:
    """Write a PNG with a loss panel (left) and an error panel (right).

    Args:
        path: output ``.png`` (parent folders are created).
        curves: ``{"loss": [T+1], "error": [T+1]}`` (either may be missing); x axis = step
            0 … T, step 0 being the model before any update.
        bands: optional ``{"loss": (lo, hi), ...}`` shaded around the curve (e.g. 5–95%).
        reference: optional real run ``{"loss": [...], "error": [...]}`` drawn on top (black).
        training_times: optional ``{label: step}`` drawn as dotted vertical lines on both
            panels, e.g. ``{"T(ε=0.1)": 37}``; a ``None`` step (a run without Tε) is skipped.
        title: figure title.
        curve_label, reference_label: legend entries of ``curves`` and ``reference``.

    Returns:
        The path written.

    Example:
        >>> import tempfile
        >>> p = plot_curves(tempfile.mkdtemp() + "/c.png", curves={"loss": np.exp(-np.arange(5.0))})
        >>> p.suffix
        '.png'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not any(k in curves for k, _ in PANELS):
        raise DataError(f"plot_curves needs a 'loss' or an 'error' curve, got {sorted(curves)}.")
    panels = [(k, lab) for k, lab in PANELS if k in curves or (reference and k in reference)]
    fig = Figure(figsize=(5.2 * len(panels), 3.9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    colours = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
    for ax, (key, label) in zip(axes, panels, strict=True):
        scale = 100.0 if key == "error" else 1.0
        if key in curves:
            c = _as_curve(key, curves[key]) * scale
            steps = np.arange(c.size)
            if bands and key in bands:
                lo, hi = (_as_curve(f"{key} band", b) * scale for b in bands[key])
                if lo.size != c.size or hi.size != c.size:
                    raise DataError(
                        f"the {key!r} band has {lo.size}/{hi.size} points but the curve has "
                        f"{c.size}; give the band's (low, high) on the same steps as the curve."
                    )
                ax.fill_between(steps, lo, hi, color="#1f77b4", alpha=0.25, lw=0,
                                label="5–95% band")  # fmt: skip
            ax.plot(steps, c, color="#1f77b4", lw=2, label=curve_label)
        if reference and key in reference:
            r = _as_curve(key, reference[key]) * scale
            ax.plot(np.arange(r.size), r, color="black", lw=1.3, ls="--", label=reference_label)
        marked = {n: t for n, t in (training_times or {}).items() if t is not None}  # None: no Tε
        for i, (name, t) in enumerate(marked.items()):
            ax.axvline(float(t), color=colours[i % len(colours)], ls=":", lw=1.5,
                       label=f"{name} = {float(t):g}")  # fmt: skip
        ax.set_xlabel("step")
        ax.set_ylabel(label + (" (%)" if key == "error" else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    out = Path(path)
    with atomic_write(out, mode="wb", what="--plot") as fh:
        fig.savefig(fh, dpi=110, format=out.suffix.lstrip(".").lower() or "png")
    return out
