"""Table 1 of the paper: mean absolute Tε error (steps) per task and ε, low vs high lr.

Computed by :func:`ttjax.benchmark.summarize` from a benchmark JSON-lines file; writes
``table1.csv`` (task, ε, low, high), ``table1.json`` (the full summary) and ``table1.png``
(the table drawn as a figure).

    python scripts/table1.py --records results/benchmark_default.jsonl --out out/table1
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from ttjax.benchmark import Split, check_script_paths, read_records, summarize


def _cell(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", default="results/benchmark_default.jsonl")
    ap.add_argument("--out", default="out/table1")
    ap.add_argument("--small", action="store_true", help="CI: use --records as it is")
    args = ap.parse_args(argv)
    check_script_paths(ap, records=[args.records], out=args.out)
    summary = summarize(read_records(args.records), split=Split.ALL)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [
        (task, e, cells.get("low"), cells.get("high"))
        for task, by_eps in summary.table1.items()
        for e, cells in by_eps.items()
    ]
    with open(out / "table1.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("task", "eps", "low", "high"))
        w.writerows(("" if v is None else v for v in row) for row in rows)
    (out / "table1.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n")

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 0.9 + 0.35 * len(rows)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.axis("off")
    ax.table(
        cellText=[[t, f"{e:g}", _cell(lo), _cell(hi)] for t, e, lo, hi in rows],
        colLabels=["task", "ε", "low lr |ΔTε|", "high lr |ΔTε|"],
        loc="center",
    )
    ax.set_title("mean absolute Tε error (steps)")
    fig.savefig(out / "table1.png", dpi=110)
    print(f"{len(rows)} rows → {out}")


if __name__ == "__main__":
    main()
