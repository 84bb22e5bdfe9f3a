"""Figures 7/11 of the paper: predict fine-tuning on N samples from Θ on a subset of N0 < N.

For each pair N0 → N (MSE loss, full-batch GD) it compares four loss curves and their Tε:

* ``extrapolated``: Θ0 on the N0 subset → power laws for λ_k and p_k
  (:func:`ttjax.extrapolate.subset_to_full` then ``.extrapolate``, supplementary §D) → the
  eigenbasis GD curve (:func:`ttjax.extrapolate.mse_loss_curve`); needs only f0 on the N samples
  (one forward pass);
* ``real``: real fine-tuning on the N samples (:func:`ttjax.finetune`);
* ``full``: the same eigenbasis curve from the full Θ on N (reference: what linearisation alone
  gets, so ``extrapolated`` − ``full`` is the extrapolation error, ``full`` − ``real`` the
  linearisation error); skipped when N > ``--full-max``;
* ``subset``: the N0 curve read as if it were the N curve (no extrapolation; a baseline).

Tasks are nested: the largest N is one seeded draw (:func:`ttjax.benchmark.build_task`), each
smaller size is a seeded uniform draw (:func:`ttjax.sample_task`, the same per-class sampler)
of ``N/C`` images per class *from the next larger task*, so every N0 set is a subset of its N set.
The learning rate is ``--lr-frac`` × the GD stability limit ``2 N0 / λ_max(Θ0)`` of the subset
(what a user knows before training), unless ``--lr`` is given.

Writes ``fig7_extrapolation.png`` (loss curves; eigenvalues λ_k/N vs k with the power-law fit),
``fig7_extrapolation.csv`` (one row per pair and ε) and ``fig7_extrapolation.json`` (everything).

    python scripts/fig7_extrapolation.py --out out/fig7                     # 100 → 1000
    python scripts/fig7_extrapolation.py --pairs 100:1000,1000:4000 --out out/fig7
    python scripts/fig7_extrapolation.py --small                            # tiny, CI
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

import ttjax
from ttjax.benchmark import PAPER_EPS, SMALL_CNN_FMNIST, TaskSpec, build_model, build_task
from ttjax.extrapolate import (
    ExtrapolatedSpectrum,
    ExtrapolationConfig,
    Spectrum,
    SubsetToFull,
    spectrum_from_ntk,
    subset_to_full,
)

CURVES = ("real", "extrapolated", "extrap_paper", "full", "subset")
RELERR = ("relerr_extrap_vs_real", "relerr_full_vs_real", "relerr_extrap_vs_full")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setting:
    """Model, data and run lengths of the figure (``--small``: a tiny CI variant)."""

    model: str
    weights: str | None
    data: str
    class_subset: tuple[int, ...] | None
    classes: int
    image_size: int
    pairs: tuple[tuple[int, int], ...]
    steps: int
    k0: int


DEFAULT = Setting(
    model="small_cnn",
    weights=SMALL_CNN_FMNIST,
    data="fashion_mnist",
    class_subset=(5, 6, 7, 8, 9),
    classes=5,
    image_size=28,
    pairs=((100, 1000),),
    steps=60,
    k0=100,
)
SMALL = Setting(
    model="tiny",
    weights=None,
    data="sample",
    class_subset=None,
    classes=5,
    image_size=8,
    pairs=((20, 60),),
    steps=10,
    k0=10,
)


def nested_tasks(setting: Setting, sizes: list[int], seed: int) -> dict[int, ttjax.Task]:
    """One task per size, each smaller one a seeded per-class subset of the next larger one."""
    c = setting.classes
    for n in sizes:
        if n % c:
            raise ttjax.ConfigError(f"N={n} is not a multiple of the {c} classes.")
    order = sorted(set(sizes), reverse=True)
    spec = TaskSpec(
        model=setting.model,
        weights=setting.weights,
        data=setting.data,
        class_subset=setting.class_subset,
        classes=c,
        per_class=order[0] // c,
        image_size=setting.image_size,
        seed=seed,
    )
    tasks = {order[0]: build_task(spec)}
    for i, n in enumerate(order[1:], start=1):
        big = tasks[order[i - 1]]
        tasks[n] = ttjax.sample_task(
            big.images,
            big.labels,
            classes=c,
            per_class=n // c,
            image_size=setting.image_size,
            seed=seed + i,
            source=f"{big.source} subset",
        )
    return tasks


def training_times(curve: np.ndarray | None, eps: tuple[float, ...]) -> dict[float, int | None]:
    """Tε of a loss curve for each ε (None where the curve is missing)."""
    if curve is None:
        return {e: None for e in eps}
    return {e: int(ttjax.epsilon_training_time(curve, e)) for e in eps}


def rel_err(pred: int | None, ref: int | None) -> float | None:
    """(pred − ref) / ref, None when undefined."""
    if pred is None or ref is None or ref == 0:
        return None
    return (pred - ref) / ref


def alpha_sweep(
    pair: SubsetToFull,
    cfg: ExtrapolationConfig,
    keep: int,
    hp: ttjax.Hyperparams,
    eps: tuple[float, ...],
) -> dict[str, Any]:
    """Tε of the extrapolated curve for α ∈ {0, 0.1, 0.15, 0.2, fitted} (sensitivity)."""
    out: dict[str, Any] = {}
    for alpha in (0.0, 0.1, 0.15, 0.2, None):
        ex = pair.extrapolate(dataclasses.replace(cfg, alpha=alpha, keep_head=keep))
        tt = training_times(pair.loss_curve(ex.spectrum, hp), eps)
        out["fitted" if alpha is None else str(alpha)] = {
            "alpha": ex.alpha,
            "training_time": {str(e): tt[e] for e in eps},
        }
    return out


def run_pair(
    model: ttjax.Model,
    tasks: dict[int, ttjax.Task],
    ntks: dict[int, ttjax.NtkResult],
    n0: int,
    n: int,
    *,
    args: argparse.Namespace,
    setting: Setting,
    key: jax.Array,
) -> dict[str, Any]:
    """All curves, spectra and Tε of one pair N0 → N."""
    timing: dict[str, float] = {}
    sub_task, task = tasks[n0], tasks[n]
    t0 = time.perf_counter()
    pair = subset_to_full(model, ntks[n0], sub_task, task, chunk=512)  # the forward pass on N
    sub = pair.subset_spectrum
    limit = pair.subset_stable_lr
    lr = args.lr if args.lr is not None else args.lr_frac * limit
    hp = ttjax.Hyperparams(
        optimizer=ttjax.Optimizer.GD, lr=lr, steps=setting.steps, loss=ttjax.Loss.MSE
    )
    residual = pair.residual_norm_sq
    cfg = ExtrapolationConfig(k0=setting.k0, alpha=args.alpha)
    fit_lo = max(1, round(cfg.fit_range[0] * n0 * setting.classes))
    keep = fit_lo - 1 if args.keep_head is None else args.keep_head
    ex: ExtrapolatedSpectrum = pair.extrapolate(dataclasses.replace(cfg, keep_head=keep))
    paper = pair.extrapolate(dataclasses.replace(cfg, keep_head=0))
    curves: dict[str, np.ndarray | None] = {
        "extrapolated": pair.loss_curve(ex.spectrum, hp),
        "subset": pair.loss_curve(sub, hp),
    }
    try:  # the paper's variant: the power law for every k, including the top ones
        curves["extrap_paper"] = pair.loss_curve(paper.spectrum, hp)
    except ttjax.StabilityError as err:
        curves["extrap_paper"] = None
        print(f"  extrap_paper (keep_head=0): {err}")
    timing["extrapolate"] = time.perf_counter() - t0

    full: Spectrum | None = None
    if n in ntks:
        th = ntks[n]
        full = spectrum_from_ntk(np.asarray(th.theta), np.asarray(th.f0), task.labels)
        curves["full"] = pair.loss_curve(full, hp)
    else:
        curves["full"] = None

    t0 = time.perf_counter()
    real = ttjax.finetune(model, task, hp, key=key, progress=False)
    timing["finetune_wall"] = time.perf_counter() - t0
    curves["real"] = np.asarray(real.loss, np.float64)

    eps = tuple(args.eps)
    tt = {name: training_times(curves[name], eps) for name in CURVES}
    print(f"N0={n0} → N={n}: lr={lr:.4g} (limit on Θ0 {limit:.4g}), T={hp.steps}")
    print(f"  {'eps':>5} " + " ".join(f"{c:>12}" for c in CURVES))
    for e in eps:
        print(f"  {e:>5} " + " ".join(f"{tt[c][e]!s:>12}" for c in CURVES))
    return {
        "n0": n0,
        "n": n,
        "hparams": hp.to_dict(),
        "lr_limit_theta0": limit,
        "lr_limit_full": None if full is None else 2.0 * n / float(full.eigenvalues[0]),
        "residual_norm_sq": residual,
        "extrapolation": {**ex.to_dict(), "keep_head": keep},
        "extrap_paper_lambda1_over_n": float(paper.spectrum.eigenvalues[0] / n),
        "curves": {k: None if v is None else [float(x) for x in v] for k, v in curves.items()},
        "training_time": {k: {str(e): v[e] for e in eps} for k, v in tt.items()},
        "eigenvalues_over_n": {
            "subset": [float(x) for x in sub.eigenvalues / n0],
            "extrapolated": [float(x) for x in ex.spectrum.eigenvalues / n],
            "full": None if full is None else [float(x) for x in full.eigenvalues / n],
        },
        "projections_over_n": {
            "subset": [float(x) for x in sub.projections / n0],
            "extrapolated": [float(x) for x in ex.spectrum.projections / n],
            "full": None if full is None else [float(x) for x in full.projections / n],
        },
        "alpha_sweep": alpha_sweep(pair, cfg, keep, hp, eps),
        "fit_range_k": [fit_lo, round(cfg.fit_range[1] * n0 * setting.classes)],
        "real_step_time_s": real.step_time_s,
        "real_train_time_s": real.train_time_s,
        "timing_s": timing,
    }


def write_outputs(out: Path, meta: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """CSV (pair × ε), JSON (everything) and the two-panel PNG."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fig7_extrapolation.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["n0", "n", "eps", *(f"T_{c}" for c in CURVES), *RELERR])
        for r in results:
            for e, _ in r["training_time"]["real"].items():
                t = {c: r["training_time"][c][e] for c in CURVES}
                errs = (
                    rel_err(t["extrapolated"], t["real"]),
                    rel_err(t["full"], t["real"]),
                    rel_err(t["extrapolated"], t["full"]),
                )
                w.writerow(
                    [r["n0"], r["n"], e]
                    + ["" if t[c] is None else t[c] for c in CURVES]
                    + ["" if x is None else f"{x:.4f}" for x in errs]
                )
    doc = {"settings": meta, "pairs": results}
    (out / "fig7_extrapolation.json").write_text(json.dumps(doc, indent=1, allow_nan=False))

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.3), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_eig = fig.subplots(1, 2)
    colors = {name: f"C{j}" for j, name in enumerate(CURVES)}
    dashes = ("-", "--", ":", "-.")
    for i, r in enumerate(results):
        color = f"C{i}"
        for name in CURVES:
            c = r["curves"][name]
            if c is not None:
                label = f"{name} ({r['n0']}→{r['n']})"
                ls = dashes[i % len(dashes)]
                ax_loss.plot(c, linestyle=ls, color=colors[name], label=label, lw=1.6)
        ev = r["eigenvalues_over_n"]
        k0 = np.arange(1, len(ev["subset"]) + 1)
        ax_eig.loglog(
            k0, ev["subset"], "o", ms=2.5, color=color, alpha=0.6, label=f"Θ0, N0={r['n0']}"
        )
        if ev["full"] is not None:
            kf = np.arange(1, len(ev["full"]) + 1)
            ax_eig.loglog(kf, ev["full"], "-", color=color, lw=1, label=f"Θ, N={r['n']}")
        kx = np.arange(1, len(ev["extrapolated"]) + 1)
        ax_eig.loglog(kx, ev["extrapolated"], "--", color=color, lw=1, label="extrapolated λ̂/N")
        lo, hi = r["fit_range_k"]
        ex = r["extrapolation"]
        kk = np.arange(lo, hi + 1)
        ax_eig.loglog(kk, ex["c"] * kk ** (-ex["s"]), "k-", lw=1.2, zorder=5, label="fit c·k^(−s)")
    ax_loss.set_xlabel("GD step")
    ax_loss.set_ylabel("training loss (MSE)")
    ax_loss.set_yscale("log")
    ax_loss.set_title(f"{meta['model']} on {meta['data']}: loss on N")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=7)
    ax_eig.set_xlabel("k")
    ax_eig.set_ylabel("λ_k / N")
    ax_eig.set_ylim(bottom=0.5 * min(min(r["eigenvalues_over_n"]["extrapolated"]) for r in results))
    ax_eig.set_title("eigenvalues of Θ and the power-law fit on Θ0")
    ax_eig.grid(alpha=0.3, which="both")
    ax_eig.legend(fontsize=7)
    fig.savefig(out / "fig7_extrapolation.png", dpi=110)


