"""Figure 8 of the paper: which SGD noise model predicts the loss curve.

One Θ, one SGD setting, three noise models of :class:`ttjax.NoiseModel`: ``CONSTANT`` (Σ₀
frozen at t = 0), ``DIAGONAL`` (the paper's: Σ₀ rescaled by ‖∇_f L(f_t)‖ / ‖∇_f L(f₀)‖) and
``MINIBATCH`` (the linear model's real mini-batch SGD, the reference), plus the noiseless GD
curve. Writes ``fig8_noise.png`` and ``fig8_noise.csv`` (median and 5/95% loss per step).

    python scripts/fig8_noise.py --out out/fig8     # efficientnet_lite0 on ImageNet weights
    python scripts/fig8_noise.py --small            # tiny model, 40 digits, CI
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import jax
import numpy as np

import ttjax
from ttjax.dynamics import Problem

MODELS = (ttjax.NoiseModel.CONSTANT, ttjax.NoiseModel.DIAGONAL, ttjax.NoiseModel.MINIBATCH)


def setup(small: bool, seed: int) -> tuple[ttjax.Task, ttjax.NtkResult]:
    """The task and its Θ (exact on a tiny model for ``small``, else the default sketch)."""
    if small:
        task = ttjax.load_task("digits", classes=4, per_class=10, image_size=8, seed=seed)
        model = ttjax.create_model(
            "tiny", num_classes=4, image_size=8, weights=None, key=jax.random.key(seed)
        )
        cfg = ttjax.NtkConfig(method=ttjax.NtkMethod.EXACT)
    else:
        task = ttjax.load_task("sample", classes=5, per_class=20, image_size=224, seed=seed)
        model = ttjax.create_model(
            "efficientnet_lite0",
            num_classes=5,
            image_size=224,
            weights="imagenet",
            key=jax.random.key(seed),
        )
        cfg = ttjax.NtkConfig()
    ntk = ttjax.task_ntk(model, task, config=cfg, key=jax.random.key(seed + 1))
    return task, ntk


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="out/fig8_noise")
    ap.add_argument("--small", action="store_true", help="tiny model and task (CI)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    steps, paths = (20, 16) if args.small else (150, 128)
    task, ntk = setup(args.small, args.seed)
    problem = Problem.from_ntk(ntk, task.labels, loss=ttjax.Loss.CE)
    n = len(task.labels)
    gd = ttjax.Hyperparams(lr=1e-6, steps=1)
    lr = 0.5 * float(
        ttjax.simulate(
            problem, gd, config=ttjax.DynamicsConfig(check_stability=False)
        ).max_stable_lr
    )
    key = jax.random.key(args.seed + 2)
    runs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    hp = ttjax.Hyperparams(
        optimizer=ttjax.Optimizer.SGD, lr=lr, batch_size=max(2, n // 8), steps=steps
    )
    for noise in MODELS:
        traj = ttjax.simulate(
            problem, hp, config=ttjax.DynamicsConfig(noise_model=noise), paths=paths, key=key
        )
        q = np.quantile(traj.loss, (0.5, 0.05, 0.95), axis=0)
        runs[noise.value] = (q[0], q[1], q[2])
    gd_curve = ttjax.simulate(problem, ttjax.Hyperparams(lr=lr, steps=steps)).loss[0]
    runs["gd (no noise)"] = (gd_curve, gd_curve, gd_curve)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fig8_noise.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step"] + [f"{k} {s}" for k in runs for s in ("median", "q05", "q95")])
        for t in range(steps + 1):
            w.writerow([t] + [float(c[t]) for curves in runs.values() for c in curves])

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for label, (med, lo, hi) in runs.items():
        steps_axis = np.arange(med.size)
        (line,) = ax.plot(steps_axis, med, label=label)
        ax.fill_between(steps_axis, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xlabel("step")
    ax.set_ylabel("predicted training loss")
    ax.set_title(f"SGD noise models (lr={lr:.3g}, |B|={hp.batch_size}, N={n})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(out / "fig8_noise.png", dpi=110)
    print(f"{len(runs)} curves → {out}")


if __name__ == "__main__":
    main()
