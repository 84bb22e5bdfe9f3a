"""``ttjax predict``: predict the curves and Tε without training; table, JSON, PNG.

Same task flags as ``ttjax finetune`` (so the two run on the same problem), plus the
Monte-Carlo paths, the Θ method and the dynamics model. With no flags it predicts the
embedded default (EfficientNet-Lite0, ImageNet weights, the ``sample`` task).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from .._band import BAND_CALIBRATION
from .._errors import ConfigError, DataError
from ..dynamics import DynamicsConfig
from ..ntk import NtkConfig
from ._task_flags import add_task_flags, resolve_task

DEFAULT_PATHS = 128


def add_dynamics_flags(parser: argparse.ArgumentParser) -> None:
    """Θ-method and dynamics flags shared by ``predict`` and ``sweep``."""
    from ..dynamics import DriftModel, MomentumMode, NoiseModel, TimeMode
    from ..ntk import NtkMethod

    g = parser.add_argument_group("prediction")
    g.add_argument(
        "--paths",
        type=int,
        default=DEFAULT_PATHS,
        help="M Monte-Carlo paths for SGD (default: %(default)s)",
    )
    g.add_argument("--ntk-method", choices=[m.value for m in NtkMethod], default="auto",
                   help="how Θ is built (default: %(default)s; ttjax.ntk.NtkMethod)")  # fmt: skip
    g.add_argument("--projection-dim", type=int, default=None,
                   help="D′ sketch/projection size (default: the engine's)")  # fmt: skip
    g.add_argument("--noise-model", choices=[m.value for m in NoiseModel], default="diagonal",
                   help="SGD noise model (default: %(default)s: the paper's)")  # fmt: skip
    g.add_argument(
        "--time",
        choices=[m.value for m in TimeMode],
        default="discrete",
        help="discrete map or continuous ODE/SDE (default: %(default)s)",
    )
    g.add_argument("--momentum-model", choices=[m.value for m in MomentumMode],
                   default=None,
                   help="exact heavy ball or the paper's η/(1−m) (default: exact in discrete "
                   "time, effective_lr in continuous time)")  # fmt: skip
    g.add_argument("--drift", choices=[d.value for d in DriftModel], default="observed",
                   help="kernel drift: follow tr Θ measured over the first --observe real "
                   "steps, or its scale along the loss gradient, or along the predicted "
                   "trajectory (path: a walk of re-linearised segments, up to --path-budget "
                   "extra full-set passes), or the paper's fixed kernel "
                   "(default: %(default)s)")  # fmt: skip
    g.add_argument("--drift-alignment", default=None, metavar="GAMMA",
                   help="γ of --drift aligned: the share of the rate along the residual held "
                   "after the observed steps (0 = gradient, 1 = all), or 'fit' to fit it to "
                   "the observed steps (default: 1; experimental)")  # fmt: skip
    g.add_argument("--path-budget", type=int, default=None, metavar="PASSES",
                   help="full-set forward+backward passes the --drift path walk may spend "
                   "(default: 40, about 20 training steps)")  # fmt: skip
    g.add_argument("--observe", type=int, default=4, metavar="K",
                   help="real steps run to time a step and measure the kernel's drift "
                   "(≥ 2; 0 = none: fixed kernel, no wall-clock) "
                   "(default: %(default)s)")  # fmt: skip
    g.add_argument("--criterion", choices=["loss", "error"], default="loss",
                   help="Tε from the loss or the error curve (default: %(default)s)")  # fmt: skip


def resolve_dynamics_flags(args: argparse.Namespace) -> tuple[NtkConfig, DynamicsConfig]:
    """(NtkConfig, DynamicsConfig) from the flags."""
    from ..dynamics import DriftModel, MomentumMode, NoiseModel, TimeMode
    from ..ntk import NtkMethod

    if args.paths < 1:
        raise ConfigError(f"--paths must be ≥ 1, got {args.paths}.")
    if args.observe == 1 or args.observe < 0:
        raise ConfigError(f"--observe must be 0 or ≥ 2 real steps, got {args.observe}.")
    kw: dict[str, Any] = {"method": NtkMethod(args.ntk_method)}
    if args.projection_dim is not None:
        kw["projection_dim"] = args.projection_dim
    dyn = DynamicsConfig(
        time=TimeMode(args.time),
        noise_model=NoiseModel(args.noise_model),
        momentum=None if args.momentum_model is None else MomentumMode(args.momentum_model),
        drift=DriftModel(args.drift),
    )
    if args.drift_alignment is not None:
        if dyn.drift is not DriftModel.ALIGNED:
            raise ConfigError("--drift-alignment applies to --drift aligned only; add it.")
        dyn = dataclasses.replace(dyn, drift_alignment=_alignment(args.drift_alignment))
    return NtkConfig(**kw), dyn


def _alignment(value: str) -> float | None:
    """γ from ``--drift-alignment`` (None: ``fit``)."""
    if value.strip() == "fit":
        return None
    try:
        return float(value)
    except ValueError:
        msg = f"--drift-alignment takes a number ≥ 0 or 'fit', got {value!r}."
        raise ConfigError(msg) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Task and prediction flags, ``--compare``, ``--no-progress``, ``--ntk-subset``, ``--band``."""
    add_task_flags(parser)
    add_dynamics_flags(parser)
    parser.add_argument("--compare", metavar="FINETUNE_JSON", default=None,
                        help="a `ttjax finetune --json` file: its real curve is drawn on the "
                        "plot and its Tε shown in the table")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="hide progress output")
    parser.add_argument("--ntk-subset", type=int, default=None, metavar="N0",
                        help="build Θ on N0 < N stratified examples and extrapolate its spectrum "
                        "to N (supplementary §D; ≈ N/N0 times cheaper Θ)")  # fmt: skip
    parser.add_argument("--band", choices=["calibrated", "model"], default="calibrated",
                        help="5–95%% band: joined by the Tε errors measured on real runs of "
                        "the same regime (calibrated, ttjax.BAND_CALIBRATION; observed runs, "
                        "loss criterion), or the Monte-Carlo band alone (model) "
                        "(default: %(default)s)")  # fmt: skip


