"""``ttjax finetune``: really fine-tune, record the full-set curves, report Tε and timings.

A run that diverges without NaN (:func:`ttjax.classify_run`: loss above 10 × L_0 at several
steps), whose loss does not decrease, or that climbs back more than half of its decrease by T is
a *result*, not a usage error: it exits 0, prints a one-line warning on stderr, and its JSON has
``"status": "diverged"`` (or ``"not_decreasing"``, ``"unsettled"``) with every Tε ``null``.
A NaN/inf loss stops the run with a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import time

from ._task_flags import add_task_flags, resolve_task


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The shared task flags (see :mod:`ttjax.cli._task_flags`) plus ``--no-progress``."""
    add_task_flags(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Load the task, fine-tune, print a summary; write ``--json`` / ``--plot`` if asked."""
    import jax
    from rich.console import Console
    from rich.table import Table

    from .._convergence import RunStatus
    from ..train import finetune
    from ._report import report_payload, write_json

    console = Console(stderr=True)
    t0 = time.perf_counter()
    rt = resolve_task(args)
    load_s = time.perf_counter() - t0
    console.print(
        f"[bold]ttjax finetune[/]: {rt.model.name} ({rt.model.weights}), "
        f"{rt.task.num_classes} classes × {rt.task.per_class} = {rt.task.num_examples} images "
        f"of {rt.task.source} at {rt.task.image_size}×{rt.task.image_size}, "
        f"{rt.hparams.optimizer.value} lr={rt.hparams.lr:g} m={rt.hparams.momentum:g} "
        f"|B|={rt.config['batch_size']}, T={rt.hparams.steps}, {rt.hparams.loss.value} loss"
    )
    result = finetune(rt.model, rt.task, rt.hparams, key=rt.key,
                      progress=not args.no_progress)  # fmt: skip
    jax.block_until_ready(result.params)
    steps = {text: result.training_time(e) for text, e in zip(rt.eps_text, rt.eps, strict=True)}
    total_s = time.perf_counter() - t0

    table = Table(title="real fine-tuning (full training set)", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for text, t in steps.items():
        value = (f"{t} steps  ({t * result.step_time_s:.2f} s)" if t is not None
                 else f"— ({result.status.value})")  # fmt: skip
        table.add_row(f"Tε (ε = {text}), loss", value)
    table.add_row("loss  L_0 → L_T", f"{result.loss[0]:.4f} → {result.loss[-1]:.4f}")
    table.add_row("error E_0 → E_T", f"{result.error[0]:.1%} → {result.error[-1]:.1%}")
    table.add_row("one training step", f"{result.step_time_s:.4f} s")
    table.add_row(f"training ({rt.hparams.steps} steps)", f"{result.train_time_s:.2f} s")
    table.add_row("compile / evaluation / load", f"{result.compile_time_s:.1f} s / "
                  f"{result.eval_time_s:.1f} s / {load_s:.1f} s")  # fmt: skip
    Console().print(table)
    if result.status is not RunStatus.CONVERGED:
        console.print(
            f"[yellow]warning[/]: status {result.status.value}: the run {result.status.what} "
            f"(loss {result.loss[0]:.4g} → min {result.loss.min():.4g}, max "
            f"{result.loss.max():.4g} → {result.loss[-1]:.4g} at T), so Tε is undefined "
            f"(null); lower --lr (now {rt.hparams.lr:g}) or check the task.",
            soft_wrap=True,
        )

    timing = {
        "load": load_s,
        "compile": result.compile_time_s,
        "train": result.train_time_s,
        "step": result.step_time_s,
        "evaluate": result.eval_time_s,
        "total": total_s,
    }
    if args.json:
        payload = report_payload(
            config={**rt.config, "command": "finetune"},
            curves={"loss": result.loss, "error": result.error},
            training_time={text: {"steps": t} for text, t in steps.items()},
            wall_clock_estimate_s=None,
            timing_s=timing,
            status=result.status,
        )
        path = write_json(args.json, payload)
        console.print(f"wrote {path}")
    if args.plot:
        from ..plotting import plot_curves

        title = (f"{rt.model.name} on {rt.task.source} (N={rt.task.num_examples}), "
                 f"{rt.hparams.optimizer.value} lr={rt.hparams.lr:g}")  # fmt: skip
        path = plot_curves(
            args.plot,
            curves={"loss": result.loss, "error": result.error},
            training_times={f"T(ε={text})": t for text, t in steps.items() if t is not None},
            title=title,
            curve_label="real fine-tuning",
        )
        console.print(f"wrote {path}")
    return 0
