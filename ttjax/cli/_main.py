"""Entry point of the ``ttjax`` command: dispatches to one module per subcommand.

Subcommand modules are imported lazily so that ``ttjax --help`` is instant. Each
module ``ttjax.cli._<name>`` defines ``add_arguments(parser)`` and ``run(args) -> int``.
Every subcommand uses JAX's persistent compilation cache under the ttjax cache folder
(:mod:`ttjax._compile_cache`) unless ``--no-compile-cache`` or ``TTJAX_NO_COMPILE_CACHE=1``,
and, run as a command (``main()`` without ``argv``), restarts itself once with glibc's malloc
on transparent huge pages (:mod:`ttjax._host_memory`: XLA:CPU's per-call buffers at a 512th of
the page faults) unless ``TTJAX_NO_HUGE_PAGES=1``.
Errors that ttjax raises on purpose (:class:`ttjax._errors.TTJaxError`) are printed
as one clear line, without a traceback, and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .._errors import TTJaxError

SUBCOMMANDS: dict[str, str] = {
    "predict": "Predict the loss/error curve and training time, without training.",
    "finetune": "Really fine-tune (the ground truth that predictions are judged against).",
    "sweep": "Predict over a grid of (lr, momentum, batch size), reusing one Θ.",
    "benchmark": "Predicted vs real training time on a grid of tasks (resumable JSON-lines).",
}


def _build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(
        prog="ttjax",
        description="Predict how many steps (and how much time) fine-tuning will take, "
        "without training.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--no-compile-cache", action="store_true",
                       help="do not use the on-disk XLA compilation cache (also: "
                       "TTJAX_NO_COMPILE_CACHE=1)")  # fmt: skip
        if name == chosen:
            module = importlib.import_module(f"ttjax.cli._{name}")
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser, module


def _is_ttjax_process() -> bool:
    """Whether this process is the ``ttjax`` command (console script or ``python -m ttjax``),
    not a Python program (a notebook, a test) that calls :func:`main`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name in ("ttjax", "ttjax.__main__"):
        return True
    return os.path.basename(sys.argv[0]) in ("ttjax", "ttjax.exe")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    as_process = argv is None and _is_ttjax_process()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        argv = ["predict"]  # no flags: the embedded default prediction
    parser, _ = _build_parser(argv)
    args = parser.parse_args(argv)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help()
        return 2
    if as_process:  # malloc on transparent huge pages: restarts once (TTJAX_NO_HUGE_PAGES=1: off)
        from .._host_memory import reexec_with_huge_pages

        reexec_with_huge_pages()
    try:
        from .._compile_cache import cli_compilation_cache

        cli_compilation_cache(disabled=args.no_compile_cache)
        return int(module.run(args) or 0)
    except TTJaxError as err:
        print(f"ttjax {args.command}: error: {err}", file=sys.stderr)
        return 2
