"""How linear is fine-tuning? Kernel drift along real runs, and what it does to the prediction.

For each (model, image size, lr as a fraction of the linear stability limit):

1. Θ₀ at the pretrained weights (``ttjax.task_ntk``) and the limit η_max
   (``ttjax.max_stable_lr``); lr = fraction × η_max, full-batch GD.
2. ``ttjax.observe_steps`` runs the first K real steps and measures κ_k = tr Θ(w_k)/tr Θ(w₀)
   (fixed-subset Hutchinson probe) and which parameter modules drift.
3. ``ttjax.finetune`` runs the real T-step fine-tuning (the truth).
4. With ``--kernel-distance [K,…]``: ``ttjax.kernel_drift`` builds Θ(w_k) at k = 1, 3, 10 of the
   real run and reports ‖Θ_k − Θ₀‖/‖Θ₀‖, the part a scalar drift cannot follow
   ‖Θ_k/κ_k − Θ₀‖/‖Θ₀‖, and the kernel–target alignment (one more Θ per k).
5. Three predictions from the same Θ₀: the fixed kernel (the paper's linear model,
   ``DriftModel.NONE``), the drift model fed with the first ``--observe`` κ_k by the trace
   (``OBSERVED``) and along the loss gradient (``GRADIENT``), and the relative errors
   |T̂ε − Tε|/Tε and |T̂ε − Tε|/T of each.

Writes ``bench_linearity.json`` / ``.csv`` (one row per case and ε) and ``bench_linearity.png``
(κ_k against k, one line per case) under ``--out``; prints a table.

    python scripts/bench_linearity.py --rows efficientnet_lite0:64:0.3,efficientnet_lite0:32:0.3
    python scripts/bench_linearity.py --small       # tiny model on digits (CI)

Cost: one Θ, K + T real steps per row (Lite0 64 px, N = 60: ≈ 10 min on a shared 2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import ttjax
from ttjax.benchmark import write_table
from ttjax.dynamics import DriftModel, Problem

EPS = (0.01, 0.05, 0.1, 0.2, 0.4)


def parse_rows(text: str) -> list[tuple[str, int, float]]:
    """``model:size:fraction,...`` → [(model, size, fraction)]."""
    rows = []
    for item in text.split(","):
        name, size, frac = item.split(":")
        rows.append((name, int(size), float(frac)))
    return rows


def run_row(
    name: str,
    size: int,
    frac: float,
    *,
    data: str,
    weights: str | None,
    per_class: int,
    steps: int,
    k_obs: int,
    k_long: int,
    seed: int,
    ntk_config: ttjax.NtkConfig,
    kernel_steps: tuple[int, ...] = (),
) -> dict:
    """One case: Θ₀, observed κ, the real run, and both predictions."""
    key = jax.random.key(seed)
    k_model, k_ntk, k_obs_key, k_run, k_pred = jax.random.split(key, 5)
    task = ttjax.load_task(data, classes=5, per_class=per_class, image_size=size, seed=seed)
    model = ttjax.create_model(
        name, num_classes=task.num_classes, image_size=size, weights=weights, key=k_model
    )
    t0 = time.perf_counter()
    ntk = ttjax.task_ntk(model, task, config=ntk_config, key=k_ntk)
    ntk_s = time.perf_counter() - t0
    problem = Problem.from_ntk(ntk, task.labels, loss=ttjax.Loss.CE)
    limit = ttjax.max_stable_lr(problem, ttjax.Hyperparams(lr=1.0))
    hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=frac * limit, steps=steps)
    obs = ttjax.observe_steps(model, task, hp, key=k_obs_key, steps=k_long, gradient=True)
    real = ttjax.finetune(model, task, hp, key=k_run, progress=False)
    real_t = {e: int(ttjax.epsilon_training_time(np.asarray(real.loss), e)) for e in EPS}
    short = ttjax.Observation(
        loss=obs.loss[:k_obs],
        kernel_scale=obs.kernel_scale[:k_obs],
        module_scale=obs.module_scale,
        module_share=obs.module_share,
        step_time_s=obs.step_time_s,
        compile_s=obs.compile_s,
        probe_s=obs.probe_s,
        grad_sq=None if obs.grad_sq is None else obs.grad_sq[: k_obs + 1],
        loss_grad=None if obs.loss_grad is None else obs.loss_grad[: k_obs + 1],
    )
    drifts = {"fixed": DriftModel.NONE, "drift": DriftModel.OBSERVED, "grad": DriftModel.GRADIENT}
    preds = {
        label: ttjax.predict.predict(
            problem,
            hp,
            dynamics=ttjax.DynamicsConfig(drift=drift),
            key=k_pred,
            eps=EPS,
            observation=None if drift is DriftModel.NONE else short,
        )
        for label, drift in drifts.items()
    }
    drift = None
    at_k = tuple(k for k in kernel_steps if k <= steps)
    if at_k:
        drift = ttjax.kernel_drift(model, task, hp, steps=at_k, key=k_ntk, ntk_config=ntk_config)
    kappa = obs.kernel_scale
    rows = []
    for e in EPS:
        row = {"case": f"{name}:{size}:{frac}", "eps": e, "real": real_t[e]}
        for label, pred in preds.items():
            s = pred.training_time[e]
            row[label] = s.median
            row[f"{label}_rel"] = abs(s.median - real_t[e]) / max(real_t[e], 1)
            row[f"{label}_rel_T"] = abs(s.median - real_t[e]) / steps
            row[f"{label}_q05"], row[f"{label}_q95"] = s.q05, s.q95
        rows.append(row)
    at = {k: float(kappa[k - 1]) for k in (1, 3, 10) if k <= len(kappa)}
    return {
        "case": f"{name}:{size}:{frac}",
        "model": name,
        "image_size": size,
        "lr_fraction": frac,
        "lr": hp.lr,
        "max_stable_lr": limit,
        "num_examples": task.num_examples,
        "ntk_s": ntk_s,
        "kernel_scale": kappa.tolist(),
        "gradient_scale": _list(obs.gradient_scale(problem.theta)),
        "kernel_scale_at": at,
        "module_scale": obs.module_scale,
        "module_share": obs.module_share,
        "regime": preds["drift"].linearity["regime"],
        "kernel_drift": None if drift is None else drift.to_dict(),
        "real_loss": np.asarray(real.loss).tolist(),
        "rows": rows,
    }


def _list(x) -> list[float] | None:
    return None if x is None else [float(v) for v in x]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", default="efficientnet_lite0:64:0.3,efficientnet_lite0:32:0.3")
    ap.add_argument("--data", default="sample")
    ap.add_argument("--weights", default="imagenet")
    ap.add_argument("--per-class", type=int, default=12)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--observe", type=int, default=4, help="κ_k fed to the drift model")
    ap.add_argument("--observe-long", type=int, default=10, help="κ_k measured (≥ --observe)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="out/bench_linearity")
    ap.add_argument("--small", action="store_true", help="tiny model on digits (CI)")
    ap.add_argument("--ntk-method", default="auto", choices=[m.value for m in ttjax.NtkMethod])
    ap.add_argument(
        "--kernel-distance",
        nargs="?",
        const="1,3,10",
        default=None,
        metavar="K1,K2,...",
        help="also build Θ(w_k) at these real steps (default 1,3,10; on with --small)",
    )
    args = ap.parse_args(argv)
    ntk_config = ttjax.NtkConfig(method=ttjax.NtkMethod(args.ntk_method))
    if args.small:
        args.rows, args.data, args.weights = "tiny:8:0.3,tiny:8:0.6", "digits", None
        args.per_class, args.steps, args.observe_long = 6, 20, 5
        args.observe = min(args.observe, args.observe_long)
        ntk_config = ttjax.NtkConfig(method=ttjax.NtkMethod.EXACT)
        args.kernel_distance = args.kernel_distance or "1,3,10"
    weights = None if args.weights in (None, "none") else args.weights
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, size, frac in parse_rows(args.rows):
        print(f"[{len(cases) + 1}] {name} {size}px lr {frac} of the limit ...", flush=True)
        case = run_row(
            name,
            size,
            frac,
            data=args.data,
            weights=weights,
            per_class=args.per_class,
            steps=args.steps,
            k_obs=args.observe,
            k_long=max(args.observe_long, args.observe),
            seed=args.seed,
            ntk_config=ntk_config,
            kernel_steps=tuple(int(k) for k in (args.kernel_distance or "").split(",") if k),
        )
        cases.append(case)
        (out / "bench_linearity.json").write_text(json.dumps(cases, indent=1))
        _print_case(case)
    rows = [r for c in cases for r in c["rows"]]
    write_table(out, "bench_linearity", rows, cases)
    _plot(cases, out / "bench_linearity.png")
    print(f"wrote {out}/bench_linearity.{{json,csv,png}}")


def _print_case(case: dict) -> None:
    at = ", ".join(f"κ_{k}={v:.2f}" for k, v in case["kernel_scale_at"].items())
    top = sorted(
        case["module_scale"],
        key=lambda m: -case["module_share"][m] * abs(case["module_scale"][m] - 1),
    )[:3]
    mods = ", ".join(f"{m} {case['module_scale'][m]:.2f}×" for m in top)
    print(f"  {case['case']}: N={case['num_examples']} lr={case['lr']:.3g}; {at}; "
          f"regime {case['regime']}; drifting modules: {mods}")  # fmt: skip
    d = case.get("kernel_drift")
    if d:
        print("  Θ(w_k) vs Θ₀: " + "; ".join(
            f"k={k}: tr ×{t:.2f}, along g₀ ×{g:.2f}, ‖ΔΘ‖ {x:.0%}, shape {sh:.0%}, "
            f"align {d['alignment'][0]:.3f}→{a:.3f}"
            for k, t, g, x, sh, a in zip(d["steps"], d["trace_ratio"], d["gradient_ratio"],
                                         d["distance"], d["shape_distance"], d["alignment"][1:],
                                         strict=True)
        ))  # fmt: skip
    if case.get("gradient_scale"):
        print("  κ^g along the gradient: " + ", ".join(f"{v:.2f}" for v in case["gradient_scale"]))
    print("  ε      real  fixed (rel)     drift (rel)     grad (rel)")
    for r in case["rows"]:
        print(f"  {r['eps']:<5}  {r['real']:>4}  {r['fixed']:>5g} ({r['fixed_rel']:.0%})"
              f"     {r['drift']:>5g} ({r['drift_rel']:.0%})"
              f"     {r['grad']:>5g} ({r['grad_rel']:.0%})")  # fmt: skip


def _plot(cases: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for c in cases:
        k = np.arange(1, len(c["kernel_scale"]) + 1)
        ax[0].plot(k, c["kernel_scale"], marker="o", label=c["case"])
        ax[1].plot(c["real_loss"], label=c["case"])
    ax[0].axhline(1.0, color="grey", lw=0.8)
    ax[0].set(xlabel="real step k", ylabel="tr Θ(w_k) / tr Θ(w₀)", title="kernel drift")
    ax[1].set(xlabel="step", ylabel="real training loss", yscale="log", title="real runs")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
