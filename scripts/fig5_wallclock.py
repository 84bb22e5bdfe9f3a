"""Figure 5 of the paper: wall-clock of the Tε prediction vs the fine-tuning it replaces.

Reads a benchmark JSON-lines file (``ttjax benchmark``). Three panels:

1. per case, prediction seconds (``timing_s.predict``: Θ + dynamics + Tε, JIT included) against
   training seconds (``timing_s.train_steps``: the T steps, compilation and curve evaluation
   excluded), log-log, coloured by model, with y = x and y = x / (median cost ratio);
2. the cost ratio ``train_steps / predict`` per (model, optimizer);
3. what a user plans with: predicted wall-clock to reach ε, ``T̂ε × step_time_s``, against the
   real one, ``Tε × step_time_s`` (same measured step time, so its relative error is that of
   Tε; pairs with a zero on either side cannot be drawn on log axes and are only counted).

Writes ``fig5_wallclock.png``, ``fig5_wallclock.csv`` (one row per finished case, with
``pred_wall_s_eps=ε`` / ``real_wall_s_eps=ε`` columns) and ``fig5_wallclock.json`` (cost ratio
median and quantiles overall, per model and per (model, optimizer); the median is
:func:`ttjax.benchmark.summarize`'s ``median_cost_ratio`` of that group).

    python scripts/fig5_wallclock.py --records results/benchmark_default.jsonl --out out/fig5
    python scripts/fig5_wallclock.py --small   # CI: the same file, as it is
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ttjax.benchmark import Split, check_script_paths, read_records, resolved_hparams, summarize

BASE = (
    "key",
    "model",
    "data",
    "optimizer",
    "lr",
    "momentum",
    "batch_size",
    "n_train",
    "steps",
    "num_params",
    "ntk_method",
    "setup_s",
    "predict_s",
    "train_steps_s",
    "compile_s",
    "finetune_wall_s",
    "step_time_s",
    "cost_ratio",
)
QUANTILES = (0.05, 0.25, 0.75, 0.95)
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
MARKERS = {"gd": "o", "sgd": "^"}


def _ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished cases that carry the timings this figure needs."""
    return [
        r
        for r in records
        if r.get("status", "ok") == "ok" and r.get("cost_ratio") is not None and "timing_s" in r
    ]


def case_row(r: Mapping[str, Any], eps_keys: list[str]) -> dict[str, Any]:
    """One CSV row: the case, its timings, and per ε the predicted and real wall-clock to ε."""
    task, hp, t = r["case"]["task"], resolved_hparams(dict(r)), r["timing_s"]
    n_train = int(task["classes"]) * int(task["per_class"])
    step = float(r["step_time_s"])
    row: dict[str, Any] = {
        "key": r["key"],
        "model": task["model"],
        "data": task["data"],
        "optimizer": hp["optimizer"],
        "lr": hp["lr"],
        "momentum": hp.get("momentum", 0.0),
        "batch_size": hp.get("batch_size") or n_train,  # GD: the full batch
        "n_train": n_train,
        "steps": hp["steps"],
        "num_params": r.get("num_params", ""),
        "ntk_method": r["case"].get("ntk_method") or "",
        "setup_s": t["setup"],
        "predict_s": t["predict"],
        "train_steps_s": t["train_steps"],
        "compile_s": t["compile"],
        "finetune_wall_s": t["finetune_wall"],
        "step_time_s": step,
        "cost_ratio": r["cost_ratio"],
    }
    for e in eps_keys:
        if e in r.get("real", {}):
            row[f"pred_wall_s_eps={e}"] = float(r["predicted"][e]["median"]) * step
            row[f"real_wall_s_eps={e}"] = float(r["real"][e]) * step
        else:
            row[f"pred_wall_s_eps={e}"] = row[f"real_wall_s_eps={e}"] = ""
    return row


