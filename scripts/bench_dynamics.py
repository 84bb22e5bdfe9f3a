"""Benchmark of the function-space dynamics (prints tables; re-run on a quiet machine).

Part 1 (``--part solve``): SDE solve time, M = 256 paths, N·C = 3750, T = 150, on a
synthetic Θ of that size (Θ = Φ Φᵀ ⊗ I_5 plus a dense part), for the ``lax.scan``
Euler–Maruyama/discrete map (each noise model) and diffrax's Euler on an SDE with the
same drift and diffusion; against the time to build Θ with the NTK engine
(EfficientNet-Lite0, N = 750, ``--ntk-image-size``).

Part 2 (``--part real``): predicted vs real Tε on two offline tasks (``sample`` and
``digits``), GD and SGD, two learning rates (fractions of the linear model's stability
limit, as effective lr), two batch sizes, momentum 0 and 0.9, ε ∈ {0.01, 0.1, 0.4};
every dynamics variant (discrete/continuous, effective-lr/exact momentum, noise models)
is predicted from the same Θ. Plots of predicted vs real curves go to ``--out``.

    python scripts/bench_dynamics.py --part solve
    python scripts/bench_dynamics.py --part real --model efficientnet_lite0 --image-size 32 \\
        --per-class 30 --steps 100
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.table import Table

from ttjax import Hyperparams, Loss, Optimizer
from ttjax.dynamics import (
    DynamicsConfig,
    MomentumMode,
    NoiseModel,
    Problem,
    TimeMode,
    simulate,
)
from ttjax.training_time import epsilon_training_time

console = Console(width=170)
EPS = (0.01, 0.1, 0.4)


def _timed(fn, repeats: int = 1) -> tuple[float, float]:
    """(first call incl. compile, best of ``repeats`` warm calls) in seconds."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        warm.append(time.perf_counter() - t0)
    return first, min(warm)


def _diffrax_em(problem: Problem, lr: float, bsz: int, steps: int, paths: int, key):
    """The same discrete-noise SDE with diffrax (Euler + UnsafeBrownianPath), for timing."""
    import diffrax

    from ttjax import losses

    n, c = problem.n, problem.c
    a = problem.noise_factor
    sigma = float(np.sqrt((n - bsz) / ((n - 1) * bsz)))
    labels, theta = problem.labels, problem.theta

    @jax.jit
    def solve(key):
        def one(k):
            def drift(t, y, args):
                g = losses.loss_gradient(y.reshape(n, c), labels, loss=Loss.CE).reshape(-1)
                return -lr * (theta @ g)

            def diffusion(t, y, args):
                return -lr * sigma * a

            bm = diffrax.UnsafeBrownianPath(shape=(a.shape[1],), key=k)
            terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
            sol = diffrax.diffeqsolve(
                terms, diffrax.Euler(), 0.0, float(steps), 1.0, problem.f0.reshape(-1),
                saveat=diffrax.SaveAt(ts=jnp.arange(steps + 1.0)),
                max_steps=steps + 1,
                adjoint=diffrax.ForwardMode(),
            )  # fmt: skip
            ys = sol.ys
            assert ys is not None
            lab = jnp.broadcast_to(labels, (steps + 1, n))
            return losses.mean_loss(ys.reshape(steps + 1, n, c), lab, loss=Loss.CE)

        return jax.vmap(one)(jax.random.split(key, paths))

    return lambda: solve(key)


