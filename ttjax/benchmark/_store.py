"""The benchmark's JSON-lines file: one record per finished case, crash-safe appends.

Each record is written as one line followed by ``flush`` + ``fsync``, so after a kill the
file holds every finished case plus at most one torn last line. :func:`read_records` skips a torn
*last* line (and :func:`append_record` cuts it off before appending); a malformed line anywhere
else means the file was edited by hand and is reported.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError, DataError, MemoryBudgetError, TTJaxError, WeightsError


class CaseStatus(enum.Enum):
    """A record's ``status``.

    * ``OK``: predicted and fine-tuned; the record holds both curves and Tε.
    * ``FAILED``: the method (prediction or fine-tuning) failed on this case, e.g. an unstable
      learning rate (``StabilityError``) or a NaN; final: kept on resume, counted as failed.
    * ``UNAVAILABLE``: the case could not run on this machine (a missing or corrupt dataset or
      weights file: ``DataError``, ``WeightsError``/``WeightsNotFoundError``; or
      ``MemoryBudgetError``); retried on resume, excluded from the summary.

    Files written before the distinction hold ``"error"``: read by the error's class name.
    """

    OK = "ok"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"


_ENVIRONMENT_ERRORS: tuple[type[BaseException], ...] = (DataError, WeightsError, MemoryBudgetError)
_ENVIRONMENT_NAMES = ("DataError", "WeightsError", "WeightsNotFoundError", "MemoryBudgetError")


def error_status(err: BaseException) -> CaseStatus:
    """``UNAVAILABLE`` for an environmental error (see :class:`CaseStatus`), else ``FAILED``.

    Example:
        >>> error_status(DataError("Fashion-MNIST not found")).value
        'unavailable'
    """
    if isinstance(err, _ENVIRONMENT_ERRORS):
        return CaseStatus.UNAVAILABLE
    if isinstance(err, (TTJaxError, FloatingPointError)):
        return CaseStatus.FAILED
    raise TypeError(f"not a benchmark case error: {type(err).__name__}") from err


def record_status(record: Mapping[str, Any]) -> CaseStatus:
    """The :class:`CaseStatus` of a record (legacy ``"error"`` records by the error's class).

    Example:
        >>> record_status({"status": "error", "error": "WeightsNotFoundError: not cached"}).value
        'unavailable'
    """
    status = str(record.get("status", "ok"))
    if status == "error":
        name = str(record.get("error", "")).split(":", 1)[0].strip()
        return CaseStatus.UNAVAILABLE if name in _ENVIRONMENT_NAMES else CaseStatus.FAILED
    try:
        return CaseStatus(status)
    except ValueError:
        raise DataError(
            f"benchmark record {record.get('key')!r} has unknown status {status!r}; expected one "
            f"of {[s.value for s in CaseStatus]}. Remove the record (it will be re-run)."
        ) from None


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
    lines, end = _split_complete(data)
    records: list[dict[str, Any]] = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
            if i == len(lines) - 1 and (records or _looks_like_record(raw)):
                break  # torn write that happened to end with a newline
            if not records:  # not even one record before it: some other file
                raise DataError(_not_records(p)) from None
            raise DataError(
                f"{p}: line {i + 1} is not valid JSON; the file was edited or corrupted. "
                "Remove that line (the case will be re-run) and restart."
            ) from None
        if not isinstance(rec, dict):
            raise DataError(f"{p}: line {i + 1} is not a JSON object; remove it and restart.")
        records.append(rec)
    tail = data[end:]  # a torn write without its newline: skipped, unless it is all there is
    if not records and tail.strip() and not _looks_like_record(tail):
        raise DataError(_not_records(p))
    return records


def _looks_like_record(raw: bytes) -> bool:
    """A torn last line is the start of a record as :func:`append_record` writes it."""
    return raw.lstrip().startswith(b'{"key"')


def _not_records(p: Path) -> str:
    return (
        f"{p} is not a file of benchmark records (its first line is not a JSON record); "
        "point --out / --records at the .jsonl that `ttjax benchmark` wrote, or a new file."
    )


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
    """Keys of the cases that need no re-run: finished (``ok``) or ``failed``; a case whose
    latest record is ``unavailable`` is retried."""
    return {
        str(r["key"])
        for r in latest_records(records)
        if record_status(r) is not CaseStatus.UNAVAILABLE
    }


def check_run_seed(records: Iterable[Mapping[str, Any]], seed: int, *, what: str) -> None:
    """Refuse to add runs of ``seed`` to (or reuse real runs from) records of another seed.

    The case key leaves the run seed out, so a resumed file would keep the other seed's
    results as if they were this run's. Records written before the seed was stored pass.

    Raises:
        ConfigError: some record names another seed.

    Example:
        >>> check_run_seed([{"key": "a", "seed": 0}, {"key": "b"}], 0, what="--out f")
    """
    seeds = sorted({int(r["seed"]) for r in records if r.get("seed") is not None})
    if seeds and seeds != [seed]:
        raise ConfigError(
            f"{what} holds runs of --seed {', '.join(map(str, seeds))}; with --seed {seed} they "
            f"would be mixed (a case run with one seed counts as done for the other): use "
            f"another file, or --seed {seeds[0]}."
        )


def latest_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per key, the last written (a retried case supersedes its ``unavailable``
    record), in the order keys first appear; records without a key are kept as they are.

    Example:
        >>> latest_records([{"key": "a", "status": "unavailable"}, {"key": "a", "status": "ok"}])
        [{'key': 'a', 'status': 'ok'}]
    """
    by_key: dict[str, dict[str, Any]] = {}
    for i, r in enumerate(records):
        by_key[str(r["key"]) if "key" in r else f"#{i}"] = dict(r)
    return list(by_key.values())


def reusable_runs(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The real runs of a records file that a new benchmark can reuse
    (``run_benchmark(reuse_real=...)``): the latest ``ok`` record of each case that kept its
    curves, by case key.

    Raises:
        DataError: the file holds no such record (asking to reuse nothing would silently
            fine-tune every case again).
    """
    runs = {
        str(r["key"]): r
        for r in latest_records(read_records(path))
        if r.get("status") == "ok" and "curves" in r
    }
    if not runs:
        raise DataError(
            f"{path} holds no finished (ok) benchmark record with its real curves, so there is "
            "no real run to reuse; give the records file of an earlier run."
        )
    return runs


def resolved_hparams(record: dict[str, Any]) -> dict[str, Any]:
    """The hyper-parameters a record's case really ran with.

    A case with ``lr_fraction`` records its resolved learning rate (``lr_fraction × η_max``)
    in ``hparams_resolved``; older records and absolute-lr cases use ``case.hparams``.

    Example:
        >>> resolved_hparams({"case": {"hparams": {"lr": 0.2}}, "hparams_resolved": {"lr": 0.004}})
        {'lr': 0.004}
    """
    return dict(record.get("hparams_resolved") or record["case"]["hparams"])
