"""Whole-process cost: ``ttjax predict`` vs ``ttjax finetune`` on the same flags (issue 11).

What a user sees with ``time ttjax predict …`` and ``time ttjax finetune …``: each command is a
separate process (Python and JAX start-up, loading, compiling and computing all counted),
run one after the other, never together. Two compilation-cache states:

* ``cold``: a fresh, empty compilation cache (``TTJAX_COMPILE_CACHE_DIR`` = a new temporary
  folder per command), i.e. the first run on a machine;
* ``warm``: the same command again with the folder its cold run filled (a repeated run).

``--ntk-subset N0`` adds ``predict --ntk-subset N0`` (cold and warm). The stage breakdown is
predict's JSON ``timing_s`` (load, ntk, extrapolate, step_time, solve) and finetune's (compile,
train, evaluate). Prints a table and writes ``cost_ratio.json`` under ``--out``.

    python scripts/bench_cost_ratio.py                       # Lite0 + ResNet-18, N=750, T=150
    python scripts/bench_cost_ratio.py --models efficientnet_lite0 --per-class 50 --steps 60
    python scripts/bench_cost_ratio.py --small               # tiny model, seconds (CI)

The ResNet-18 stand-in needs its Fashion-MNIST weights
(``scripts/pretrain_resnet_fashion_mnist.py``; ``--resnet-weights``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESNET_WEIGHTS = "~/.cache/ttjax/resnet18_fmnist04.npz"


def model_flags(model: str, args: argparse.Namespace) -> list[str]:
    """Task flags shared by predict and finetune for ``model``."""
    flags = ["--model", model, "--classes", str(args.classes),
             "--per-class", str(args.per_class), "--steps", str(args.steps),
             "--image-size", str(args.image_size), "--no-progress"]  # fmt: skip
    if model == "resnet18":
        flags += ["--weights", os.path.expanduser(args.resnet_weights)]
    elif model == "tiny":
        flags += ["--weights", "none"]
    return flags + list(args.extra)


def run_cli(argv: list[str], *, cache: Path, json_path: Path) -> dict[str, Any]:
    """One ``ttjax`` process; returns its wall seconds and its ``--json`` document."""
    env = {k: v for k, v in os.environ.items() if k != "TTJAX_NO_COMPILE_CACHE"}
    env.update(TTJAX_COMPILE_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "ttjax", *argv, "--json", str(json_path)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    doc = json.loads(json_path.read_text())
    return {"wall_s": wall, "timing_s": doc.get("timing_s", {}), "doc": doc}


def bench_model(model: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Cold then warm runs of predict (full Θ, and the subset if asked) and finetune."""
    flags = model_flags(model, args)
    commands = {"predict": ["predict", *flags], "finetune": ["finetune", *flags]}
    if args.ntk_subset:
        commands["predict_subset"] = ["predict", *flags, "--ntk-subset", str(args.ntk_subset)]
    out: dict[str, Any] = {"flags": flags, "runs": {}}
    for name, argv in commands.items():
        cache = Path(tempfile.mkdtemp(prefix=f"cc_{name}_", dir=work))
        for state in ("cold", "warm"):
            r = run_cli(argv, cache=cache, json_path=work / f"{model}_{name}_{state}.json")
            doc = r.pop("doc")
            if name.startswith("predict"):
                r["training_time"] = doc.get("training_time")
                r["step_time_s"] = doc.get("step_time_s")
            else:
                r["training_time"] = doc.get("training_time")
            out["runs"][f"{name}/{state}"] = r
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["timing_s"].items())
            print(f"{model} {name:>15} {state}: {r['wall_s']:7.1f} s  {stages}", flush=True)
    runs = out["runs"]
    out["ratio"] = {
        state: runs[f"finetune/{state}"]["wall_s"] / runs[f"predict/{state}"]["wall_s"]
        for state in ("cold", "warm")
    }
    if args.ntk_subset:
        out["ratio_subset"] = {
            state: runs[f"finetune/{state}"]["wall_s"] / runs[f"predict_subset/{state}"]["wall_s"]
            for state in ("cold", "warm")
        }
    return out


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="whole-process seconds (finetune / predict)")
    for col in ("model", "command", "cache", "wall s", "stages (s)", "ratio"):
        table.add_column(col)
    for model, res in results.items():
        for key, r in res["runs"].items():
            name, state = key.split("/")
            ratio = ""
            if name == "predict":
                ratio = f"{res['ratio'][state]:.1f}×"
            elif name == "predict_subset":
                ratio = f"{res['ratio_subset'][state]:.1f}×"
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["timing_s"].items() if k != "step")
            table.add_row(model, name, state, f"{r['wall_s']:.1f}", stages, ratio)
    Console().print(table)


def huge_pages_state() -> dict[str, Any]:
    """Whether the commands ran with malloc on transparent huge pages (the ``ttjax`` command
    restarts itself with ``glibc.malloc.hugetlb=1`` unless ``TTJAX_NO_HUGE_PAGES`` is set)."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return {
        "TTJAX_NO_HUGE_PAGES": os.environ.get("TTJAX_NO_HUGE_PAGES"),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "kernel_thp": thp.read_text().strip() if thp.exists() else None,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--models", default="efficientnet_lite0,resnet18")
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--per-class", type=int, default=150, help="N = classes × per-class")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--ntk-subset", type=int, default=None, help="also predict with Θ on N0")
    ap.add_argument("--resnet-weights", default=DEFAULT_RESNET_WEIGHTS)
    ap.add_argument("--out", default="out/cost_ratio")
    ap.add_argument("--small", action="store_true", help="tiny model, N=15, T=10 (CI)")
    ap.add_argument("extra", nargs="*", help="more flags for both commands (after --)")
    args = ap.parse_args(argv)
    if args.small:
        args.models, args.classes, args.per_class, args.steps, args.image_size = (
            "tiny",
            3,
            5,
            10,
            16,
        )
        args.ntk_subset = args.ntk_subset or 9
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ttjax_cost_") as tmp:
        for model in args.models.split(","):
            results[model] = bench_model(model, args, Path(tmp))
    print_table(results)
    import platform

    doc = {
        "settings": {k: v for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_avg_end": os.getloadavg(),
            "huge_pages": huge_pages_state(),
        },
        "results": results,
    }
    path = out / "cost_ratio.json"
    path.write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
