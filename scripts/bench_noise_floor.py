"""The SGD noise floor (issue 10): how close can any prediction get to one real SGD run?

Fine-tunes each chosen SGD case of benchmark v2 ``--seeds`` times with independent batch draws
(:func:`ttjax.benchmark.evaluate_noise_floor`; same head, data and learning rate as the
benchmark's case) and scores, per backbone, the leave-one-out oracle (the median Tε of the other
runs) against each run — the ceiling of "≥ 90% of SGD pairs within 20%" — and, with
``--predictions`` (benchmark or ``bench_observe.py`` records of the same cases), the shipped
prediction (``--variant``, default the record's ``predicted``) on the same runs. Writes the
records (``noise_floor.jsonl``, resumable) and ``noise_floor.{json,csv,png}`` under ``--out``.

    python scripts/bench_noise_floor.py --split heldout --max-case-minutes 8 \\
        --backbone resnet18@32 --backbone small_cnn@28 \\
        --predictions results/closed_loop_heldout/closed_loop.jsonl --out results/noise_floor
    python scripts/bench_noise_floor.py --small --out /tmp/floor    # the tiny grid's SGD case
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ttjax import TTJaxError, enable_compilation_cache
from ttjax.benchmark import (
    add_selection_flags,
    append_record,
    check_script_paths,
    check_variant,
    evaluate_noise_floor,
    latest_records,
    noise_floor_rows,
    noise_model_rows,
    noise_model_variants,
    read_records,
    run_benchmark,
    selected_cases,
    with_variant,
    write_table,
)
from ttjax.dynamics import NoiseModel


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add_selection_flags(parser, split="heldout")
    parser.add_argument("--seeds", type=int, default=8, help="real runs per case (≥ 2)")
    parser.add_argument("--predictions", type=Path, default=None,
                        help="benchmark records of the same cases (JSON lines)")  # fmt: skip
    parser.add_argument("--variant", default=None, help="a predicted_variants name to score")
    parser.add_argument("--noise-models", default=None,
                        help="comma-separated SGD noise models (diagonal,function_space,"
                             "minibatch): simulated Tε spread beside the real runs'")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/noise_floor"))
    args = parser.parse_args(argv)
    check_script_paths(parser, records=[args.predictions], out=args.out, flag="--predictions")
    if args.seeds < 2:
        parser.error(f"--seeds must be ≥ 2, got {args.seeds}")
    if args.variant is not None and args.predictions is None:
        parser.error("--variant names a prediction kept in --predictions' records; give both")
    models = [m.strip() for m in (args.noise_models or "").split(",") if m.strip()]
    known = [m.value for m in NoiseModel]
    if any(m not in known for m in models):
        parser.error(
            f"--noise-models takes names from {','.join(known)}, got {args.noise_models!r}"
        )
    enable_compilation_cache()  # the S runs of a case compile the same step once
    path = args.out / "noise_floor.jsonl"
    try:
        cases = selected_cases(args, keep=lambda c: c.hparams.optimizer.value == "sgd")
        keys = {c.key for c in cases}
        predictions = None
        if args.predictions is not None:  # checked before the (long) real runs
            preds = latest_records(read_records(args.predictions))
            if args.variant is not None:
                check_variant(preds, args.variant, source=str(args.predictions))
                preds = with_variant(preds, args.variant)
            predictions = {r["key"]: r["predicted"] for r in preds if r.get("status") == "ok"}
            if not keys & set(predictions):
                parser.error(f"--predictions {args.predictions} holds none of the selected "
                             "cases; give the records of the same cases (benchmark or "
                             "bench_observe.py)")  # fmt: skip
        args.out.mkdir(parents=True, exist_ok=True)  # only once the cases are known
        evaluate = functools.partial(evaluate_noise_floor, seeds=args.seeds)
        records = latest_records(
            run_benchmark(cases, path=path, key=jax.random.key(args.seed), evaluate=evaluate)
        )
    except TTJaxError as err:
        parser.error(str(err))
    records = [r for r in records if r.get("key") in keys]
    rows = noise_floor_rows(records, predictions=predictions)
    if not rows:
        parser.error(f"no case has ≥ 2 converged runs; see {path}")
    if models:
        scored = args.out / "noise_models.jsonl"
        done = {r["key"]: r for r in read_records(scored)} if scored.is_file() else {}
        key = jax.random.key(args.seed)
        for r in records:
            old = done.get(r["key"], {}).get("noise_models") or {}
            if r.get("status") == "ok" and not set(models) <= set(old):
                try:
                    r["noise_models"] = {**old, **noise_model_variants(r, models, key=key)}
                except (TTJaxError, ValueError) as err:
                    parser.error(str(err))
                append_record(scored, r)
            elif old:
                r["noise_models"] = old
        model_rows = noise_model_rows(records)
        (args.out / "noise_models.json").write_text(json.dumps(model_rows, indent=1) + "\n")
        for m in model_rows:
            print(f"{m['noise_model']:>15} runs {m['pairs']:4d}  band holds "
                  f"{100 * m['band_coverage']:5.1f}%  width sim/real "
                  f"{m['median_width_ratio']:.2f}  within 20% of the median "
                  f"{100 * m['within']:5.1f}% (median {100 * m['median_rel']:4.1f}%)")  # fmt: skip
    doc = {"split": args.split, "seeds": args.seeds, "variant": args.variant, "rows": rows}
    write_table(args.out, "noise_floor", rows, doc)
    for r in rows:
        pred = r["predicted_within"]
        pred_s = "" if pred is None else (
            f"  prediction {100 * pred:5.1f}% (oracle on those "
            f"{100 * r['oracle_within_same_cases']:5.1f}%)"
        )  # fmt: skip
        print(f"{r['backbone']:>14} cases {r['cases']:2d} pairs {r['pairs']:4d}  oracle within 20% "
              f"{100 * r['oracle_within']:5.1f}%  median {100 * r['oracle_median_rel']:5.1f}%  "
              f"spread {100 * r['median_spread']:5.1f}%{pred_s}")  # fmt: skip

    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [r["backbone"] for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [100 * r["oracle_within"] for r in rows], 0.4,
           label="oracle (median of the other runs)")  # fmt: skip
    ax.bar([x + 0.2 for x in xs], [100 * (r["predicted_within"] or 0) for r in rows], 0.4,
           label="prediction")  # fmt: skip
    ax.axhline(90, color="k", lw=0.8, ls="--", label="issue 10 target")
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("SGD (run, ε) pairs within 20% (%)")
    ax.set_title(f"SGD noise floor: {args.seeds} real runs per case")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "noise_floor.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
