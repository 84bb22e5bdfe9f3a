"""Benchmark of the NTK engine: accuracy vs D′ (paper Fig. 4 left), speed ratios, peak RSS.

Prints three tables:

(a) relative Frobenius error ‖Θ̂ − Θ‖/‖Θ‖ vs the EXACT Θ for each method and D′, with
    the build time (small N; TRACE also vs the exact class-traced Θ₁ ⊗ I);
(b) time(Θ, default method) / time(C batched backward passes over the N examples), and
    time(150 full-batch GD steps) / time(Θ), measured side by side in one process;
(c) peak RSS (ru_maxrss of a child process) of building Θ vs N.

Run on a quiet machine (timings on a shared CPU are noisy):

    python scripts/bench_ntk.py --model resnet18 --image-size 32           # full
    python scripts/bench_ntk.py --small                                    # CI, seconds
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from rich.table import Table

from ttjax.models import create_model
from ttjax.ntk import NtkConfig, NtkMethod, compute_ntk

console = Console()


def _setup(model_name: str, n: int, classes: int, size: int, seed: int = 0):
    key = jax.random.key(seed)
    k_model, k_x = jax.random.split(key)
    model = create_model(
        model_name, num_classes=classes, image_size=size, weights=None, key=k_model
    )
    x = jax.random.normal(k_x, (n, size, size, 3), jnp.float32)
    return model, x


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b))


def accuracy_table(args) -> None:
    model, x = _setup(args.model, args.n_acc, args.classes, args.image_size)
    n, c = x.shape[0], args.classes
    exact_cfg = NtkConfig(method=NtkMethod.EXACT, param_block=args.param_block)
    ref = compute_ntk(model.apply_fn, model.params, x, config=exact_cfg, key=jax.random.key(0))
    exact = ref.theta.astype(np.float64)
    traced1 = np.einsum("icjc->ij", exact.reshape(n, c, n, c)) / c
    traced = np.kron(traced1, np.eye(c))
    table = Table(title=f"(a) Θ error vs EXACT: {args.model} {args.image_size}px, N={n}, C={c}")
    for col in ("method", "D′", "err vs Θ", "err vs Θ₁⊗I", "time s"):
        table.add_column(col, justify="right")
    table.add_row("exact", "-", "0", f"{_rel(exact, traced):.4f}", f"{ref.timing_s['total']:.1f}")
    rows = []
    for method in args.methods:
        dims = args.dims_proj if method in (NtkMethod.GAUSSIAN, NtkMethod.SPARSE) else args.dims
        blocks = args.kron_blocks if method is NtkMethod.KRONECKER else [2]
        for dim, block in itertools.product(dims, blocks):
            cfg = NtkConfig(method=method, projection_dim=dim, kron_block=block)
            res = compute_ntk(model.apply_fn, model.params, x, config=cfg, key=jax.random.key(1))
            e_full = _rel(res.theta, exact)
            e_tr = _rel(res.theta, traced) if method is NtkMethod.TRACE else float("nan")
            t = res.timing_s["total"]
            name = f"{method.value} b={block}" if method is NtkMethod.KRONECKER else method.value
            rows.append({"method": name, "dim": dim, "err": e_full, "err_traced": e_tr,
                         "time_s": t})  # fmt: skip
            table.add_row(name, str(dim), f"{e_full:.4f}", f"{e_tr:.4f}", f"{t:.1f}")
    console.print(table)
    console.print(f"head share of tr Θ (EXACT): {ref.diagnostics['head_trace_share']:.3f}")
    console.print_json(json.dumps({"accuracy": rows}))


def _batched_backward_time(model, x, classes: int, chunk: int) -> float:
    """C backward passes: grad of Σ_i f_c(x_i) for each c (chunked over examples)."""

    @jax.jit
    def grad_sum(params, xb, c):
        return jax.grad(lambda p: model.apply_fn(p, xb)[:, c].sum())(params)

    xs = [x[i : i + chunk] for i in range(0, x.shape[0], chunk)]
    jax.block_until_ready(grad_sum(model.params, xs[0], 0))  # compile (per chunk shape)
    if xs[-1].shape[0] != chunk:
        jax.block_until_ready(grad_sum(model.params, xs[-1], 0))
    t0 = time.perf_counter()
    for c in range(classes):
        for xb in xs:
            jax.block_until_ready(grad_sum(model.params, xb, c))
    return time.perf_counter() - t0


def _forward_cotangent_time(model, x, classes: int, chunk: int) -> float:
    """The floor of the layer-factored Θ: one forward and C backward passes of *data*
    gradients (cotangents at every layer output, via the engine's taps), no features."""
    from ttjax.ntk import discover_layers, make_layout, run_with_taps

    layout = make_layout(model.params, None)
    specs = discover_layers(model.apply_fn, model.params, x[:1], layout)

    @jax.jit
    def cotangents(params, xb):
        taps0 = [jnp.zeros((xb.shape[0], *s.out_shape), xb.dtype) for s in specs]

        def fwd(taps):
            out, rec = run_with_taps(model.apply_fn, params, xb, taps)
            return out, [r.x for r in rec]

        out, vjp, _ = jax.vjp(fwd, taps0, has_aux=True)
        cots = jax.vmap(lambda v: vjp(jnp.broadcast_to(v, out.shape))[0])(jnp.eye(classes))
        return sum(jnp.sum(c) for c in cots)

    xs = [x[i : i + chunk] for i in range(0, x.shape[0], chunk)]
    for xb in {xb.shape[0]: xb for xb in xs}.values():
        jax.block_until_ready(cotangents(model.params, xb))
    t0 = time.perf_counter()
    for xb in xs:
        jax.block_until_ready(cotangents(model.params, xb))
    return time.perf_counter() - t0


def _gd_step_time(model, x, classes: int, reps: int) -> float:
    labels = jnp.arange(x.shape[0]) % classes
    opt = optax.sgd(0.01)

    @jax.jit
    def step(params, state):
        def loss(p):
            logits = model.apply_fn(p, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

        g = jax.grad(loss)(params)
        upd, state = opt.update(g, state, params)
        return optax.apply_updates(params, upd), state

    params, state = model.params, opt.init(model.params)
    params, state = jax.block_until_ready(step(params, state))
    t0 = time.perf_counter()
    for _ in range(reps):
        params, state = jax.block_until_ready(step(params, state))
    return (time.perf_counter() - t0) / reps


def speed_table(args) -> None:
    model, x = _setup(args.model, args.n, args.classes, args.image_size)
    cfg = NtkConfig(projection_dim=args.default_dim)  # the default method (KRONECKER)
    # a first, cold build (compilation included; the layer routes depend on N, so the warm-up
    # must use the same N), then the timed build with warm caches
    warm = compute_ntk(model.apply_fn, model.params, x, config=cfg, key=jax.random.key(0))
    t0 = time.perf_counter()
    res = compute_ntk(model.apply_fn, model.params, x, config=cfg, key=jax.random.key(0))
    t_theta = time.perf_counter() - t0
    t_back = _batched_backward_time(model, x, args.classes, args.chunk)
    t_floor = _forward_cotangent_time(model, x, args.classes, min(args.chunk, 64))
    t_step = _gd_step_time(model, x, args.classes, args.gd_reps)
    table = Table(
        title=f"(b) speed: {args.model} {args.image_size}px, N={args.n}, C={args.classes}"
    )
    for col in ("quantity", "seconds / ratio"):
        table.add_column(col, justify="right")
    table.add_row(f"Θ ({res.method.value}, D′={args.default_dim}), caches warm", f"{t_theta:.2f}")
    table.add_row("  of which the first block", f"{res.timing_s['first_block']:.2f}")
    table.add_row("Θ, cold (first call, compilation included)", f"{warm.timing_s['total']:.2f}")
    table.add_row(f"C={args.classes} batched backward passes", f"{t_back:.2f}")
    table.add_row(f"1 forward + C={args.classes} data-gradient backward passes", f"{t_floor:.2f}")
    table.add_row("one full-batch GD step", f"{t_step:.2f}")
    table.add_row("ratio Θ / C backward (target ≤ 3)", f"{t_theta / t_back:.2f}")
    table.add_row("ratio 150 GD steps / Θ (target ≥ 50)", f"{150 * t_step / t_theta:.1f}")
    table.add_row("head share of Σ‖∇f‖²", f"{res.diagnostics['head_trace_share']:.3f}")
    console.print(table)
    console.print_json(json.dumps({"speed": {
        "theta_s": t_theta, "timing_s": res.timing_s, "cold_s": warm.timing_s["total"],
        "c_backward_s": t_back,
        "forward_cotangents_s": t_floor, "gd_step_s": t_step, "method": res.method.value,
        "example_block": res.diagnostics["example_block"],
    }}))  # fmt: skip


_CHILD = """
import json, resource, sys, jax
sys.path.insert(0, {root!r})
from scripts.bench_ntk import _setup
from ttjax.ntk import NtkConfig, compute_ntk
model, x = _setup({model!r}, {n}, {c}, {s})
res = compute_ntk(model.apply_fn, model.params, x, config=NtkConfig(projection_dim={dim}),
                  key=jax.random.key(0))
print(json.dumps({{"rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "est": res.diagnostics["estimated_peak_bytes"],
                  "t": res.timing_s["total"]}}))
"""


def memory_table(args) -> None:
    import pathlib

    root = str(pathlib.Path(__file__).resolve().parents[1])
    table = Table(title=f"(c) peak RSS of a child process, default method, {args.model}")
    for col in ("N", "peak RSS GiB", "estimate GiB", "time s"):
        table.add_column(col, justify="right")
    for n in args.rss_ns:
        code = _CHILD.format(root=root, model=args.model, n=n, c=args.classes,
                             s=args.image_size, dim=args.default_dim)  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        table.add_row(str(n), f"{r['rss'] / 2**30:.2f}", f"{r['est'] / 2**30:.2f}", f"{r['t']:.1f}")
    console.print(table)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="resnet18")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--classes", type=int, default=5)
    p.add_argument("--n", type=int, default=750, help="examples for the speed table")
    p.add_argument("--n-acc", type=int, default=40, help="examples for the accuracy table")
    p.add_argument("--dims", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    p.add_argument("--dims-proj", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--default-dim", type=int, default=16384)
    p.add_argument("--param-block", type=int, default=2_000_000)
    p.add_argument("--kron-blocks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--chunk", type=int, default=250, help="examples per backward chunk")
    p.add_argument("--gd-reps", type=int, default=2)
    p.add_argument("--rss-ns", type=int, nargs="+", default=[100, 250, 750])
    p.add_argument("--parts", default="abc", help="which tables: any of a, b, c")
    p.add_argument("--small", action="store_true", help="tiny model, seconds (CI)")
    args = p.parse_args()
    args.methods = [
        NtkMethod.KRONECKER,
        NtkMethod.GAUSSIAN,
        NtkMethod.SPARSE,
        NtkMethod.SKETCH,
        NtkMethod.TRACE,
    ]
    if args.small:
        args.model, args.image_size, args.n, args.n_acc = "tiny", 16, 32, 8
        args.dims, args.dims_proj, args.rss_ns, args.default_dim = [256, 4096], [256], [16], 4096
        args.chunk, args.kron_blocks = 16, [2]
    console.print(f"devices: {jax.devices()}  (timings on a shared CPU are noisy)")
    if "a" in args.parts:
        accuracy_table(args)
    if "b" in args.parts:
        speed_table(args)
    if "c" in args.parts:
        memory_table(args)
    console.print(
        f"self peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    )


if __name__ == "__main__":
    main()
