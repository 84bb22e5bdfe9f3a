"""Tε from Θ on a subset N0 (``ntk_subset=``) vs from the full Θ, on CE and MSE (issue 11).

For each loss: the full Θ on N is built once; ``predict_training_time`` runs with ``ntk=`` (the
full Θ) and with ``ntk_subset=N0`` for each N0 (its own Θ0 on a stratified subset, extrapolated
to N, the library route); full-batch GD at ``--lr-frac`` × the largest stable lr of the full Θ.
``--real`` also fine-tunes for real. Prints a table and writes ``ntk_subset.json``.

    python scripts/bench_ntk_subset.py                        # small_cnn (random init), N=250
    python scripts/bench_ntk_subset.py --per-class 150 --real
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

import ttjax


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="small_cnn")
    ap.add_argument("--weights", default=None, help="default: random init (none offline)")
    ap.add_argument("--data", default="sample")
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--per-class", type=int, default=50)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr-frac", type=float, default=0.5)
    ap.add_argument("--fractions", default="5,10", help="N0 = N / each")
    ap.add_argument("--eps", default="0.01,0.1,0.4")
    ap.add_argument("--real", action="store_true", help="also fine-tune for real")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/ntk_subset")
    args = ap.parse_args(argv)
    eps = tuple(float(e) for e in args.eps.split(","))
    key = jax.random.key(args.seed)
    k_model, k_ntk, k_pred = jax.random.split(key, 3)
    task = ttjax.load_task(args.data, classes=args.classes, per_class=args.per_class,
                           image_size=args.image_size, seed=args.seed)  # fmt: skip
    model = ttjax.create_model(args.model, num_classes=args.classes, image_size=args.image_size,
                               weights=args.weights, key=k_model)  # fmt: skip
    n = task.num_examples
    t0 = time.perf_counter()
    full = ttjax.task_ntk(model, task, key=k_ntk)
    full_s = time.perf_counter() - t0
    print(f"full Θ on N={n}: {full_s:.1f} s")
    rows: list[dict[str, Any]] = []
    for loss in (ttjax.Loss.CE, ttjax.Loss.MSE):
        tiny_hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=1e-6, steps=1, loss=loss)
        probe = ttjax.predict_from_ntk(full, task.labels, tiny_hp, paths=1, key=k_pred)
        lr = args.lr_frac * probe.trajectories.max_stable_lr
        hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=lr, steps=args.steps, loss=loss)

        def run(hp: ttjax.Hyperparams = hp, **extra: Any) -> ttjax.Prediction:
            return ttjax.predict_training_time(
                model, task, hp, eps=eps, paths=1, key=k_pred, progress=False,
                measure_time=False, **extra,
            )  # fmt: skip

        ref = run(ntk=full)
        t_full = {e: ref.training_time[e].median for e in eps}
        real = None
        if args.real:
            res = ttjax.finetune(model, task, hp, key=k_pred, progress=False)
            real = {e: int(ttjax.epsilon_training_time(np.asarray(res.loss), e)) for e in eps}
        for frac in (int(f) for f in args.fractions.split(",")):
            n0 = n // frac
            t0 = time.perf_counter()
            sub = run(ntk_subset=n0)
            wall = time.perf_counter() - t0
            t_sub = {e: sub.training_time[e].median for e in eps}
            row = {
                "loss": loss.value,
                "n": n,
                "n0": n0,
                "lr": lr,
                "T_full": t_full,
                "T_subset": t_sub,
                "T_real": real,
                "relerr_subset_vs_full": {
                    e: (t_sub[e] - t_full[e]) / max(t_full[e], 1) for e in eps
                },
                "subset_timing_s": sub.timing_s,
                "subset_wall_s": wall,
            }
            rows.append(row)
            print(f"{loss.value:>3} N0={n0:>4}/N={n}: " + "  ".join(
                f"ε={e}: full {t_full[e]:g} subset {t_sub[e]:g}"
                + (f" real {real[e]}" if real else "") for e in eps))  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"settings": vars(args), "full_ntk_s": full_s, "rows": rows}
    (out / "ntk_subset.json").write_text(json.dumps(doc, indent=1, default=str))
    print(f"wrote {out / 'ntk_subset.json'}")


if __name__ == "__main__":
    main()
