"""Figure 6 of the paper: Tε prediction error vs learning rate, batch size and dataset size.

Reads a benchmark JSON-lines file (``ttjax benchmark``). The error of a (case, ε) pair is
:func:`ttjax.benchmark.summarize`'s relative error ``|T̂ε − Tε| / max(Tε, 1)`` (T̂ε: median over
paths); it is obtained from ``summarize`` itself — per pair from the one-record summary's
``eps=ε`` row, per group as the ``all`` row of the group's summary — so there is one definition.
Three panels: error grouped by learning rate, by batch size (GD: the full batch N) and by
N = classes × per_class; points per (case, ε), coloured by optimizer, with the median per
(value, optimizer) and over both optimizers. (The paper shows the mean and 95% CI, with the lr
panel for GD and the other two for SGD; here both optimizers are drawn and told apart.)

Writes ``fig6_error_vs_hparams.png``, ``fig6_error_vs_hparams.csv`` (one row per group:
hyper-parameter, optimizer or ``all``, value, and the group's error row),
``fig6_error_vs_hparams.json`` (the same, nested) and ``fig6_points.csv`` (one row per pair).

    python scripts/fig6_error_vs_hparams.py --records results/benchmark_default.jsonl --out out/fig6
    python scripts/fig6_error_vs_hparams.py --small   # CI: the same file, as it is
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ttjax.benchmark import (
    Split,
    check_script_paths,
    converged_real,
    read_records,
    resolved_hparams,
    summarize,
)

HPARAMS = ("lr", "batch_size", "n_train")
TITLES = {
    "lr": "learning rate (η / η_max where set)",
    "batch_size": "batch size (GD: N)",
    "n_train": "N = K × n",
}
POINT_HEADER = (
    "key",
    "model",
    "data",
    "optimizer",
    "lr",
    "lr_abs",
    "momentum",
    "batch_size",
    "n_train",
    "eps",
    "predicted",
    "real",
    "abs_error",
    "rel_error",
)
GROUP_HEADER = (
    "hparam",
    "optimizer",
    "value",
    "n",
    "median_rel",
    "p95_rel",
    "within_13",
    "within_20",
    "mean_abs",
)
COLOURS = {"gd": "#1f77b4", "sgd": "#ff7f0e"}


def hparam_values(r: Mapping[str, Any]) -> dict[str, float]:
    """The case's lr (as a fraction of η_max when the case set it so, else absolute), batch
    size (GD: the full batch N) and N = classes × per_class."""
    task, hp = r["case"]["task"], resolved_hparams(dict(r))
    n_train = int(task["classes"]) * int(task["per_class"])
    fraction = r["case"].get("lr_fraction")
    return {
        "lr": float(fraction if fraction is not None else hp["lr"]),
        "lr_abs": float(hp["lr"]),
        "batch_size": hp.get("batch_size") or n_train,
        "n_train": n_train,
    }


def points(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per finished (case, ε) pair; ``rel_error`` is the pair's summarize row."""
    rows = []
    for r in records:
        if r.get("status", "ok") != "ok" or not r.get("real") or not converged_real(r):
            continue
        summary = summarize([r], split=Split.ALL)
        hp = r["case"]["hparams"]
        for e_key, real in r["real"].items():
            err = summary.row(f"eps={float(e_key)!r}")
            rows.append(
                {
                    "key": r["key"],
                    "model": r["case"]["task"]["model"],
                    "data": r["case"]["task"]["data"],
                    "optimizer": hp["optimizer"],
                    "momentum": hp.get("momentum", 0.0),
                    **hparam_values(r),
                    "eps": float(e_key),
                    "predicted": float(r["predicted"][e_key]["median"]),
                    "real": int(real),
                    "abs_error": err.mean_abs,
                    "rel_error": err.median_rel,
                }
            )
    return rows


