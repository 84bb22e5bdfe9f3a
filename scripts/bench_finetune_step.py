"""Per-step wall-clock of real fine-tuning (``ttjax.train.measure_step_time``), as a table.

Full-batch GD on the embedded ``sample`` task (N = classes × per_class), random backbone
weights (the step cost does not depend on the weights' values). Timings on a shared CPU are
noisy: re-run on a quiet machine for numbers to quote.

    python scripts/bench_finetune_step.py                      # all rows
    python scripts/bench_finetune_step.py --rows tiny:32 --per-class 20
"""

from __future__ import annotations

import argparse
import time

import jax

from ttjax import Hyperparams
from ttjax.data import load_task
from ttjax.models import create_model
from ttjax.train import measure_step_time

DEFAULT_ROWS = "tiny:32,resnet18_cifar:32,resnet18:32,resnet18:64,efficientnet_lite0:64"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS, help="model:image_size,...")
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"one full-batch GD step, N = {args.classes * args.per_class}, "
                        f"{jax.devices()[0].platform}")  # fmt: skip
    for col in ("model", "S", "params (M)", "step (s)", "setup+compile (s)"):
        table.add_column(col)
    for row in args.rows.split(","):
        name, size = row.split(":")
        t0 = time.perf_counter()
        task = load_task("sample", classes=args.classes, per_class=args.per_class,
                         image_size=int(size), seed=0)  # fmt: skip
        model = create_model(name, num_classes=args.classes, image_size=int(size), weights=None,
                             key=jax.random.key(0))  # fmt: skip
        step = measure_step_time(model, task, Hyperparams(lr=0.01), key=jax.random.key(1),
                                 warmup=1, repeats=args.repeats)  # fmt: skip
        total = time.perf_counter() - t0 - step * (1 + args.repeats)
        table.add_row(name, size, f"{model.num_params / 1e6:.2f}", f"{step:.3f}", f"{total:.1f}")
        Console().print(f"{name} {size}: {step:.3f} s/step")
    Console().print(table)


if __name__ == "__main__":
    main()
