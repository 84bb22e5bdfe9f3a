"""Every notebook runs end to end on tiny settings (TTJAX_NOTEBOOK_SMALL=1), in a real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} >= {"quickstart", "theory_tour", "benchmark_summary"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_small(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The kernel inherits this environment: tiny settings, CPU, the source tree importable,
    # and a headless matplotlib backend.
    monkeypatch.setenv("TTJAX_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    # Run in a scratch folder (notebooks write their PNGs to the working directory) that sees
    # the repository's results/ as ./results.
    (tmp_path / "results").symlink_to(ROOT / "results", target_is_directory=True)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,  # per cell; each notebook takes ≈ 10–40 s in total on 2 cores
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, errors