_RUN_KEYS = ("model", "weights", "data", "class_ids", "per_class", "image_size", "seed",
             "optimizer", "lr", "momentum", "batch_size", "steps", "loss")  # fmt: skip
"""Config keys that make a ``--compare`` run the same run as the prediction."""


def _load_reference(path: str) -> dict[str, Any]:
    """The real run of ``--compare``: its curves (float arrays), :func:`ttjax.classify_run`
    status and config — read and checked before anything is computed."""
    import numpy as np

    from .._convergence import classify_run

    fix = "pass the `--json` file of the real run (`ttjax finetune ... --json FILE`)"
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"--compare file {path} does not exist; {fix}.") from None
    except OSError as e:
        raise DataError(f"--compare {path} cannot be read ({e.strerror}); {fix}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DataError(f"--compare {path} is not a JSON file; {fix}.") from None
    curves = doc.get("curves") if isinstance(doc, dict) else None
    if not isinstance(curves, dict) or "loss" not in curves:
        raise DataError(f"--compare {path} has no curves.loss; {fix}.")
    config = doc["config"] if isinstance(doc.get("config"), dict) else {}
    command = config.get("command", "finetune")
    if command != "finetune":
        raise DataError(f"--compare {path} was written by `ttjax {command}`, not by a real "
                        f"run; {fix}.")  # fmt: skip
    out: dict[str, np.ndarray] = {}
    for name in ("loss", "error"):
        if name not in curves:
            continue
        try:
            values = np.asarray(curves[name], dtype=np.float64)
        except (TypeError, ValueError):
            values = np.zeros((0,))
        if values.ndim != 1 or values.size < 2:
            raise DataError(f"--compare {path}: curves.{name} is not a list of at least 2 "
                            f"numbers; {fix}.")  # fmt: skip
        out[name] = values
    return {"curves": out, "status": classify_run(out["loss"]), "config": config}


def _reference_mismatch(reference: dict[str, Any], config: dict[str, Any]) -> str | None:
    """A line naming the settings in which the ``--compare`` run differs from the prediction's
    (None when it is the same run), e.g. ``lr 0.0005 (real) vs 0.05``."""
    ref = reference["config"]
    diffs = [f"{k} {ref[k]} (real) vs {config[k]}" for k in _RUN_KEYS
             if k in ref and k in config and ref[k] != config[k]]  # fmt: skip
    steps = len(reference["curves"]["loss"]) - 1
    if "steps" not in ref and steps != config.get("steps", steps):
        diffs.append(f"steps {steps} (real) vs {config['steps']}")
    if not diffs:
        return None
    return ("the --compare run is not the run predicted: " + "; ".join(diffs)
            + " — its Tε is not comparable.")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Resolve the task, predict, print the summary; write ``--json``/``--plot`` if asked."""
    from rich.console import Console
    from rich.table import Table

    from .._convergence import RunStatus
    from ..predict import Criterion, predict_training_time
    from ..training_time import epsilon_training_time
    from ._report import report_payload, write_json

    console = Console(stderr=True)
    t0 = time.perf_counter()
    ntk_config, dyn = resolve_dynamics_flags(args)
    reference = _load_reference(args.compare) if args.compare else None
    rt = resolve_task(args)
    load_s = time.perf_counter() - t0
    mismatch = None if reference is None else _reference_mismatch(reference, rt.config)
    if mismatch:  # said before the prediction runs: the user may stop and fix the flags
        console.print(f"[yellow]warning:[/] {mismatch}", soft_wrap=True)
    hp = rt.hparams
    console.print(
        f"[bold]ttjax predict[/]: {rt.model.name} ({rt.model.weights}), "
        f"{rt.task.num_classes} classes × {rt.task.per_class} = {rt.task.num_examples} images "
        f"of {rt.task.source} at {rt.task.image_size}×{rt.task.image_size}, "
        f"{hp.optimizer.value} lr={hp.lr:g} m={hp.momentum:g} |B|={rt.config['batch_size']}, "
        f"T={hp.steps}, {hp.loss.value} loss; Θ: {ntk_config.method.value}, "
        f"{dyn.time.value} time, noise {dyn.noise_model.value}"
    )
    pred = predict_training_time(
        rt.model,
        rt.task,
        hp,
        eps=rt.eps,
        paths=args.paths,
        ntk_config=ntk_config,
        dynamics=dyn,
        criterion=Criterion(args.criterion),
        key=rt.key,
        progress=not args.no_progress,
        observe=args.observe,
        ntk_subset=args.ntk_subset,
        band=BAND_CALIBRATION if args.band == "calibrated" else None,
        **({} if args.path_budget is None else {"path_budget": args.path_budget}),
    )
    timing = {"load": load_s, **pred.timing_s}
    timing["total"] = time.perf_counter() - t0

    real_t: dict[str, int | None] = {}
    if reference is not None:
        ref_curve = reference["curves"].get(args.criterion)
        if ref_curve is not None:
            settled = reference["status"] is RunStatus.CONVERGED
            real_t = {
                text: int(epsilon_training_time(ref_curve, e)) if settled else None
                for text, e in zip(rt.eps_text, rt.eps, strict=True)
            }
    table = Table(title=f"predicted fine-tuning ({pred.trajectories.loss.shape[0]} paths)")
    table.add_column("ε")
    table.add_column(f"Tε on {args.criterion}: median [5%, 95%]", justify="right")
    table.add_column("mean", justify="right")
    table.add_column("wall-clock (median)", justify="right")
    if real_t:
        table.add_column("real Tε", justify="right")
        table.add_column("|T̂−T|/T", justify="right")
    for text, (e, s) in zip(rt.eps_text, pred.training_time.items(), strict=True):
        if pred.converged:
            wall = f"{pred.wall_clock_s[e]:.2f} s" if pred.wall_clock_s else "—"
            row = [text, f"{s.median:g}  [{s.q05:g}, {s.q95:g}]", f"{s.mean:.1f}", wall]
        else:
            row = [text, f"— ({pred.status.value})", "—", "—"]
        if real_t:
            t = real_t[text]
            if t is None:
                row += [f"— ({reference['status'].value})" if reference else "—", "—"]
            else:
                error = abs(s.median - t) / max(t, 1) if pred.converged else None
                row += [str(t), "—" if error is None else f"{error:.1%}"]
        table.add_row(*row)
    out = Console()
    out.print(table)
    c = pred.curves
    stats = Table(show_header=False, title="curves and stages")
    stats.add_column("quantity")
    stats.add_column("value", justify="right")
    stats.add_row("loss  L_0 → L_T (median)", f"{c['loss'][0]:.4f} → {c['loss'][-1]:.4f}")
    stats.add_row("error E_0 → E_T (median)", f"{c['error'][0]:.1%} → {c['error'][-1]:.1%}")
    tr = pred.trajectories
    stats.add_row("λ_max(Θ); largest stable lr", f"{tr.lambda_max:.4g}; {tr.max_stable_lr:.4g}")
    if pred.step_time_s is not None:
        stats.add_row("one real training step", f"{pred.step_time_s:.4f} s")
    lin = pred.linearity
    if "kernel_scale_observed" in lin:
        kappa = ", ".join(f"{v:.2f}" for v in lin["kernel_scale_observed"])
        stats.add_row("regime; tr Θ_k / tr Θ_0 (real steps)", f"{lin['regime']}; {kappa}")
    if "path_walk" in lin:
        walk = lin["path_walk"]
        points = ", ".join(
            f"{t}: {k:.2f}" for t, k in zip(walk["steps"], walk["kernel_scale"], strict=True)
        )
        stats.add_row(
            f"path walk: κ at steps (reached {walk['reached']}; {walk['passes']} full-set "
            f"passes ≈ {walk['step_equivalents']:.0f} training steps, {walk['seconds']:.1f} s)",
            points,
        )
    for stage, sec in timing.items():
        stats.add_row(f"time: {stage}", f"{sec:.2f} s")
    out.print(stats)
    if pred.warning:
        console.print(f"[yellow]warning:[/] {pred.warning}")
    if reference is not None:
        if reference["status"] is not RunStatus.CONVERGED:
            console.print(
                f"[yellow]warning:[/] the --compare run {reference['status'].what} (status "
                f"{reference['status'].value}): it has no real Tε to compare with.",
                soft_wrap=True,
            )

    if args.json:
        doc = pred.to_json_dict(rt.eps_text)
        payload = report_payload(
            config={**rt.config, **doc.pop("config"), "command": "predict"},
            curves=doc.pop("curves"),
            training_time=doc.pop("training_time"),
            wall_clock_estimate_s=doc.pop("wall_clock_estimate_s"),
            timing_s={**doc.pop("timing_s"), **timing},
            **doc,
        )
        console.print(f"wrote {write_json(args.json, payload)}")
    if args.plot:
        from ..plotting import plot_curves

        path = plot_curves(
            args.plot,
            curves={"loss": c["loss"], "error": c["error"]},
            bands={
                "loss": (c["loss_q05"], c["loss_q95"]),
                "error": (c["error_q05"], c["error_q95"]),
            },
            reference=reference["curves"] if reference else None,
            training_times={
                f"T̂(ε={t})": s.median
                for t, s in zip(rt.eps_text, pred.training_time.values(), strict=True)
                if pred.converged
            },
            title=f"{rt.model.name} on {rt.task.source} (N={rt.task.num_examples}), "
            f"{hp.optimizer.value} lr={hp.lr:g} m={hp.momentum:g}",
        )
        console.print(f"wrote {path}")
    return 0
