"""``ttjax sweep``: predicted Tε over a grid lr × momentum × batch size, reusing one Θ.

Θ is built once; the whole grid is one vmapped, compiled solve (values change, the
program does not). Prints a table of Tε per setting and whether it reaches the target
(median Tε at ``--target-eps`` within ``--budget`` steps, and stable and settled). Every
setting is solved with the paper's fixed kernel: no real steps are observed and no curve is
drawn, so ``--observe``, ``--drift`` (other than ``none``), ``--drift-alignment``,
``--path-budget`` and ``--plot`` are refused with the advice to run ``ttjax predict`` on the
setting chosen.
"""

from __future__ import annotations

import argparse
import time

from .._errors import ConfigError
from ._predict import add_dynamics_flags, resolve_dynamics_flags
from ._task_flags import add_task_flags, resolve_task


def _floats(text: str, flag: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"{flag} takes a comma-separated list, e.g. 0.01,0.1; got {text!r}."
        ) from None
    if not values:
        raise ConfigError(f"{flag} is empty; give e.g. 0.01,0.1.")
    return values


def _check_grid(lrs: list[float], momenta: list[float], batches: list[float]) -> list[int]:
    """Raise :class:`ConfigError` for any lr ≤ 0 (or non-finite), momentum outside [0, 1),
    or batch size that is not an integer ≥ 1; returns the batch sizes as integers."""
    import math

    bad_lr = [v for v in lrs if not (math.isfinite(v) and v > 0)]
    if bad_lr:
        raise ConfigError(f"--lrs must all be positive finite numbers, got {bad_lr}; "
                          "use e.g. --lrs 0.003,0.01,0.03.")  # fmt: skip
    bad_m = [v for v in momenta if not 0.0 <= v < 1.0]
    if bad_m:
        raise ConfigError(f"--momenta must all be in [0, 1), got {bad_m}; "
                          "use e.g. --momenta 0,0.9.")  # fmt: skip
    bad_b = [v for v in batches if not (v >= 1 and float(v).is_integer())]
    if bad_b:
        raise ConfigError(f"--batch-sizes must all be integers ≥ 1, got {bad_b}; "
                          "use e.g. --batch-sizes 32,128.")  # fmt: skip
    return [int(b) for b in batches]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Task flags (the base setting) + dynamics flags + the grid and the budget."""
    add_task_flags(parser)
    add_dynamics_flags(parser)
    g = parser.add_argument_group("grid")
    g.add_argument(
        "--lrs", default=None, help="learning rates, e.g. 0.003,0.01,0.03 (default: --lr)"
    )
    g.add_argument("--momenta", default=None, help="momenta, e.g. 0,0.9 (default: --momentum)")
    g.add_argument("--batch-sizes", default=None,
                   help="batch sizes, e.g. 32,128 (≥ N means full batch; default: --batch-size "
                   "or N)")  # fmt: skip
    g.add_argument("--budget", type=int, default=None,
                   help="step budget for the target (default: --steps)")  # fmt: skip
    g.add_argument("--target-eps", type=float, default=None,
                   help="ε whose Tε must fit the budget (default: the smallest --eps)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="hide progress output")
    # None = not given: the fixed-kernel sweep refuses these rather than ignore them
    parser.set_defaults(observe=None, drift=None)


def _fixed_kernel_flags(args: argparse.Namespace) -> None:
    """Refuse the flags the fixed-kernel sweep would ignore; set ``--observe 0 --drift none``."""
    given = [flag for flag, used in (
        ("--plot", args.plot is not None),
        ("--observe", args.observe not in (None, 0)),
        ("--drift", args.drift not in (None, "none")),
        ("--drift-alignment", args.drift_alignment is not None),
        ("--path-budget", args.path_budget is not None),
    ) if used]  # fmt: skip
    if given:
        raise ConfigError(
            f"ttjax sweep solves every setting with the paper's fixed kernel from one Θ (no "
            f"real steps observed, no curve drawn), so it cannot use {', '.join(given)}: drop "
            "them, and run `ttjax predict` with them on the setting you pick."
        )
    args.observe, args.drift = 0, "none"


def run(args: argparse.Namespace) -> int:
    """Build Θ once, solve the grid, print the table; ``--json`` writes every setting."""

    import jax
    from rich.console import Console
    from rich.table import Table

    from .._convergence import RunStatus
    from .._progress import stage
    from ..dynamics import Problem, with_schedule_of
    from ..predict import Criterion, predict_grid, task_ntk
    from ._report import write_json

    console = Console(stderr=True)
    t0 = time.perf_counter()
    _fixed_kernel_flags(args)
    ntk_config, dyn = resolve_dynamics_flags(args)
    lrs = _floats(args.lrs, "--lrs") if args.lrs else []
    momenta = _floats(args.momenta, "--momenta") if args.momenta else []
    batch_list = _floats(args.batch_sizes, "--batch-sizes") if args.batch_sizes else []
    _check_grid(lrs, momenta, batch_list)  # before the task is loaded: a bad grid costs nothing
    if args.optimizer == "sgd" and args.batch_size is None and batch_list:
        args.batch_size = int(min(batch_list))  # the grid names the batch sizes
    rt = resolve_task(args)
    n = rt.task.num_examples
    lrs = lrs or [rt.hparams.lr]
    momenta = momenta or [rt.hparams.momentum]
    batches = _check_grid(lrs, momenta, batch_list or [float(rt.config["batch_size"])])
    budget = args.budget if args.budget is not None else rt.hparams.steps
    target = args.target_eps if args.target_eps is not None else min(rt.eps)
    if not 0.0 < target <= 1.0:
        raise ConfigError(f"--target-eps must be in (0, 1], got {target:g}; e.g. --target-eps 0.1.")
    eps = tuple(sorted(set(rt.eps) | {target}))
    timing = {"load": time.perf_counter() - t0}

    start = time.perf_counter()
    k_ntk, k_dyn = jax.random.split(rt.key)
    ntk = task_ntk(rt.model, rt.task, config=ntk_config, key=k_ntk, progress=not args.no_progress)
    timing["ntk"] = time.perf_counter() - start
    problem = Problem.from_ntk(ntk, rt.task.labels, loss=rt.hparams.loss)
    text = f"solving {len(lrs) * len(momenta) * len(batches)} settings"
    with stage(timing, "solve", enabled=not args.no_progress, text=text):
        points = predict_grid(
            problem,
            lrs=lrs,
            momenta=momenta,
            batch_sizes=batches,
            steps=rt.hparams.steps,
            eps=eps,
            paths=args.paths,
            dynamics=with_schedule_of(dyn, rt.hparams.schedule),  # --lr-schedule
            criterion=Criterion(args.criterion),
            key=k_dyn,
        )
    timing["total"] = time.perf_counter() - t0

    table = Table(
        title=f"sweep (N={n}, T={rt.hparams.steps}, budget {budget} steps at ε={target:g})"
    )
    for col in (
        "lr",
        "m",
        "|B|",
        *(f"Tε={e:g} median [5,95]" for e in eps),
        "final loss",
        "within budget",
    ):
        table.add_column(col, justify="right")
    rows = []
    for p in points:
        s = p.training_time[target]
        settled = p.status is RunStatus.CONVERGED  # an unstable setting is DIVERGED
        ok = settled and s.median <= budget
        cells = [f"{p.lr:g}", f"{p.momentum:g}", str(p.batch_size)]
        for e in eps:
            t = p.training_time[e]
            cells.append(
                f"{t.median:g} [{t.q05:g}, {t.q95:g}]"
                if settled
                else ("diverges" if not p.stable else p.status.value)
            )
        cells += [f"{p.final_loss:.4f}" if p.stable else "—", "yes" if ok else "no"]
        table.add_row(*cells)
        rows.append({**p.to_dict(), "within_budget": ok})
    Console().print(table)
    console.print(
        "times: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items())
        + "; largest stable lr: "
        + ", ".join(sorted({f"{p.max_stable_lr:.4g} (m={p.momentum:g})" for p in points}))
    )
    if args.json:
        payload = {
            "config": {
                **rt.config,
                "command": "sweep",
                "budget": budget,
                "target_eps": target,
                "paths": args.paths,
                "dynamics": dyn.to_dict(),
                "ntk_method": ntk_config.method.value,
            },
            "grid": rows,
            "timing_s": timing,
        }
        console.print(f"wrote {write_json(args.json, payload)}")
    return 0
