"""Put loaded backbone variables into a freshly initialised model (head kept fresh)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import WeightsError

HEAD = "head"


def _flat(tree: Any) -> dict[str, Any]:
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {"/".join(str(getattr(k, "key", k)) for k in path): v for path, v in leaves}


def _list(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def merge_backbone(
    init_vars: dict[str, Any], loaded: dict[str, Any], *, source: str
) -> dict[str, Any]:
    """Replace every variable of ``init_vars`` except the head by the one in ``loaded``.

    ``loaded`` may or may not hold a head (``params/head/...``); it is ignored either
    way, because fine-tuning starts from a freshly initialised C-way head. Dtypes of
    ``init_vars`` are kept (checkpoints in float16 are cast to float32).

    Raises:
        WeightsError: listing missing, unexpected and mis-shaped variables.
    """
    want = {k: v for k, v in _flat(init_vars).items() if not k.startswith(f"params/{HEAD}/")}
    have = {k: v for k, v in _flat(loaded).items() if not k.startswith(f"params/{HEAD}/")}
    missing = sorted(set(want) - set(have))
    unexpected = sorted(set(have) - set(want))
    bad_shape = sorted(
        f"{k} (file {tuple(np.shape(have[k]))}, model {tuple(want[k].shape)})"
        for k in set(want) & set(have)
        if tuple(np.shape(have[k])) != tuple(want[k].shape)
    )
    if missing or unexpected or bad_shape:
        parts = []
        if missing:
            parts.append(f"missing: {_list(missing)}")
        if unexpected:
            parts.append(f"unexpected: {_list(unexpected)}")
        if bad_shape:
            parts.append(f"wrong shape: {_list(bad_shape)}")
        raise WeightsError(
            f"weights from {source} do not match the model ({'; '.join(parts)}); "
            "check that --model and --weights belong together (e.g. a *_cifar stem cannot "
            "load ImageNet stem weights)."
        )

    def pick(path: Any, leaf: Any) -> Any:
        key = "/".join(str(getattr(k, "key", k)) for k in path)
        if key.startswith(f"params/{HEAD}/"):
            return leaf  # replaced by a fresh head by the caller
        if key in have:
            value = np.asarray(have[key])
            if not np.all(np.isfinite(value)):
                raise WeightsError(f"{key} from {source} holds NaN/inf; the file is corrupt.")
            return jnp.asarray(value, dtype=leaf.dtype)
        return leaf

    return jax.tree_util.tree_map_with_path(pick, init_vars)
