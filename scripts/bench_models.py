"""Per-step training time (fwd + bwd + SGD update) of the models, per conv implementation.

    python scripts/bench_models.py                 # the default table (slow on 2 cores)
    python scripts/bench_models.py --quick         # ResNet-18 only, fewer repeats
    python scripts/bench_models.py --depthwise     # Lite0: XLA vs shifted depthwise convs

One step = ``jax.jit`` of: CE loss of ``apply_fn`` (frozen BN) on a batch, its
gradient w.r.t. all parameters, an optax SGD-momentum update. Compile time is
excluded (one warm-up call); the median of ``--repeats`` timed calls is reported,
and GFLOP/s = 3 × forward MACs × 2 / time (forward MACs from XLA's cost analysis).
Timings on a shared machine are noisy: re-run on a quiet one before quoting them.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import jax
import jax.numpy as jnp
import optax
from rich.console import Console
from rich.table import Table

from ttjax.models import ConvImpl, create_model

CONFIGS = [  # (model, image size, batch)
    ("resnet18", 32, 64),
    ("resnet18", 64, 64),
    ("resnet18", 32, 750),
    ("efficientnet_lite0", 64, 32),
    ("efficientnet_lite0", 224, 32),
]


def time_step(
    name: str, size: int, batch: int, impl: ConvImpl, repeats: int
) -> tuple[float, float]:
    """Median seconds of one training step and forward GFLOP per image."""
    m = create_model(
        name, num_classes=5, image_size=size, weights=None, key=jax.random.key(0), conv_impl=impl
    )
    opt = optax.sgd(0.01, momentum=0.9)
    x = jax.random.normal(jax.random.key(1), (batch, size, size, 3), jnp.float32)
    y = jax.random.randint(jax.random.key(2), (batch,), 0, 5)

    def loss(p, x, y):
        logits = m.apply_fn(p, x)
        return jnp.mean(
            jax.nn.logsumexp(logits, -1) - jnp.take_along_axis(logits, y[:, None], 1)[:, 0]
        )

    @jax.jit
    def step(p, s, x, y):  # data as arguments: no constant folding of the batch
        g = jax.grad(loss)(p, x, y)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    fwd = jax.jit(lambda p: m.apply_fn(p, x[:1])).lower(m.params).compile().cost_analysis()
    cost = (fwd[0] if isinstance(fwd, list) else fwd) or {}
    flops = float(cost.get("flops", float("nan")))
    p, s = m.params, opt.init(m.params)
    p, s = jax.block_until_ready(step(p, s, x, y))  # compile + warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        p, s = jax.block_until_ready(step(p, s, x, y))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), flops / 1e9


_DEPTHWISE_ROUTE = "ttjax.models._conv.depthwise_conv_shifted"


def depthwise_table(repeats: int, sizes: tuple[int, ...] = (32, 64), batch: int = 64) -> None:
    """EfficientNet-Lite0 forward+backward, XLA's depthwise convs vs the shifted multiply-adds.

    Only the depthwise layers differ between the two columns (``conv2d`` with ``impl=IM2COL``
    for both, the depthwise ones routed to ``lax.conv_general_dilated`` in the "xla" column),
    measured side by side in one process.
    """
    from unittest import mock

    from jax import lax

    def xla_depthwise(x, kernel, *, strides, pads):
        return lax.conv_general_dilated(x, kernel, strides, pads,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=x.shape[-1])  # fmt: skip

    console = Console()
    table = Table(title=f"Lite0 fwd+bwd, batch {batch}: depthwise route ({jax.default_backend()})")
    for col in ("size", "xla depthwise s", "shifted s", "speed-up"):
        table.add_column(col)
    for size in sizes:
        row = {}
        for route in ("xla", "shifted"):
            # the one place a script reaches inside ttjax: it swaps the depthwise route the
            # convolutions call, by the patched module's name (nothing private is imported)
            patch = (mock.patch(_DEPTHWISE_ROUTE, xla_depthwise)
                     if route == "xla" else contextlib.nullcontext())  # fmt: skip
            with patch, console.status(f"Lite0 {size}px {route}"):
                row[route], _ = time_step("efficientnet_lite0", size, batch, ConvImpl.IM2COL,
                                          repeats)  # fmt: skip
            console.print(f"Lite0 {size}px batch {batch} depthwise {route}: {row[route]:.3f} s")
        ratio = row["xla"] / row["shifted"]
        table.add_row(str(size), f"{row['xla']:.3f}", f"{row['shifted']:.3f}", f"{ratio:.2f}×")
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description="Per-step training time of the models.")
    ap.add_argument("--quick", action="store_true", help="ResNet-18 at 32/64, batch 64 only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--impls", default="xla,im2col,patches")
    ap.add_argument("--configs", default="", help="comma-separated row indices of CONFIGS")
    ap.add_argument(
        "--depthwise",
        action="store_true",
        help="only Lite0 at 32/64 px, batch 64: XLA vs shifted depthwise convs",
    )
    args = ap.parse_args()
    if args.depthwise:
        depthwise_table(args.repeats)
        return
    impls = [ConvImpl(s) for s in args.impls.split(",")]
    configs = CONFIGS[:2] if args.quick else CONFIGS
    if args.configs:
        configs = [CONFIGS[int(i)] for i in args.configs.split(",")]
    table = Table(title=f"training step time ({jax.default_backend()}, {jax.device_count()} dev)")
    for col in ("model", "size", "batch", "conv", "step s", "img/s", "GFLOP/s"):
        table.add_column(col)
    console = Console()
    for name, size, batch in configs:
        for impl in impls:
            with console.status(f"{name} {size}px batch {batch} {impl.value}"):
                sec, gflop = time_step(name, size, batch, impl, args.repeats)
            rate = 3 * gflop * batch / sec
            table.add_row(
                name,
                str(size),
                str(batch),
                impl.value,
                f"{sec:.3f}",
                f"{batch / sec:.0f}",
                f"{rate:.0f}",
            )
            console.print(
                f"{name} {size} {batch} {impl.value}: {sec:.3f} s/step, {rate:.0f} GFLOP/s"
            )
    console.print(table)


if __name__ == "__main__":
    main()