def parse_pairs(text: str) -> tuple[tuple[int, int], ...]:
    """``"100:1000,1000:4000"`` → ((100, 1000), (1000, 4000))."""
    pairs = []
    for item in text.split(","):
        a, b = item.split(":")
        pairs.append((int(a), int(b)))
    return tuple(pairs)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="out/fig7_extrapolation")
    ap.add_argument("--small", action="store_true", help="tiny model and task (CI)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pairs", type=parse_pairs, default=None, help="N0:N,... (default 100:1000)")
    ap.add_argument("--steps", type=int, default=None, help="T (default 60; --small 10)")
    ap.add_argument("--lr", type=float, default=None, help="fixed lr (default: --lr-frac)")
    ap.add_argument("--lr-frac", type=float, default=0.5, help="lr / (2 N0 / λ_max(Θ0))")
    ap.add_argument("--alpha", type=float, default=0.15, help="slope correction α")
    ap.add_argument(
        "--keep-head",
        type=int,
        default=None,
        help="top eigenvalues of Θ0 kept as they are (default: those left out of the fit)",
    )
    ap.add_argument(
        "--ntk-method",
        type=ttjax.NtkMethod,
        default=ttjax.NtkMethod.EXACT,
        choices=list(ttjax.NtkMethod),
        metavar="{exact,kronecker,...}",
        help="how Θ0 and the full Θ are built (default exact)",
    )
    ap.add_argument("--full-max", type=int, default=1000, help="largest N with a full Θ")
    ap.add_argument("--eps", type=float, nargs="+", default=list(PAPER_EPS))
    ap.add_argument(
        "--replot",
        type=Path,
        default=None,
        metavar="JSON",
        help="redraw PNG/CSV into --out from a previous run's fig7_extrapolation.json",
    )
    args = ap.parse_args(argv)
    if args.replot is not None:
        doc = json.loads(args.replot.read_text())
        write_outputs(Path(args.out), doc["settings"], doc["pairs"])
        return
    setting = SMALL if args.small else DEFAULT
    setting = dataclasses.replace(
        setting,
        pairs=args.pairs or setting.pairs,
        steps=args.steps or setting.steps,
    )
    start = time.perf_counter()
    key = jax.random.key(args.seed)
    k_head, k_ntk, k_train = jax.random.split(key, 3)
    sizes = sorted({n for pair in setting.pairs for n in pair})
    tasks = nested_tasks(setting, sizes, args.seed)
    spec = TaskSpec(
        model=setting.model,
        weights=setting.weights,
        data=setting.data,
        classes=setting.classes,
        image_size=setting.image_size,
    )
    model = build_model(spec, key=k_head)

    ntks: dict[int, ttjax.NtkResult] = {}
    ntk_time: dict[str, float] = {}
    need = {n0 for n0, _ in setting.pairs} | {n for _, n in setting.pairs if n <= args.full_max}
    for n in sorted(need):
        t0 = time.perf_counter()
        ntks[n] = ttjax.task_ntk(
            model,
            tasks[n],
            config=ttjax.NtkConfig(method=args.ntk_method),
            key=jax.random.fold_in(k_ntk, n),
        )
        ntk_time[str(n)] = time.perf_counter() - t0
        print(f"Θ on N={n} ({args.ntk_method.value}): {ntk_time[str(n)]:.1f} s")

    results = [
        run_pair(
            model,
            tasks,
            ntks,
            n0,
            n,
            args=args,
            setting=setting,
            key=jax.random.fold_in(k_train, n),
        )
        for n0, n in setting.pairs
    ]
    meta = {
        **{k: v for k, v in dataclasses.asdict(setting).items() if k != "pairs"},
        "pairs": [list(p) for p in setting.pairs],
        "seed": args.seed,
        "lr_frac": args.lr_frac,
        "lr": args.lr,
        "alpha": args.alpha,
        "keep_head": args.keep_head,
        "ntk_method": args.ntk_method.value,
        "full_max": args.full_max,
        "eps": list(args.eps),
        "ntk_time_s": ntk_time,
        "total_wall_s": time.perf_counter() - start,
        "device": str(jax.devices()[0]),
    }
    write_outputs(Path(args.out), meta, results)
    print(f"{len(results)} pair(s) → {args.out} ({meta['total_wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
