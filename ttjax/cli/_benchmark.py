"""``ttjax benchmark``: predicted vs real Tε on a grid of cases, resumable JSON-lines + summary.

ttjax benchmark --grid default --out results/benchmark.jsonl      # run (resumes), summarise
ttjax benchmark --summary-only --out results/benchmark.jsonl      # summary from the file alone
ttjax benchmark --grid v2 --dry-run                                # list + estimated cost, no run
ttjax benchmark --grid v2 --run-split heldout --max-case-minutes 8  # the cheap held-out cases
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._config import Loss

if TYPE_CHECKING:
    from ..benchmark import BenchmarkCase, Split


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..benchmark import GridPreset
    from ..dynamics import DriftModel

    parser.add_argument(
        "--grid",
        choices=[p.value for p in GridPreset],
        default="default",
        help="which grid of cases to run (default: default, ≥ 60 cases)",
    )
    parser.add_argument(
        "--out",
        default="results/benchmark.jsonl",
        help="JSON-lines file; cases already in it are skipped",
    )
    parser.add_argument("--loss", choices=[x.value for x in Loss], default="ce")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed of the run")
    parser.add_argument("--limit", type=int, default=None, help="run at most this many cases (≥ 1)")
    parser.add_argument("--summary-only", "--summary", action="store_true", dest="summary_only",
                        help="only summarise --out")  # fmt: skip
    parser.add_argument("--summary-json", default=None, help="also write the summary as JSON")
    parser.add_argument("--split", choices=["heldout", "tune", "all"], default=None,
                        help="half of the cases to summarise (default: the --run-split when "
                        "one half was run, else heldout)")  # fmt: skip
    parser.add_argument("--run-split", choices=["heldout", "tune", "all"], default="all",
                        help="half of the grid to run (default: %(default)s)")  # fmt: skip
    parser.add_argument("--max-case-minutes", type=float, default=None,
                        help="run only cases whose estimated cost (--dry-run's) is at most this, "
                        "cheapest first")  # fmt: skip
    parser.add_argument("--backbone", action="append", default=None, metavar="MODEL@SIZE",
                        help="run only this backbone's cases (repeatable), e.g. "
                        "efficientnet_lite0@64")  # fmt: skip
    parser.add_argument("--reuse-real", default=None, metavar="JSONL",
                        help="reuse the real runs of the ok cases in this file (re-score the "
                        "predictor without fine-tuning again)")  # fmt: skip
    parser.add_argument("--variant", choices=[d.value for d in DriftModel], default=None,
                        help="summarise another drift model's predictions, kept in the "
                        "records (predicted_variants)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true",
                        help="print the estimated cost of the grid; run nothing")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..benchmark import Split
    from ._task_flags import check_benchmark_flags

    _check_flags(args)
    check_benchmark_flags(args)  # before any case runs: a bad flag costs nothing
    split = Split(args.split or (args.run_split if not args.summary_only and args.run_split
                                 != "all" else "heldout"))  # fmt: skip
    if not args.summary_only:
        rc = _run_cases(args)
        if rc is not None:
            return rc
    _summarise(args, split)
    return 0


def _check_flags(args: argparse.Namespace) -> None:
    """Numeric ranges, and no run-selection flag with ``--summary`` (it would be ignored)."""
    from .._errors import ConfigError

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be ≥ 1 (cases to run), got {args.limit}.")
    if args.max_case_minutes is not None and not args.max_case_minutes > 0:
        raise ConfigError(f"--max-case-minutes must be > 0, got {args.max_case_minutes}.")
    if args.summary_only:
        ignored = [flag for flag, given in (
            ("--limit", args.limit is not None), ("--dry-run", args.dry_run),
            ("--backbone", args.backbone), ("--max-case-minutes", args.max_case_minutes),
            ("--reuse-real", args.reuse_real), ("--run-split", args.run_split != "all"),
        ) if given]  # fmt: skip
        if ignored:
            raise ConfigError(
                f"{', '.join(ignored)} select(s) cases to run; --summary only reads --out. Drop "
                "them, or use --split / --variant to choose what is summarised."
            )


def _run_cases(args: argparse.Namespace) -> int | None:
    """Select the grid's cases and run those not yet in ``--out``; an exit code when the
    command ends here (``--dry-run``: 0, Ctrl-C: 130), else None."""
    import jax

    from .._errors import ConfigError
    from ..benchmark import (
        GridPreset,
        Split,
        benchmark_grid,
        check_run_seed,
        completed_keys,
        format_cost,
        read_records,
        reusable_runs,
        run_benchmark,
        select_cases,
    )

    cases = benchmark_grid(preset=GridPreset(args.grid), loss=Loss(args.loss))
    cap = None if args.max_case_minutes is None else 60.0 * args.max_case_minutes
    cases = select_cases(
        cases, split=Split(args.run_split), max_case_s=cap, backbones=args.backbone
    )
    if not cases:
        raise ConfigError(
            "no case of the grid matches --run-split/--backbone/--max-case-minutes (see "
            "--dry-run for each case's estimated cost); relax them."
        )
    existing = read_records(args.out)
    check_run_seed(existing, args.seed, what=f"--out {args.out}")
    done = completed_keys(existing)
    todo = [c for c in cases if c.key not in done]
    if args.limit is not None:  # at most this many cases *to run*: finished ones skipped
        cases = todo = todo[: args.limit]
    if args.dry_run:
        print(format_cost(cases))
        return 0
    reuse = None
    if args.reuse_real is not None:
        reuse = reusable_runs(args.reuse_real)
        check_run_seed(list(reuse.values()), args.seed, what=f"--reuse-real {args.reuse_real}")
        _check_reuse(todo, reuse, args.reuse_real)
    try:
        run_benchmark(cases, path=args.out, key=jax.random.key(args.seed), reuse_real=reuse,
                      seed=args.seed)  # fmt: skip
    except KeyboardInterrupt:
        print(f"interrupted: the finished cases are kept in {args.out}; run the same command "
              "again to resume.", file=sys.stderr)  # fmt: skip
        return 130
    return None


def _summarise(args: argparse.Namespace, split: Split) -> None:
    """The summary of ``--out`` (one drift model: ``--variant``), JSON first, then the tables."""
    from ..benchmark import (
        check_variant,
        format_summary,
        latest_records,
        read_records,
        summarize,
        with_variant,
    )
    from ..dynamics import DEFAULT_DYNAMICS

    records = latest_records(read_records(args.out))
    if args.variant is not None:
        check_variant(records, args.variant, source=args.out)
        records = with_variant(records, args.variant)
    summary = summarize(records, split=split)
    if args.summary_json:  # before printing: a closed pipe must not lose the file
        from ._report import write_json

        doc = {**summary.to_dict(), "variant": args.variant or DEFAULT_DYNAMICS.drift.value}
        write_json(args.summary_json, doc, what="--summary-json")  # atomic
    if args.variant is not None:
        print(f"Drift model summarised: {args.variant} (--variant)")
    print(format_summary(summary))


def _check_reuse(todo: Sequence[BenchmarkCase], reuse: Mapping[str, Any], path: str) -> None:
    """``--reuse-real`` that matches none of the cases to run (``todo``) would fine-tune them
    all again."""
    from .._errors import ConfigError

    missing = [c for c in todo if c.key not in reuse]
    if todo and len(missing) == len(todo):
        raise ConfigError(
            f"--reuse-real {path} holds none of the {len(todo)} case(s) to run (other cases, or "
            "another grid); point it at the records of the same grid, or drop it to fine-tune."
        )
    if missing:
        print(f"note: --reuse-real has no real run of {len(missing)} of the {len(todo)} case(s) "
              "to run; those are fine-tuned.", file=sys.stderr)  # fmt: skip
