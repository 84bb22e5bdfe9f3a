"""Figure 1 of the paper: predicted vs real Tε, one panel for GD and one for SGD.

Reads a benchmark JSON-lines file (``ttjax benchmark``), plots the median predicted Tε against
the real Tε of every finished (case, ε) pair, and writes ``fig1_scatter.png``,
``fig1_scatter.csv`` (one row per point) and ``fig1_summary.json``
(``summarize(records, split=Split.ALL)``: every case, not one half of the split).

    python scripts/fig1_scatter.py --records results/benchmark_default.jsonl --out out/fig1
    python scripts/fig1_scatter.py --small   # CI: the same file, as it is
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from ttjax.benchmark import Split, check_script_paths, converged_real, read_records, summarize

HEADER = ("key", "optimizer", "lr_regime", "eps", "predicted", "real")


def points(records: list[dict]) -> list[tuple[str, str, str, float, float, float]]:
    """(key, optimizer, lr regime, ε, predicted median Tε, real Tε) of every finished case whose
    real run converged (a diverged or unsettled run has no training time)."""
    rows = []
    for r in records:
        if r.get("status", "ok") != "ok" or not converged_real(r):
            continue
        opt = str(r["case"]["hparams"]["optimizer"])
        regime = str(r["case"].get("lr_regime", "low"))
        for e_key, real in r["real"].items():
            pred = float(r["predicted"][e_key]["median"])
            rows.append((str(r["key"]), opt, regime, float(e_key), pred, float(real)))
    return rows


def draw(rows: list[tuple[str, str, str, float, float, float]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.5, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    eps_values = sorted({r[3] for r in rows})
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
    for ax, opt in zip(axes, ("gd", "sgd"), strict=True):
        sel = [r for r in rows if r[1] == opt]
        top = max([1.0] + [max(r[4], r[5]) for r in sel]) * 1.05
        ax.plot([0, top], [0, top], color="black", lw=1)
        tol = 0.13 if opt == "gd" else 0.20  # the paper's bar: 13% (GD), 20% (SGD)
        ax.fill_between([0, top], [0, top * (1 - tol)], [0, top * (1 + tol)], color="grey",
                        alpha=0.15, lw=0, label=f"±{tol:.0%}")  # fmt: skip
        for i, e in enumerate(eps_values):
            pts = np.array([(r[5], r[4]) for r in sel if r[3] == e]).reshape(-1, 2)
            if pts.size:
                ax.scatter(
                    pts[:, 0], pts[:, 1], s=22, color=colours[i % len(colours)], label=f"ε={e:g}"
                )
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("real Tε (steps)")
        ax.set_ylabel("predicted Tε (steps)")
        ax.set_title(f"{opt.upper()} ({len(sel)} points)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", default="results/benchmark_default.jsonl")
    ap.add_argument("--out", default="out/fig1_scatter")
    ap.add_argument("--small", action="store_true", help="CI: use --records as it is")
    args = ap.parse_args(argv)
    check_script_paths(ap, records=[args.records], out=args.out)
    records = read_records(args.records)
    rows = points(records)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    draw(rows, out / "fig1_scatter.png")
    with open(out / "fig1_scatter.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    summary = summarize(records, split=Split.ALL).to_dict()
    (out / "fig1_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{len(rows)} points from {args.records} → {out}")


if __name__ == "__main__":
    main()