def part_solve(args) -> None:
    n, c, paths, steps = 750, 5, args.paths, 150
    k1, k2 = jax.random.split(jax.random.key(0))
    phi = jax.random.normal(k1, (n, 256)) / 16.0
    theta = jnp.kron(phi @ phi.T, jnp.eye(c)) * 50.0
    f0 = 0.1 * jax.random.normal(k2, (n, c))
    problem = Problem(theta, f0, jnp.arange(n) % c, loss=Loss.CE, features=phi * np.sqrt(50.0))
    t0 = time.perf_counter()
    lr = 0.5 * problem.curvature.curvature**-1 * 2.0
    jax.block_until_ready(problem.noise_factor)
    prep = time.perf_counter() - t0
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=float(lr), batch_size=64, steps=steps)
    table = Table(title=f"SDE solve, M={paths}, N·C={n * c}, T={steps} (CPU shared: noisy)")
    for col in ("variant", "first call (s, incl. compile)", "warm (s)"):
        table.add_column(col, justify="right")
    table.add_row("precompute (curvature + noise factor)", f"{prep:.2f}", "—")
    variants = [
        ("scan discrete, diagonal", DynamicsConfig()),
        ("scan discrete, function_space", DynamicsConfig(noise_model=NoiseModel.FUNCTION_SPACE)),
        ("scan discrete, minibatch", DynamicsConfig(noise_model=NoiseModel.MINIBATCH)),
        (
            "scan EM continuous ×2, diagonal",
            DynamicsConfig(time=TimeMode.CONTINUOUS, sde_substeps=2),
        ),
    ]
    variants = [v for i, v in enumerate(variants) if i in args.variants]
    results = {}
    for name, cfg in variants:
        first, warm = _timed(lambda cfg=cfg: simulate(problem, hp, config=cfg, paths=paths,
                                                      key=jax.random.key(1)).loss)  # fmt: skip
        results[name] = warm
        table.add_row(name, f"{first:.2f}", f"{warm:.2f}")
        console.print(f"  {name}: first {first:.2f} s, warm {warm:.2f} s")
    if not args.skip_diffrax:
        first, warm = _timed(
            _diffrax_em(problem, float(lr), 64, steps, paths, jax.random.key(2)), 1
        )
        table.add_row("diffrax Euler (UnsafeBrownianPath), diagonal", f"{first:.2f}", f"{warm:.2f}")
    console.print(table)
    if args.ntk_image_size > 0:
        from ttjax.data import load_task
        from ttjax.models import create_model
        from ttjax.ntk import NtkConfig, compute_ntk

        task = load_task("sample", classes=5, per_class=150, image_size=args.ntk_image_size, seed=0)
        model = create_model("efficientnet_lite0", num_classes=5, image_size=args.ntk_image_size,
                             weights="imagenet", key=jax.random.key(0))  # fmt: skip
        x = model.preprocess(task.images)
        t0 = time.perf_counter()
        res = compute_ntk(
            model.apply_fn, model.params, x, config=NtkConfig(), key=jax.random.key(0)
        )
        build = time.perf_counter() - t0
        solve = min(results.values())
        console.print(
            f"Θ build (EfficientNet-Lite0, N=750, {args.ntk_image_size}², {res.method.value}): "
            f"{build:.1f} s; SDE solve (warm) {solve:.1f} s = {solve / build:.2f} × Θ build "
            f"(target < 0.25)"
        )


def _cases(args):
    for opt in (Optimizer.GD, Optimizer.SGD):
        for frac in args.lr_fracs:
            for m in (0.0, 0.9):
                for b in args.batch_sizes if opt is Optimizer.SGD else (None,):
                    yield opt, frac, m, b


