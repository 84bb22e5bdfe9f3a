"""The JSON document written by ``--json`` (the contract in ARCHITECTURE.md).

```
{"config": {...}, "curves": {"loss": [...], "error": [...], ...},
 "training_time": {"<eps as given>": {...}}, "wall_clock_estimate_s": float | null,
 "timing_s": {"<stage>": seconds}}
```
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .._jsonable import jsonable


def report_payload(
    *,
    config: Mapping[str, Any],
    curves: Mapping[str, Any],
    training_time: Mapping[str, Any],
    wall_clock_estimate_s: float | None,
    timing_s: Mapping[str, float],
    **extra: Any,
) -> dict[str, Any]:
    """Assemble the JSON document (numpy/jax arrays and enums made JSON-friendly)."""
    payload = {
        "config": config,
        "curves": curves,
        "training_time": training_time,
        "wall_clock_estimate_s": wall_clock_estimate_s,
        "timing_s": timing_s,
        **extra,
    }
    return jsonable(payload)


def write_json(
    path: str | os.PathLike[str], payload: Mapping[str, Any], *, what: str = "--json"
) -> Path:
    """Write ``payload`` as JSON atomically (temp file + rename, none left on failure)."""
    with atomic_write(path, what=what) as fh:
        json.dump(jsonable(payload), fh, indent=1)
        fh.write("\n")
    return Path(path)