def ratio_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    """Cost-ratio statistics of a group: n, summarize's median, min/max and quantiles."""
    ratios = np.asarray([float(r["cost_ratio"]) for r in records])
    out = {"n": int(ratios.size), "median": summarize(records, split=Split.ALL).median_cost_ratio}
    out |= {f"q{round(100 * q):02d}": float(np.quantile(ratios, q)) for q in QUANTILES}
    return out | {"min": float(ratios.min()), "max": float(ratios.max())}


def _by(records: list[dict[str, Any]], *fields: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        src = {**r["case"]["task"], **r["case"]["hparams"]}
        groups.setdefault("/".join(str(src[f]) for f in fields), []).append(r)
    return dict(sorted(groups.items()))


def _minor_label(v: float, _pos: int | None = None, *, show: bool) -> str:
    return f"{v:g}" if show and f"{v:.0e}"[0] in "25" else ""


def draw(rows: list[dict[str, Any]], eps_keys: list[str], median: float, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(14, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    models = sorted({r["model"] for r in rows})
    colour = {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(models)}

    def diagonal(ax: Any, lo: float, hi: float, label: str = "y = x") -> None:
        ax.plot([lo, hi], [lo, hi], color="black", lw=1, label=label)

    # 1: prediction vs training seconds, per case.
    xs = [float(r["train_steps_s"]) for r in rows] + [float(r["predict_s"]) for r in rows]
    lo, hi = min(xs) / 2, max(xs) * 2
    diagonal(ax1, lo, hi)
    if np.isfinite(median) and median > 0:
        ax1.plot([lo, hi], [lo / median, hi / median], "--", color="grey", lw=1)
        ax1.plot([], [], "--", color="grey", label=f"y = x / {median:.2g} (median ratio)")
    for m in models:
        for opt, marker in MARKERS.items():
            sel = [r for r in rows if r["model"] == m and r["optimizer"] == opt]
            if sel:
                ax1.scatter(
                    [float(r["train_steps_s"]) for r in sel],
                    [float(r["predict_s"]) for r in sel],
                    color=colour[m],
                    marker=marker,
                    s=30,
                    label=f"{m} {opt.upper()}",
                )
    ax1.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))
    ax1.set_xlabel("training, T steps (s)")
    ax1.set_ylabel("prediction (s)")
    ax1.set_title(f"wall-clock per case ({len(rows)} cases)")

    # 2: cost ratio per (model, optimizer).
    groups = sorted({(r["model"], r["optimizer"]) for r in rows})
    for i, (m, opt) in enumerate(groups):
        vals = [float(r["cost_ratio"]) for r in rows if (r["model"], r["optimizer"]) == (m, opt)]
        jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
        ax2.scatter(i + jitter, vals, color=colour[m], marker=MARKERS.get(opt, "o"), s=30)
        ax2.hlines(np.median(vals), i - 0.3, i + 0.3, color="black", lw=2)
    ax2.axhline(1.0, color="grey", lw=1, ls=":")
    ax2.set_xticks(range(len(groups)), [f"{m}\n{o.upper()}" for m, o in groups], fontsize=8)
    ax2.set_yscale("log")
    ax2.set_xlim(-0.6, len(groups) - 0.4)
    ax2.set_ylabel("cost ratio = training s / prediction s")
    ax2.set_title(f"cost ratio (bar: median; overall {median:.2g}×)")

    # 3: predicted vs real wall-clock to reach ε.
    pts = [
        (
            r["model"],
            r["optimizer"],
            float(r[f"pred_wall_s_eps={e}"]),
            float(r[f"real_wall_s_eps={e}"]),
        )
        for r in rows
        for e in eps_keys
        if r[f"real_wall_s_eps={e}"] != ""
    ]
    shown = [p for p in pts if p[2] > 0 and p[3] > 0]
    if shown:
        vals3 = [v for p in shown for v in p[2:]]
        lo3, hi3 = min(vals3) / 1.5, max(vals3) * 1.5
        diagonal(ax3, lo3, hi3)
        ax3.fill_between(
            [lo3, hi3],
            [lo3 * 0.8, hi3 * 0.8],
            [lo3 * 1.2, hi3 * 1.2],
            color="grey",
            alpha=0.15,
            lw=0,
            label="±20%",
        )
        for m in models:
            for opt, marker in MARKERS.items():
                sel = [p for p in shown if p[0] == m and p[1] == opt]
                if sel:
                    ax3.scatter(
                        [p[3] for p in sel],
                        [p[2] for p in sel],
                        color=colour[m],
                        marker=marker,
                        s=18,
                    )
        ax3.set(xscale="log", yscale="log", xlim=(lo3, hi3), ylim=(lo3, hi3))
    ax3.set_xlabel("real time to reach ε = Tε × step time (s)")
    ax3.set_ylabel("predicted = T̂ε × step time (s)")
    ax3.set_title(
        f"planning: {len(shown)} (case, ε) pairs ({len(pts) - len(shown)} with a 0 left out)"
    )
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3, which="both")
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                lo_v, hi_v = sorted(axis.get_view_interval())
                few = hi_v < 100 * lo_v  # under two decades: label 2× and 5× minor ticks too
                axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                axis.set_minor_formatter(FuncFormatter(partial(_minor_label, show=few)))
    ax1.legend(fontsize=7)
    if shown:
        ax3.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", default="results/benchmark_default.jsonl")
    ap.add_argument("--out", default="out/fig5_wallclock")
    ap.add_argument("--small", action="store_true", help="CI: use --records as it is")
    args = ap.parse_args(argv)
    check_script_paths(ap, records=[args.records], out=args.out)
    records = read_records(args.records)
    ok = _ok(records)
    eps_keys = sorted({e for r in ok for e in r.get("real", {})}, key=float)
    rows = [case_row(r, eps_keys) for r in ok]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = list(BASE) + [f"{w}_wall_s_eps={e}" for e in eps_keys for w in ("pred", "real")]
    with open(out / "fig5_wallclock.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    summary: dict[str, Any] = {
        "records": str(args.records),
        "n_cases": len(ok),
        "n_other": len(records) - len(ok),
        "cost_ratio": "timing_s.train_steps / timing_s.predict",
    }
    if ok:
        summary["overall"] = ratio_stats(ok)
        summary["by_model"] = {m: ratio_stats(g) for m, g in _by(ok, "model").items()}
        summary["by_model_optimizer"] = {
            k: ratio_stats(g) for k, g in _by(ok, "model", "optimizer").items()
        }
        summary["planning_abs_error_s"] = {
            e: float(
                np.median([abs(r[f"pred_wall_s_eps={e}"] - r[f"real_wall_s_eps={e}"]) for r in sel])
            )
            for e in eps_keys
            if (sel := [r for r in rows if r[f"real_wall_s_eps={e}"] != ""])
        }
        draw(rows, eps_keys, summary["overall"]["median"], out / "fig5_wallclock.png")
    (out / "fig5_wallclock.json").write_text(json.dumps(summary, indent=2) + "\n")
    if not ok:
        print(f"no finished case with timings in {args.records}: no figure → {out}")
        return
    o = summary["overall"]
    print(
        f"{len(ok)} cases ({summary['n_other']} other) from {args.records} → {out}\n"
        f"cost ratio (training / prediction): median {o['median']:.3g}, "
        f"q05 {o['q05']:.3g}, q95 {o['q95']:.3g}"
    )
    for k, s in summary["by_model_optimizer"].items():
        print(f"  {k}: n={s['n']} median {s['median']:.3g} [{s['min']:.3g}, {s['max']:.3g}]")
    for e, v in summary["planning_abs_error_s"].items():
        print(f"  ε={e}: median |predicted − real| wall-clock to ε = {v:.3g} s")


if __name__ == "__main__":
    main()