def part_real(args) -> None:
    from ttjax.data import load_task
    from ttjax.models import create_model
    from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk
    from ttjax.plotting import plot_curves
    from ttjax.train import finetune

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    variants = {
        "disc": DynamicsConfig(),
        "cont": DynamicsConfig(time=TimeMode.CONTINUOUS, sde_substeps=2),
        "exactm": DynamicsConfig(momentum=MomentumMode.EXACT),
        "fspace": DynamicsConfig(noise_model=NoiseModel.FUNCTION_SPACE),
        "minib": DynamicsConfig(noise_model=NoiseModel.MINIBATCH),
    }
    rows = []
    for data in args.tasks:
        task = load_task(data, classes=args.classes, per_class=args.per_class,
                         image_size=args.image_size, seed=0)  # fmt: skip
        model = create_model(args.model, num_classes=args.classes, image_size=args.image_size,
                             weights=args.weights, key=jax.random.key(0))  # fmt: skip
        t0 = time.perf_counter()
        ntk = compute_ntk(model.apply_fn, model.params, model.preprocess(task.images),
                          config=NtkConfig(method=NtkMethod(args.ntk_method)),
                          key=jax.random.key(1))  # fmt: skip
        ntk_s = time.perf_counter() - t0
        problem = Problem.from_ntk(ntk, task.labels, loss=Loss.CE)
        limit = float(problem.curvature.curvature) ** -1 * 2.0
        console.print(f"[bold]{data}[/]: N={len(task.labels)}, Θ {ntk_s:.1f} s, "
                      f"largest stable effective lr {limit:.4g}")  # fmt: skip
        for opt, frac, m, b in _cases(args):
            hp = Hyperparams(optimizer=opt, lr=frac * limit * (1 - m), momentum=m,
                             batch_size=b, steps=args.steps)  # fmt: skip
            real = finetune(model, task, hp, key=jax.random.key(2), progress=False)
            preds = {}
            for name, cfg in variants.items():
                if opt is Optimizer.GD and name in ("fspace", "minib"):
                    continue
                preds[name] = simulate(problem, hp, config=cfg, paths=args.paths,
                                       key=jax.random.key(3)).loss  # fmt: skip
            tag = f"{data}_{opt.value}_f{frac:g}_m{m:g}_b{b}"
            med = np.median(preds["disc"], axis=0)
            plot_curves(out / f"{tag}.png", curves={"loss": med},
                        bands={"loss": tuple(np.quantile(preds["disc"], [0.05, 0.95], axis=0))},
                        reference={"loss": real.loss}, title=tag)  # fmt: skip
            for e in EPS:
                t_real = int(epsilon_training_time(real.loss, e))
                row = {"task": data, "opt": opt.value, "lr_frac": frac, "lr": hp.lr, "m": m,
                       "B": b, "eps": e, "real": t_real}  # fmt: skip
                for name, curves in preds.items():
                    t_hat = float(np.median(epsilon_training_time(curves, e)))
                    row[name] = t_hat
                    row[f"{name}_err"] = abs(t_hat - t_real) / max(t_real, 1)
                rows.append(row)
            console.print(f"  {tag}: real T = {[r['real'] for r in rows[-3:]]}, "
                          f"pred (disc) = {[r['disc'] for r in rows[-3:]]}")  # fmt: skip
    (out / "rows.json").write_text(json.dumps(rows, indent=1))
    table = Table(title="|T̂ε − Tε| / Tε (median over paths for SGD)")
    names = list(variants)
    for col in ("task", "opt", "lr/limit", "m", "B", "ε", "real", *names):
        table.add_column(col, justify="right")
    for r in rows:
        cells = [r["task"], r["opt"], f"{r['lr_frac']:g}", f"{r['m']:g}", str(r["B"]),
                 f"{r['eps']:g}", str(r["real"])]  # fmt: skip
        cells += [f"{r[n]:g} ({r[n + '_err']:.0%})" if n in r else "—" for n in names]
        table.add_row(*cells)
    console.print(table)
    summary = Table(title="share of cases within the paper's bar (GD 13%, SGD 20%)")
    for col in ("variant", "GD", "SGD", "GD mean err", "SGD mean err"):
        summary.add_column(col, justify="right")
    for n in names:
        cells = [n]
        errs = {}
        for opt, bar in (("gd", 0.13), ("sgd", 0.20)):
            e = np.array([r[n + "_err"] for r in rows if r["opt"] == opt and n in r])
            errs[opt] = e
            cells.append(f"{np.mean(e <= bar):.0%} of {e.size}" if e.size else "—")
        cells += [f"{np.mean(errs[o]):.1%}" if errs[o].size else "—" for o in ("gd", "sgd")]
        summary.add_row(*cells)
    console.print(summary)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--part", choices=["solve", "real", "all"], default="all")
    p.add_argument("--paths", type=int, default=256)
    p.add_argument("--skip-diffrax", action="store_true")
    p.add_argument("--variants", type=int, nargs="+", default=[0, 1, 2, 3],
                   help="solve variants to time: 0 diagonal, 1 function_space, 2 minibatch, "
                   "3 continuous EM ×2")  # fmt: skip
    p.add_argument("--ntk-image-size", type=int, default=64, help="0: skip the Θ build timing")
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--weights", default="imagenet")
    p.add_argument("--ntk-method", default="kronecker")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--per-class", type=int, default=30)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--tasks", nargs="+", default=["sample", "digits"])
    p.add_argument("--lr-fracs", type=float, nargs="+", default=[0.25, 0.75])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    p.add_argument("--out", default="out/bench_dynamics")
    args = p.parse_args()
    if args.part in ("solve", "all"):
        part_solve(args)
    if args.part in ("real", "all"):
        part_real(args)


if __name__ == "__main__":
    main()
