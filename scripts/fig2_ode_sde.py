"""Figure 2 of the paper: predicted ODE (GD) vs SDE (SGD) curves, and the effective lr.

One Θ at the pretrained weights, then :func:`ttjax.simulate` in continuous time (the paper's
eq. 1) for GD and SGD at several (lr, momentum) pairs. Pairs sharing the effective learning
rate η̃ = η / (1 − m) give the same predicted curve (§3.1). Writes ``fig2_ode_sde.png`` and
``fig2_ode_sde.csv`` (one column per run: the median predicted loss at steps 0 … T).

    python scripts/fig2_ode_sde.py --out out/fig2        # efficientnet_lite0 on ImageNet weights
    python scripts/fig2_ode_sde.py --small               # tiny model, 40 digits, CI
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import jax
import numpy as np

import ttjax
from ttjax.dynamics import Problem


def setup(small: bool, seed: int) -> tuple[ttjax.Model, ttjax.Task, ttjax.NtkResult]:
    """The model, the task and its Θ (exact for ``small``, the default sketch otherwise)."""
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
    return model, task, ntk


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="out/fig2_ode_sde")
    ap.add_argument("--small", action="store_true", help="tiny model and task (CI)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    steps, paths = (20, 8) if args.small else (150, 64)
    _, task, ntk = setup(args.small, args.seed)
    problem = Problem.from_ntk(ntk, task.labels, loss=ttjax.Loss.CE)
    n = len(task.labels)
    dyn = ttjax.DynamicsConfig(time=ttjax.TimeMode.CONTINUOUS)
    base_lr = 0.5 * problem_max_lr(problem, steps)
    runs: dict[str, np.ndarray] = {}
    for opt in (ttjax.Optimizer.GD, ttjax.Optimizer.SGD):
        for m in (0.0, 0.5):
            hp = ttjax.Hyperparams(
                optimizer=opt,
                lr=base_lr * (1 - m),
                momentum=m,
                steps=steps,
                batch_size=None if opt is ttjax.Optimizer.GD else n // 4,
            )
            traj = ttjax.simulate(
                problem, hp, config=dyn, paths=paths, key=jax.random.key(args.seed + 2)
            )
            label = f"{'ODE' if opt is ttjax.Optimizer.GD else 'SDE'} lr={hp.lr:.3g} m={m:g}"
            runs[label] = np.median(traj.loss, axis=0)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fig2_ode_sde.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", *runs])
        for t in range(steps + 1):
            w.writerow([t, *(float(c[t]) for c in runs.values())])

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for label, c in runs.items():
        ax.plot(np.arange(c.size), c, ls="-" if "m=0 " in label + " " else "--", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("predicted training loss (median)")
    ax.set_title(f"ODE vs SDE, effective lr η̃ = {base_lr:.3g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(out / "fig2_ode_sde.png", dpi=110)
    print(f"{len(runs)} curves → {out}")


def problem_max_lr(problem: Problem, steps: int) -> float:
    """The linear model's largest stable lr (read from a 1-step GD simulation)."""
    hp = ttjax.Hyperparams(lr=1e-6, steps=1)
    dyn = ttjax.DynamicsConfig(check_stability=False)
    return float(ttjax.simulate(problem, hp, config=dyn).max_stable_lr)


if __name__ == "__main__":
    main()
