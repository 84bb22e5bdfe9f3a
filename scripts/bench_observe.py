"""Observing more real steps before predicting (issue 10, option 3c): accuracy against cost.

Runs the chosen benchmark-v2 cases with :func:`ttjax.benchmark.evaluate_closed_loop` (each
case built exactly as ``ttjax benchmark`` builds it; ``max(--observe)`` real steps observed
once; the real run fine-tuned) and scores, per backbone, the default drift model fed the first
K steps (``observed@K``), the drift along the gradient (``gradient@K``) and the closed loop
that restarts the linear model from the real outputs after K steps (``restart@K``, momentum-0
runs only, so it is also compared with the others on those runs), and with ``--alignment``
the drift that partly holds the rate along the residual (``aligned{γ}@K``, ``--drift
aligned``). ``--reuse-real`` takes the real runs from earlier records of the same cases (only
the prediction is recomputed). Writes the records (``closed_loop.jsonl``, resumable) and
``closed_loop.{json,csv,png}`` under ``--out``.

    python scripts/bench_observe.py --split tune --max-case-minutes 8 \\
        --backbone resnet18@32 --backbone small_cnn@28 --out results/closed_loop_tune
    python scripts/bench_observe.py --split tune --max-case-minutes 8 \
        --backbone resnet18@32 --backbone small_cnn@28 --observe 4 --alignment 0.5,1 \
        --reuse-real results/closed_loop_tune/closed_loop.jsonl --out results/aligned_tune
    python scripts/bench_observe.py --small --out /tmp/closed_loop   # the tiny grid's first case
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ttjax import TTJaxError
from ttjax.benchmark import (
    OBSERVE_STEPS,
    add_selection_flags,
    alignment_name,
    check_script_paths,
    evaluate_closed_loop,
    format_variant_row,
    latest_records,
    momentum_rows,
    reusable_runs,
    run_benchmark,
    selected_cases,
    write_table,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_selection_flags(parser, split="tune")
    parser.add_argument("--observe", default=",".join(map(str, OBSERVE_STEPS)),
                        help="comma-separated numbers of observed real steps K")  # fmt: skip
    parser.add_argument("--alignment", default="",
                        help="comma-separated γ (or fit) of --drift aligned")  # fmt: skip
    parser.add_argument("--reuse-real", type=Path, default=None,
                        help="records whose real runs of the same cases are reused")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/closed_loop"))
    args = parser.parse_args(argv)
    check_script_paths(parser, records=[args.reuse_real], out=args.out, flag="--reuse-real")
    try:
        observe = tuple(sorted({int(v) for v in args.observe.split(",")}))
    except ValueError:
        parser.error(f"--observe takes comma-separated integers, got {args.observe!r}")
    if not observe or observe[0] < 2:
        parser.error(f"--observe needs numbers of real steps K ≥ 2, got {args.observe!r}")
    try:
        alignments = tuple(None if v.strip() == "fit" else float(v)
                           for v in args.alignment.split(",") if v.strip())  # fmt: skip
    except ValueError:
        parser.error(f"--alignment takes comma-separated numbers or fit, got {args.alignment!r}")
    if any(g is not None and not 0 <= g < float("inf") for g in alignments):
        parser.error(f"--alignment γ must be finite and ≥ 0, got {args.alignment!r}")
    path = args.out / "closed_loop.jsonl"
    try:
        cases = selected_cases(args)
        if args.small:
            observe = tuple(k for k in observe if k < cases[0].hparams.steps) or (2,)
        reuse = None if args.reuse_real is None else reusable_runs(args.reuse_real)
        args.out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known good
        evaluate = functools.partial(evaluate_closed_loop, observe=observe, alignments=alignments)
        key = jax.random.key(args.seed)
        run = run_benchmark(cases, path=path, key=key, evaluate=evaluate, reuse_real=reuse)
        records = latest_records(run)
    except TTJaxError as err:
        parser.error(str(err))
    keys = {c.key for c in cases}
    records = [r for r in records if r.get("key") in keys]
    models = ("observed", "gradient", *map(alignment_name, alignments), "restart")
    names = [f"{m}@{k}" for k in observe for m in models]
    kept = [n for n in names if not n.startswith("restart@")]  # restart: momentum-0 runs only
    rows = momentum_rows(records, kept, momentum0_variants=names)
    if not rows:
        parser.error(f"no case finished; see {path}")
    doc = {"observe": observe, "split": args.split, "cases": len(records), "rows": rows}
    write_table(args.out, "closed_loop", rows, doc)
    for r in rows:
        print(format_variant_row(r, variant_width=12))

    fig, ax = plt.subplots(figsize=(7, 4))
    styles = [("observed", "o-"), ("gradient", "s--"), ("restart", "^:")]
    styles += [(alignment_name(g), "d-.") for g in alignments]
    for model, style in styles:
        runs = "momentum 0" if model == "restart" else "all"
        pts = [(int(r["variant"].split("@")[1]), 100 * r["median_rel"]) for r in rows
               if r["runs"] == runs and r["backbone"] == "all"
               and r["variant"].startswith(model + "@")]  # fmt: skip
        if pts:
            ax.plot(*zip(*sorted(pts), strict=True), style, label=f"{model} ({runs} runs)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("observed real steps K")
    ax.set_ylabel("median |T̂ε − Tε| / Tε (%)")
    ax.set_title(f"closed loop: {len(records)} {args.split} cases")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "closed_loop.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
