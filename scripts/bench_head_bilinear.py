"""Where the linear model's error comes from: the fresh head growing (issue 10, item 1).

Runs the chosen benchmark-v2 cases with :func:`ttjax.benchmark.evaluate_head_bilinear` (each
case built exactly as ``ttjax benchmark`` builds it): the linearised network (``linear``, the
paper's model trained in weight space) and the network with its backbone linearised and its
head exact (``head_bilinear``, :func:`ttjax.ntk.linearize_backbone`), both fine-tuned with the
real run's batches. ``--reuse-real`` takes the real runs (and the shipped predictor's
variants) from earlier records of the same cases. Scores Tε per backbone
(:func:`ttjax.benchmark.variant_rows`; a reference run that blew up has no Tε,
:func:`ttjax.benchmark.converged_references`) and the loss reached at T
(:func:`ttjax.benchmark.loss_level_rows`); writes ``head_bilinear.jsonl`` (resumable) and
``head_bilinear.{json,csv,png}`` under ``--out``.

    python scripts/bench_head_bilinear.py --split tune --max-case-minutes 8 \\
        --reuse-real results/aligned_drift/tune/closed_loop.jsonl --out results/head_bilinear/tune
    python scripts/bench_head_bilinear.py --small --out /tmp/head_bilinear   # tiny grid, 1 case
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ttjax import TTJaxError
from ttjax.benchmark import (
    REFERENCE_MODELS,
    add_selection_flags,
    check_script_paths,
    converged_references,
    evaluate_head_bilinear,
    format_variant_row,
    latest_records,
    loss_level_rows,
    momentum_rows,
    reusable_runs,
    run_benchmark,
    selected_cases,
    write_table,
)

SHIPPED = ("observed@4", "aligned1@4")
"""Variants of a reused closed-loop record scored beside the reference models."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_selection_flags(parser, split="tune")
    parser.add_argument("--reuse-real", type=Path, default=None,
                        help="records whose real runs of the same cases are reused")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/head_bilinear"))
    args = parser.parse_args(argv)
    check_script_paths(parser, records=[args.reuse_real], out=args.out, flag="--reuse-real")
    path = args.out / "head_bilinear.jsonl"
    try:
        cases = selected_cases(args)
        reuse = None if args.reuse_real is None else reusable_runs(args.reuse_real)
        args.out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known good
        key = jax.random.key(args.seed)
        run = run_benchmark(cases, path=path, key=key, evaluate=evaluate_head_bilinear,
                            reuse_real=reuse)  # fmt: skip
        records = latest_records(run)
    except TTJaxError as err:
        parser.error(str(err))
    keys = {c.key for c in cases}
    records = [r for r in records if r.get("key") in keys and r.get("status") == "ok"]
    records = converged_references(records)
    if not records:
        parser.error(f"no case finished; see {path}")
    rows = momentum_rows(records, [*REFERENCE_MODELS, *SHIPPED])
    levels = loss_level_rows(records)
    doc = {"split": args.split, "cases": len(records), "rows": rows, "loss_levels": levels}
    write_table(args.out, "head_bilinear", rows, doc)
    for r in rows:
        print(format_variant_row(r))
    for r in levels:
        print(f"loss at T {r['model']:>13} {r['backbone']:>14} cases {r['cases']:3d} (not "
              f"converged {r['unconverged']})  median |log(L̂_T/L_T)| "
              f"{r['median_abs_log_ratio']:.2f}  within ×1.25 "
              f"{100 * r['within_1.25x']:5.1f}%")  # fmt: skip

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, style in (("linear", "o"), ("head_bilinear", "s")):
        pts = [(r["head_bilinear"]["loss_T"]["real"], r["head_bilinear"]["loss_T"][name])
               for r in records if name in r["head_bilinear"]["loss_T"]
               and name not in r["head_bilinear"]["unconverged"]]  # fmt: skip
        if pts:
            ax.loglog(*np.asarray(pts).T, style, label=name, alpha=0.7)
    lo, hi = ax.get_xlim()
    ax.plot([lo, hi], [lo, hi], "k:", lw=1)
    ax.set_xlabel("real loss at T")
    ax.set_ylabel("reference model's loss at T")
    ax.set_title(f"head growth: {len(records)} {args.split} cases")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "head_bilinear.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
