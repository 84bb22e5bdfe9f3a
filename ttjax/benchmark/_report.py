"""The tail every benchmark analysis script shares: its rows as CSV + JSON, one line a row.

The ``scripts/bench_*.py`` analyses (closed loop, head growth, re-linearisation, noise floor,
band calibration, linearity) each score records into a list of flat dict rows; this module
writes them (``<stem>.csv`` with every row's keys as columns, ``<stem>.json`` with the
script's own document) and formats the variant tables of :func:`variant_rows` the same way
everywhere, split into all runs and momentum-0 runs (heavy-ball runs carry most misses, so
each table is shown both ways).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._band import HEAVY_BALL, MOMENTUM_0, MOMENTUM_GROUPS, momentum_group
from .._jsonable import jsonable
from ._backbone_summary import record_momentum
from ._summary import variant_rows

ALL_RUNS = "all"
"""The ``runs`` value of a row scored on every record."""


def momentum_rows(
    records: Iterable[Mapping[str, Any]],
    variants: Sequence[str],
    *,
    momentum0_variants: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """:func:`variant_rows` on every record (``runs="all"``), then on the momentum-0 records
    only (``runs="momentum 0"``; ``momentum0_variants``, default ``variants``: e.g. a
    restarted model that exists for momentum-0 runs only).

    Example:
        >>> rec = {"status": "ok", "key": "k", "case": {"task": {"model": "tiny",
        ...        "image_size": 8}, "hparams": {"optimizer": "gd", "steps": 20,
        ...        "momentum": 0.9}}, "real": {"0.1": 10},
        ...        "predicted_variants": {"observed@4": {"0.1": {"median": 11.0}}}}
        >>> [(r["runs"], r["backbone"], r["within"]) for r in momentum_rows([rec], ["observed@4"])]
        [('all', 'tiny@8', 1.0), ('all', 'all', 1.0)]
    """
    records = list(records)
    rows = [{"runs": ALL_RUNS, **r} for r in variant_rows(records, variants)]
    still = [r for r in records if momentum_group(record_momentum(r)) == MOMENTUM_0]
    names = variants if momentum0_variants is None else momentum0_variants
    rows += [{"runs": MOMENTUM_0, **r} for r in variant_rows(still, names)]
    return rows


def format_variant_row(
    row: Mapping[str, Any], *, variant_width: int = 13, backbone_width: int = 14
) -> str:
    """One printed line of a :func:`variant_rows` / :func:`momentum_rows` row: which runs
    (when the row says), variant, backbone, pairs, share within tolerance (13% GD / 20% SGD),
    median |T̂ε − Tε|/Tε and median |T̂ε − Tε|/T.

    Example:
        >>> row = {"runs": "all", "variant": "observed@4", "backbone": "all", "pairs": 65,
        ...        "within": 0.43, "median_rel": 0.21, "median_rel_T": 0.08}
        >>> format_variant_row(row)
        '       all    observed@4            all pairs  65  within  43.0%  median  21.0%  /T   8.0%'
    """
    runs = f"{row['runs']:>10} " if "runs" in row else ""
    return (
        f"{runs}{row['variant']:>{variant_width}} {row['backbone']:>{backbone_width}} "
        f"pairs {row['pairs']:3d}  within {100 * (row['within'] or 0):5.1f}%  "
        f"median {100 * row['median_rel']:5.1f}%  /T {100 * row['median_rel_T']:5.1f}%"
    )


def write_table(
    out: str | os.PathLike[str],
    stem: str,
    rows: Sequence[Mapping[str, Any]],
    doc: Any,
) -> tuple[Path, Path]:
    """Write ``rows`` to ``out/<stem>.csv`` and ``doc`` to ``out/<stem>.json``.

    The CSV's columns are every key of every row, in order of first appearance (a key a row
    lacks is an empty cell); the JSON is ``doc`` indented, with a final newline, and a
    non-finite float (a median of no pairs) written ``null`` — strict JSON, which ``NaN`` is
    not. ``out`` must exist.

    Returns:
        The (CSV, JSON) paths.

    Raises:
        ValueError: ``rows`` is empty (a table with no rows is a bug of the caller, who
            should have said why nothing was scored).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     csv_path, json_path = write_table(d, "t", [{"a": 1}, {"a": 2, "b": 3}],
        ...                                       {"median": float("nan")})
        ...     csv_path.read_text().splitlines(), json_path.read_text().split()
        (['a,b', '1,', '2,3'], ['{', '"median":', 'null', '}'])
    """
    if not rows:
        raise ValueError(f"no rows to write to {stem}.csv")
    out = Path(out)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps(jsonable(doc), indent=1, allow_nan=False) + "\n")
    return csv_path, json_path


def check_script_paths(
    parser: argparse.ArgumentParser,
    *,
    records: Iterable[str | os.PathLike[str] | None] = (),
    out: str | os.PathLike[str] | None = None,
    flag: str = "--records",
) -> None:
    """The bench and figure scripts' input/output check, before anything is read or computed:
    every records file (given as ``flag``) exists, and ``--out`` (a folder of figures and
    tables) is not a file. A problem ends the script through ``parser.error`` (one line, exit 2).

    Example:
        >>> import argparse, tempfile
        >>> check_script_paths(argparse.ArgumentParser(), out=tempfile.mkdtemp() + "/figs")
    """
    for f in records:
        if f is not None and not Path(f).is_file():
            parser.error(f"{flag} {f}: no such records file; run `ttjax benchmark` first or "
                         "give the .jsonl it wrote.")  # fmt: skip
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        parser.error(f"--out {out} is a file; --out names a folder for the figures and tables.")


__all__ = [
    "ALL_RUNS",
    "HEAVY_BALL",
    "MOMENTUM_0",
    "MOMENTUM_GROUPS",
    "check_script_paths",
    "format_variant_row",
    "momentum_group",
    "momentum_rows",
    "write_table",
]
