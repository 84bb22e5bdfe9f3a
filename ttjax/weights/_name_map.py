"""Generic torch state dict ↔ flax variables conversion driven by an explicit table.

A table lists ``(torch_prefix, flax_path, Kind)`` rows; each kind says how the
tensors under the prefix become flax variables:

* ``CONV``: ``{p}.weight [O, I, kh, kw]`` → ``params/{path}/kernel [kh, kw, I, O]``
  (OIHW → HWIO; a depthwise weight ``[C, 1, kh, kw]`` becomes ``[kh, kw, 1, C]``).
* ``BN``: ``{p}.weight/.bias`` → ``params/{path}/scale/bias``; ``{p}.running_mean/var`` →
  ``batch_stats/{path}/mean/var``; ``{p}.num_batches_tracked`` is dropped.
* ``DENSE``: ``{p}.weight [O, I]`` → ``params/{path}/kernel [I, O]``, ``{p}.bias`` → ``bias``.
* ``DROP``: every tensor under the prefix is ignored (the 1000-way ImageNet head).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import WeightsError


class Kind(enum.Enum):
    """How a torch module's tensors map to flax variables."""

    CONV = "conv"
    BN = "bn"
    DENSE = "dense"
    DROP = "drop"


Row = tuple[str, str, Kind]

# (torch suffix, flax collection, flax leaf, transform torch->flax, inverse)
_FIELDS: dict[Kind, tuple[tuple[str, str, str], ...]] = {
    Kind.CONV: (("weight", "params", "kernel"),),
    Kind.BN: (
        ("weight", "params", "scale"),
        ("bias", "params", "bias"),
        ("running_mean", "batch_stats", "mean"),
        ("running_var", "batch_stats", "var"),
    ),
    Kind.DENSE: (("weight", "params", "kernel"), ("bias", "params", "bias")),
    Kind.DROP: (),
}


def _to_flax(kind: Kind, leaf: str, x: np.ndarray) -> np.ndarray:
    if kind is Kind.CONV:
        if x.ndim != 4:
            raise WeightsError(f"conv weight with shape {x.shape}; expected 4-D [O, I, kh, kw].")
        return np.transpose(x, (2, 3, 1, 0))
    if kind is Kind.DENSE and leaf == "kernel":
        return np.transpose(x)
    return x


def _to_torch(kind: Kind, leaf: str, x: np.ndarray) -> np.ndarray:
    if kind is Kind.CONV:
        return np.transpose(x, (3, 2, 0, 1))
    if kind is Kind.DENSE and leaf == "kernel":
        return np.transpose(x)
    return x


def _set(tree: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for p in path[:-1]:
        tree = tree.setdefault(p, {})
    tree[path[-1]] = value


def _get(tree: dict[str, Any], path: Sequence[str]) -> Any:
    for p in path:
        tree = tree[p]
    return tree


def torch_to_flax(
    state_dict: dict[str, np.ndarray], table: Sequence[Row], *, source: str
) -> dict[str, Any]:
    """Convert a torch state dict to ``{"params": ..., "batch_stats": ...}`` by ``table``.

    Raises:
        WeightsError: listing the tensors the table expects but the file lacks
            (missing) and the tensors no row accounts for (unexpected).
    """
    used: set[str] = set()
    missing: list[str] = []
    out: dict[str, Any] = {"params": {}, "batch_stats": {}}
    for prefix, flax_path, kind in table:
        if kind is Kind.DROP:
            used.update(k for k in state_dict if k == prefix or k.startswith(prefix + "."))
            continue
        for suffix, coll, leaf in _FIELDS[kind]:
            key = f"{prefix}.{suffix}"
            if key not in state_dict:
                missing.append(key)
                continue
            used.add(key)
            value = _to_flax(kind, leaf, np.asarray(state_dict[key]))
            _set(out[coll], [*flax_path.split("/"), leaf], value)
        if kind is Kind.BN:
            used.add(f"{prefix}.num_batches_tracked")
    unexpected = sorted(set(state_dict) - used)
    if missing or unexpected:
        msg = []
        if missing:
            msg.append(f"missing {len(missing)}: {', '.join(missing[:10])}")
        if unexpected:
            msg.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:10])}")
        raise WeightsError(
            f"the checkpoint {source} does not have the expected layout ({'; '.join(msg)}); "
            "is it a state dict of the right architecture?"
        )
    return out


def flax_to_torch(variables: dict[str, Any], table: Sequence[Row]) -> dict[str, np.ndarray]:
    """Inverse of :func:`torch_to_flax` (BN layers get ``num_batches_tracked = 0``)."""
    out: dict[str, np.ndarray] = {}
    for prefix, flax_path, kind in table:
        for suffix, coll, leaf in _FIELDS[kind]:
            value = np.asarray(_get(variables[coll], [*flax_path.split("/"), leaf]))
            out[f"{prefix}.{suffix}"] = _to_torch(kind, leaf, value)
        if kind is Kind.BN:
            out[f"{prefix}.num_batches_tracked"] = np.zeros((), np.int64)
    return out
