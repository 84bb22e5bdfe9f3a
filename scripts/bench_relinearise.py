"""Re-linearising with a full Θ at predicted points (issue 10, 3b), scored on benchmark records.

Rebuilds each ``ok`` case of ``--records`` from its key (same head, Θ₀ and learning rate as
the record; records made with other weights are refused), computes the predicted loss curve
with Θ rebuilt at the predicted weights of each ``--at`` set of fractions of T
(``ttjax.benchmark.with_relinearised``; outputs carried on, and ``:restart`` from the real
outputs), and scores every drift model in the records on the same real runs, per backbone:
pairs within 13% (GD) / 20% (SGD), median |T̂ε − Tε|/Tε and median |T̂ε − Tε|/T. Writes
``relinearise.{json,csv,png}`` and the re-scored records (``relinearised.jsonl``) under
``--out``.

    python scripts/bench_relinearise.py --records results/bench_v4_heldout.jsonl \\
        --at 0.25 --at 0.125,0.25,0.5 --out results/relinearise_heldout
    python scripts/bench_relinearise.py --small --out /tmp/relin     # a tiny self-made case
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ttjax import TTJaxError
from ttjax.benchmark import (
    GridPreset,
    Split,
    append_record,
    benchmark_grid,
    case_split,
    check_script_paths,
    format_variant_row,
    latest_records,
    read_records,
    run_benchmark,
    summarize,
    variant_rows,
    with_relinearised,
    write_table,
)
from ttjax.dynamics import DriftModel

BASE = [d.value for d in DriftModel]


def _tiny_records(tmp: Path, seed: int) -> list[dict]:
    """The first (GD) case of the ``TINY`` grid run end to end (for ``--small``)."""
    path = tmp / "tiny.jsonl"
    case = benchmark_grid(preset=GridPreset.TINY)[0]
    run_benchmark([case], path=path, key=jax.random.key(seed), progress=False)
    return list(read_records(path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=Path, help="benchmark JSON-lines file")
    parser.add_argument("--at", action="append", default=None,
                        help="comma-separated fractions of T at which Θ is rebuilt (repeat "
                             "for several variants; default 0.25)")  # fmt: skip
    parser.add_argument("--split", choices=[s.value for s in Split], default="all")
    parser.add_argument("--seed", type=int, default=0, help="the benchmark run's --seed")
    parser.add_argument("--out", type=Path, default=Path("results/relinearise"))
    parser.add_argument("--small", action="store_true", help="a tiny self-made case")
    args = parser.parse_args(argv)
    if args.records is None and not args.small:
        parser.error("give --records FILE (a benchmark's JSON lines), or --small")
    try:
        stages = [tuple(float(v) for v in a.split(",")) for a in (args.at or ["0.25"])]
    except ValueError:
        parser.error(f"--at takes comma-separated fractions of T, got {args.at}")
    if any(not 0 < f < 1 for s in stages for f in s):
        parser.error(f"--at fractions must lie strictly between 0 and 1, got {args.at}")
    check_script_paths(parser, records=[None if args.small else args.records], out=args.out)
    key = jax.random.key(args.seed)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.small or args.records is None:
                records = _tiny_records(Path(tmp), args.seed)
            else:
                records = latest_records(read_records(args.records))
        if args.split != "all":
            records = [r for r in records if case_split(r["key"]).value == args.split]
        records = with_relinearised(records, stages, key=key)
        names = BASE + sorted(
            {n for r in records for n in r.get("predicted_variants", {})} - set(BASE)
        )
        summarize(records, split=Split.ALL)  # no ok record: a clear error
    except TTJaxError as err:  # stale records, a stage rounding to step 0 or T, no ok record
        parser.error(str(err))
    args.out.mkdir(parents=True, exist_ok=True)
    scored = args.out / "relinearised.jsonl"
    scored.unlink(missing_ok=True)
    for r in records:
        append_record(scored, r)

    rows = variant_rows(records, names)
    details = {r["key"]: r.get("relinearised") for r in records if r.get("status") == "ok"}
    doc = {"stages": stages, "split": args.split, "rows": rows, "cases": details}
    write_table(args.out, "relinearise", rows, doc)
    for row in rows:
        print(format_variant_row(row, variant_width=28, backbone_width=24))

    backbones = sorted({r["backbone"] for r in rows})
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names)), 4))
    width = 0.8 / max(len(backbones), 1)
    for j, b in enumerate(backbones):
        cell = {r["variant"]: 100 * r["median_rel"] for r in rows if r["backbone"] == b}
        vals = [cell.get(n, float("nan")) for n in names]
        ax.bar([i + j * width for i in range(len(names))], vals, width, label=b)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(names))], names, rotation=30,
                  ha="right", fontsize=7)  # fmt: skip
    ax.set_ylabel("median |T̂ε − Tε| / Tε (%)")
    ax.set_title("drift models and full-Θ re-linearisation on the same real runs")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "relinearise.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