def groups(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Error rows of the records grouped by each hyper-parameter, per optimizer and for all."""
    ok = [r for r in records
          if r.get("status", "ok") == "ok" and r.get("real") and converged_real(r)]  # fmt: skip
    out = []
    for name in HPARAMS:
        for opt in ("all", "gd", "sgd"):
            sel = [r for r in ok if opt == "all" or r["case"]["hparams"]["optimizer"] == opt]
            for v in sorted({hparam_values(r)[name] for r in sel}):
                sub = [r for r in sel if hparam_values(r)[name] == v]
                row = dataclasses.asdict(summarize(sub, split=Split.ALL).row("all"))
                del row["group"]
                out.append({"hparam": name, "optimizer": opt, "value": v, **row})
    return out


def _write_csv(path: Path, header: Sequence[str], rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)


def draw(pts: list[dict[str, Any]], grp: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharey=True)
    for ax, name in zip(axes, HPARAMS, strict=True):
        # One slot per distinct value (categorical axis), GD left of SGD within each slot.
        values = sorted({g["value"] for g in grp if g["hparam"] == name})
        slot = {v: i for i, v in enumerate(values)}
        for k, (opt, colour) in enumerate(COLOURS.items()):
            dx = 0.15 * (2 * k - 1)
            sel = [p for p in pts if p["optimizer"] == opt]
            if sel:
                ax.scatter(
                    [slot[p[name]] + dx for p in sel],
                    [p["rel_error"] for p in sel],
                    s=12,
                    alpha=0.5,
                    color=colour,
                    label=f"{opt.upper()} (case, ε)",
                )
            med = [g for g in grp if g["hparam"] == name and g["optimizer"] == opt]
            if med:
                ax.plot(
                    [slot[g["value"]] + dx for g in med],
                    [g["median_rel"] for g in med],
                    "-s",
                    color=colour,
                    ms=6,
                    label=f"{opt.upper()} median",
                )
        both = [g for g in grp if g["hparam"] == name and g["optimizer"] == "all"]
        ax.scatter(
            [slot[g["value"]] for g in both],
            [g["median_rel"] for g in both],
            marker="D",
            s=40,
            color="black",
            zorder=3,
            label="median, both",
        )
        for lim in (0.13, 0.20):
            ax.axhline(lim, color="grey", lw=1, ls=":")
        ax.set_xticks(range(len(values)), [f"{v:g}" for v in values])
        ax.set_xlim(-0.6, len(values) - 0.4)
        ax.set_xlabel(TITLES[name])
        ax.set_title(f"error vs {TITLES[name]}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("relative error |T̂ε − Tε| / max(Tε, 1)")
    axes[0].legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", default="results/benchmark_default.jsonl")
    ap.add_argument("--out", default="out/fig6_error_vs_hparams")
    ap.add_argument("--small", action="store_true", help="CI: use --records as it is")
    args = ap.parse_args(argv)
    check_script_paths(ap, records=[args.records], out=args.out)
    records = read_records(args.records)
    pts, grp = points(records), groups(records)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "fig6_points.csv", POINT_HEADER, pts)
    _write_csv(out / "fig6_error_vs_hparams.csv", GROUP_HEADER, grp)
    nested: dict[str, Any] = {"records": str(args.records), "n_points": len(pts)}
    for g in grp:
        stats = {k: v for k, v in g.items() if k not in ("hparam", "optimizer", "value")}
        nested.setdefault(g["hparam"], {}).setdefault(g["optimizer"], {})[repr(g["value"])] = stats
    (out / "fig6_error_vs_hparams.json").write_text(json.dumps(nested, indent=2) + "\n")
    if not pts:
        print(f"no finished (case, ε) pair in {args.records}: no figure → {out}")
        return
    draw(pts, grp, out / "fig6_error_vs_hparams.png")
    rel = np.asarray([p["rel_error"] for p in pts])
    print(
        f"{len(pts)} (case, ε) pairs from {args.records} → {out}; "
        f"median relative error {np.median(rel):.3f}"
    )
    print(f"{'hparam':>10} {'opt':>4} {'value':>8} {'n':>4} {'median':>7} {'p95':>7} {'≤20%':>5}")
    for g in grp:
        print(
            f"{g['hparam']:>10} {g['optimizer']:>4} {g['value']:>8g} {g['n']:>4} "
            f"{g['median_rel']:>7.3f} {g['p95_rel']:>7.3f} {g['within_20']:>5.0%}"
        )


if __name__ == "__main__":
    main()
