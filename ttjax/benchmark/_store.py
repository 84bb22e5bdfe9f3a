"""The benchmark's JSON-lines file: one record per finished case, crash-safe appends.

Each record is written as one line followed by ``flush`` + ``fsync``, so after a kill the
file holds every finished case plus at most one torn last line. :func:`read_records` skips a torn
*last* line (and :func:`append_record` cuts it off before appending); a malformed line anywhere
else means the file was edited by hand and is reported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import DataError


def _split_complete(data: bytes) -> tuple[list[bytes], int]:
    """Complete lines (ending in newline) and the byte offset where they end."""
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), end


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All records of a JSON-lines file (empty list if the file does not exist).

    A torn last line (no newline, or not valid JSON) is ignored: it is a case that was being
    written when the process was killed, and it will be re-run.

    Raises:
        DataError: if a line other than the last is not a JSON object.
    """
    p = Path(path)
    if not p.exists():
        return []
    data = p.read_bytes()
    lines, _ = _split_complete(data)
    records: list[dict[str, Any]] = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # torn write that happened to end with a newline
            raise DataError(
                f"{p}: line {i + 1} is not valid JSON; the file was edited or corrupted. "
                "Remove that line (the case will be re-run) and restart."
            ) from None
        if not isinstance(rec, dict):
            raise DataError(f"{p}: line {i + 1} is not a JSON object; remove it and restart.")
        records.append(rec)
    return records


def _repair_tail(p: Path) -> None:
    """Truncate a torn last line so the next append starts on a fresh line."""
    data = p.read_bytes()
    lines, end = _split_complete(data)
    if lines:
        try:
            json.loads(lines[-1])
        except json.JSONDecodeError:
            end -= len(lines[-1]) + 1
    if end != len(data):
        with p.open("r+b") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())


def append_record(path: str | os.PathLike[str], record: Mapping[str, Any]) -> None:
    """Append one record as a JSON line, then flush and fsync (durable once this returns)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists():
        _repair_tail(p)
    line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
    with p.open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def completed_keys(records: list[dict[str, Any]]) -> set[str]:
    """Keys of the cases already in the file (successes and recorded failures)."""
    return {str(r["key"]) for r in records if "key" in r}


def resolved_hparams(record: dict[str, Any]) -> dict[str, Any]:
    """The hyper-parameters a record's case really ran with.

    A case with ``lr_fraction`` records its resolved learning rate (``lr_fraction × η_max``)
    in ``hparams_resolved``; older records and absolute-lr cases use ``case.hparams``.

    Example:
        >>> resolved_hparams({"case": {"hparams": {"lr": 0.2}}, "hparams_resolved": {"lr": 0.004}})
        {'lr': 0.004}
    """
    return dict(record.get("hparams_resolved") or record["case"]["hparams"])
