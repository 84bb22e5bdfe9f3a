"""Measure the per-step cost of each benchmark-v2 backbone on this machine (for the dry run).

For every backbone of ``--grid v2`` it times compiled GD training steps
(:func:`ttjax.train.measure_step_time`, median of 3 after 1 warm-up) at two batch sizes and fits
``seconds(B) = a + b·B``; the compile time is the rest of the wall-clock. Prints the JSON that
``ttjax/benchmark/_cost.py`` holds as ``STEP_COST``::

    nice -n 10 python scripts/bench_v2_cost.py [--batches 10 50]
"""

from __future__ import annotations

import argparse
import json
import time

import jax

from ttjax import Hyperparams
from ttjax.benchmark import FMNIST_TARGET, V2_BACKBONES, TaskSpec, build_model, build_task
from ttjax.train import measure_step_time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--batches", type=int, nargs=2, default=[10, 50])
    p.add_argument("--only", default=None, help="one backbone label, e.g. small_cnn@28")
    args = p.parse_args(argv)
    out = {}
    for label, (model, size) in V2_BACKBONES.items():
        if args.only and label != args.only:
            continue
        times = []
        for b in args.batches:
            spec = TaskSpec(model=model, weights=None, data="fashion_mnist",
                            class_subset=FMNIST_TARGET, classes=5, per_class=b // 5,
                            image_size=size)  # fmt: skip
            model_obj = build_model(spec, key=jax.random.key(0))
            task = build_task(spec)
            t0 = time.perf_counter()
            step = measure_step_time(model_obj, task, Hyperparams(steps=1), key=jax.random.key(1),
                                     warmup=1, repeats=3)  # fmt: skip
            wall = time.perf_counter() - t0
            times.append((b, step, wall - 4 * step))
        (b1, s1, c1), (b2, s2, c2) = times
        slope = (s2 - s1) / (b2 - b1)
        out[label] = {
            "per_example_s": round(slope, 6),
            "intercept_s": round(max(s1 - slope * b1, 0.0), 5),
            "compile_s": round(max(c1, c2), 2),
            "measured": {str(b): round(s, 5) for b, s, _ in times},
        }
        print(label, out[label], flush=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
