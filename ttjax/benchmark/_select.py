"""Choosing which cases of a grid to run: one half of the split, a cost cap, cheapest first."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Sequence

from .._errors import ConfigError
from ._case import BenchmarkCase
from ._cost import estimate_case
from ._grid_v2 import backbone_label
from ._split import Split, in_split


def select_cases(
    cases: Sequence[BenchmarkCase],
    *,
    split: Split = Split.ALL,
    max_case_s: float | None = None,
    backbones: Collection[str] | None = None,
) -> list[BenchmarkCase]:
    """The cases of ``split`` whose estimated cost (real run + prediction) is ≤ ``max_case_s``.

    ``backbones`` keeps only cases whose ``"model@image_size"`` label is listed (a label the
    grid does not have is a :class:`ttjax.ConfigError`).

    With a cost cap the cases are returned cheapest first (ties keep the grid's order), so an
    interrupted run has covered the most cases it could; cases whose backbone has no cost
    measurement count as unbounded and are dropped by a cap. Without a cap the grid's order is
    kept. The cost is :func:`ttjax.benchmark._cost.estimate_case`'s.

    Example:
        >>> from ttjax.benchmark import GridPreset, benchmark_grid
        >>> grid = benchmark_grid(preset=GridPreset.TINY)
        >>> len(select_cases(grid)) == len(grid)
        True
        >>> select_cases(grid, max_case_s=1e9)  # tiny@8 has no cost measurement
        []
    """
    chosen = [c for c in cases if in_split(c.key, split)]
    if backbones is not None:
        known = {backbone_label(c.task.to_dict()) for c in cases}
        unknown = sorted(set(backbones) - known)
        if unknown:
            raise ConfigError(
                f"--backbone {', '.join(unknown)} is not in this grid; its backbones are "
                f"{', '.join(sorted(known))}."
            )
        chosen = [c for c in chosen if backbone_label(c.task.to_dict()) in set(backbones)]
    if max_case_s is None:
        return chosen

    def cost(case: BenchmarkCase) -> float:
        c = estimate_case(case)
        if c.real_s is None or c.predict_s is None:
            return float("inf")
        return c.real_s + c.predict_s

    priced = [(cost(c), i, c) for i, c in enumerate(chosen)]
    return [c for s, _, c in sorted(priced, key=lambda t: t[:2]) if s <= max_case_s]


def add_selection_flags(parser: argparse.ArgumentParser, *, split: str) -> None:
    """The case-selection flags of the benchmark-v2 scripts: ``--split`` (default ``split``),
    ``--max-case-minutes``, ``--backbone`` (repeatable), ``--seed`` (the benchmark key's) and
    ``--small`` (one case of the tiny grid); read them back with :func:`selected_cases`."""
    parser.add_argument("--split", choices=[s.value for s in Split], default=split)
    parser.add_argument("--max-case-minutes", type=float, default=8.0)
    parser.add_argument("--backbone", action="append", default=None,
                        help="model@image_size of the v2 grid (repeat); default: all")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="the benchmark key's seed")
    parser.add_argument("--small", action="store_true", help="one case of the tiny grid")


def selected_cases(
    args: argparse.Namespace, *, keep: Callable[[BenchmarkCase], bool] = lambda case: True
) -> list[BenchmarkCase]:
    """The cases chosen by :func:`add_selection_flags`' flags that ``keep`` accepts: with
    ``--small`` the first such case of the tiny grid, else :func:`select_cases` of the v2 grid.

    Raises:
        ConfigError: no case matches (e.g. ``--max-case-minutes`` below every estimate).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_selection_flags(parser, split="heldout")
        >>> [c.hparams.optimizer.value for c in selected_cases(parser.parse_args(["--small"]))]
        ['gd']
    """
    from ._grid import GridPreset, benchmark_grid

    if args.small:
        return [next(c for c in benchmark_grid(preset=GridPreset.TINY) if keep(c))]
    chosen = select_cases(
        benchmark_grid(preset=GridPreset.V2),
        split=Split(args.split),
        max_case_s=60 * args.max_case_minutes,
        backbones=args.backbone,
    )
    kept = [c for c in chosen if keep(c)]
    if not kept:
        raise ConfigError(
            f"no case of the v2 grid matches --split {args.split} --max-case-minutes "
            f"{args.max_case_minutes:g}"
            + (f" --backbone {args.backbone}" if args.backbone else "")
            + "; relax them (`ttjax benchmark --grid v2 --dry-run` lists each case's cost)."
        )
    return kept


__all__ = ["add_selection_flags", "select_cases", "selected_cases"]
