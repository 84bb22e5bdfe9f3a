"""Parameter selection and grouping: which leaves Θ differentiates, in what groups."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from .._errors import ConfigError
from .._types import PyTree
from ._config import ParamFilter


def path_string(path: tuple) -> str:
    """``('params', 'layer4', 'kernel')`` key path → ``"params/layer4/kernel"``."""
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


@dataclasses.dataclass(frozen=True)
class ParamLayout:
    """Static description of the flattened parameters (hashable: a jit static arg).

    Attributes:
        treedef: structure of the full parameter pytree.
        paths: path string of every leaf, in flatten order.
        selected: indices of the leaves Θ differentiates (``param_filter``).
        sizes: number of elements of every leaf.
    """

    treedef: Any  # jax.tree_util.PyTreeDef
    paths: tuple[str, ...]
    selected: tuple[int, ...]
    sizes: tuple[int, ...]

    @property
    def num_selected(self) -> int:
        return sum(self.sizes[i] for i in self.selected)

    def merge(self, chosen: Sequence[jax.Array], others: Sequence[jax.Array], idx: Sequence[int]):
        """Rebuild the full pytree from the leaves ``idx`` (``chosen``) and the rest."""
        leaves: list = [None] * len(self.paths)
        rest = iter(others)
        pos = {j: k for k, j in enumerate(idx)}
        for j in range(len(leaves)):
            leaves[j] = chosen[pos[j]] if j in pos else next(rest)
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def make_layout(params: PyTree, param_filter: ParamFilter | None) -> ParamLayout:
    """Flatten ``params`` and apply ``param_filter`` (raises if nothing is selected)."""
    with_path, treedef = jax.tree_util.tree_flatten_with_path(params)
    paths = tuple(path_string(p) for p, _ in with_path)
    sizes = tuple(int(np.prod(np.shape(x))) for _, x in with_path)
    if param_filter is None:
        selected = tuple(range(len(paths)))
    else:
        selected = tuple(i for i, p in enumerate(paths) if param_filter(p))
    if not selected:
        shown = ", ".join(paths[:6]) + (" ..." if len(paths) > 6 else "")
        raise ConfigError(
            f"param_filter selected no parameters; parameter paths look like: {shown}. "
            "Fix the predicate (it receives paths such as 'layer4/conv1/kernel')."
        )
    return ParamLayout(treedef=treedef, paths=paths, selected=selected, sizes=sizes)


def group_leaves(layout: ParamLayout, max_params: int | None) -> list[tuple[int, ...]]:
    """Split the selected leaves into groups of at most ``max_params`` elements.

    A leaf larger than ``max_params`` forms a group by itself. ``None`` = one group.
    """
    if max_params is None or max_params >= layout.num_selected:
        return [layout.selected]
    groups: list[tuple[int, ...]] = []
    current: list[int] = []
    count = 0
    for i in layout.selected:
        if current and count + layout.sizes[i] > max_params:
            groups.append(tuple(current))
            current, count = [], 0
        current.append(i)
        count += layout.sizes[i]
    if current:
        groups.append(tuple(current))
    return groups


def module_of(path: str) -> str:
    """Top-level module name of a path (skipping a leading ``params`` collection)."""
    parts = path.split("/")
    if parts and parts[0] == "params" and len(parts) > 1:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else "<root>"


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)
