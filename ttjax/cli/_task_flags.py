"""The task flags shared by ``ttjax predict`` and ``ttjax finetune`` (ARCHITECTURE.md, CLI).

Defaults run the embedded example with no flags: EfficientNet-Lite0 with its real ImageNet
weights (the only ones that ship offline), fine-tuned on the embedded ``sample`` task
(5 Fashion-MNIST classes × 40 images) at 64×64 with full-batch GD, lr 5e-4, 150 steps.

Why 64×64 (``scripts/bench_linearity.py``, README "When the prediction holds"): at 32×32
the pretrained backbone is far from its linearisation — tr Θ grows 2–4× within the first
four real steps at 0.3 of the stability limit and ≈ 20× over a run, and the runs spike —
while at 64×64 it stays within ≈ 20% (κ 0.8 → 1.2 over 100 steps), the regime real users
fine-tune in and the one where the prediction holds. lr 5e-4 is ≈ 0.3 of the linearised
model's stability limit there (≈ 1.5e-3 … 1.8e-3 for N = 60 … 750). N = 200 keeps the no-flag
prediction to a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import jax

from .._config import Hyperparams, Loss, Optimizer
from .._errors import ConfigError
from .._schedule import Schedule, ScheduleKind
from .._types import PRNGKey
from ..data import Task
from ..models import Model
from ..training_time import parse_eps

DEFAULTS: dict[str, Any] = {
    "model": "efficientnet_lite0",
    "weights": "imagenet",
    "data": "sample",
    "classes": 5,
    "per_class": 40,
    "image_size": 64,
    "seed": 0,
    "optimizer": "gd",
    "lr": 5e-4,
    "momentum": 0.0,
    "batch_size": None,
    "steps": 150,
    "loss": "ce",
    "eps": "0.01,0.1,0.4",
}


def add_task_flags(parser: argparse.ArgumentParser) -> None:
    """Add the shared task flags (model, data, hyper-parameters, ε, outputs) to ``parser``."""
    g = parser.add_argument_group("model and data")
    g.add_argument("--model", default=DEFAULTS["model"],
                   help="network: tiny, small_cnn, resnet18, resnet34, resnet18_cifar, "
                   "resnet34_cifar, efficientnet_lite0 (default: %(default)s)")  # fmt: skip
    g.add_argument("--weights", default=DEFAULTS["weights"],
                   help="imagenet, none (random init) or a checkpoint PATH "
                   "(default: %(default)s)")  # fmt: skip
    g.add_argument("--data", default=DEFAULTS["data"],
                   help="sample, fashion_mnist, digits, npz:PATH, folder:PATH or "
                   "tfds:NAME[:SPLIT] (default: %(default)s)")  # fmt: skip
    g.add_argument("--classes", type=int, default=None,
                   help=f"K random classes of the source (default: {DEFAULTS['classes']}, or "
                   "every class when the data has fewer)")  # fmt: skip
    g.add_argument("--per-class", type=int, default=None,
                   help=f"n training images per class, N = K·n (default: {DEFAULTS['per_class']}, "
                   "or the smallest chosen class's count when it has fewer)")  # fmt: skip
    g.add_argument("--image-size", type=int, default=DEFAULTS["image_size"],
                   help="square input size S (default: %(default)s)")  # fmt: skip
    g.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="seeds the class/image draw, the head init and SGD batches "
                   "(default: %(default)s)")  # fmt: skip
    h = parser.add_argument_group("optimisation")
    h.add_argument("--optimizer", choices=[o.value for o in Optimizer],
                   default=DEFAULTS["optimizer"],
                   help="gd = full batch, sgd = mini-batches (default: %(default)s)")  # fmt: skip
    h.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                   help="learning rate η (default: %(default)s)")  # fmt: skip
    h.add_argument("--momentum", type=float, default=DEFAULTS["momentum"],
                   help="heavy-ball momentum m in [0, 1) (default: %(default)s)")  # fmt: skip
    h.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                   help="|B| for sgd: distinct examples drawn per step (gd: N)")  # fmt: skip
    h.add_argument("--steps", type=int, default=DEFAULTS["steps"],
                   help="T, optimisation steps (default: %(default)s)")  # fmt: skip
    h.add_argument("--loss", choices=[lo.value for lo in Loss], default=DEFAULTS["loss"],
                   help="ce (cross-entropy) or mse (default: %(default)s)")  # fmt: skip
    h.add_argument("--lr-schedule", default="constant", metavar="SCHEDULE",
                   help="η_t = η·s(t): constant, step:M1,M2[:GAMMA] (× GAMMA, default 0.1, at "
                   "each milestone step) or cosine[:ALPHA] (decay to ALPHA·η at T) "
                   "(default: %(default)s)")  # fmt: skip
    o = parser.add_argument_group("outputs")
    o.add_argument("--eps", default=DEFAULTS["eps"],
                   help="ε list for Tε = min{t : L_t − L_T ≤ ε (L_0 − L_T)} "
                   "(default: %(default)s)")  # fmt: skip
    o.add_argument("--json", metavar="PATH", default=None, help="write the results as JSON")
    o.add_argument("--plot", metavar="PATH", default=None, help="write the curves as a PNG")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ResolvedTask:
    """Everything the flags resolve to (immutable).

    Attributes:
        model: the :class:`ttjax.models.Model` (fresh head from ``seed``).
        task: the sampled :class:`ttjax.data.Task`.
        hparams: the :class:`Hyperparams`.
        eps: the ε values, in the order given.
        eps_text: each ε as the user wrote it (the JSON keys).
        seed: the seed; ``key``: the PRNG key for the run itself (SGD batches / Monte Carlo),
            independent of the one that initialised the head.
        config: JSON-friendly dict of every resolved flag (for ``--json``).
    """

    model: Model
    task: Task
    hparams: Hyperparams
    eps: tuple[float, ...]
    eps_text: tuple[str, ...]
    seed: int
    key: PRNGKey
    config: dict[str, Any]


MAX_SEED = 2**63 - 1
"""Largest ``--seed``: ``jax.random.key`` takes a signed 64-bit integer."""


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ConfigError(f"--{name} must be a positive integer, got {value}.")


def check_seed(seed: int) -> int:
    """Raise :class:`ConfigError` unless 0 ≤ ``seed`` ≤ 2⁶³ − 1 (a valid PRNG seed)."""
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(
            f"--seed must be an integer in [0, 2^63 − 1], got {seed}; use e.g. --seed 0."
        )
    return seed


def check_benchmark_flags(args: argparse.Namespace) -> None:
    """``ttjax benchmark``: ``--seed`` in range, ``--out`` a file (not a folder) that can be
    read (``--summary-only``) or appended to, ``--summary-json`` writable."""
    from pathlib import Path

    from .._files import check_output_path

    check_seed(int(args.seed))
    out = Path(args.out)
    reuse = getattr(args, "reuse_real", None)
    if reuse is not None and not Path(reuse).is_file():
        raise ConfigError(
            f"--reuse-real {reuse} is not a file of benchmark records; point it at the .jsonl "
            "of an earlier run (its ok cases' real runs are reused)."
        )
    if args.summary_only and not out.is_file():
        raise ConfigError(
            f"--out {out} is not a file of benchmark records; run `ttjax benchmark --out "
            f"{out}` first, or point --out at an existing .jsonl file."
        )
    check_output_path(out, what="--out")
    if args.summary_json:
        check_output_path(args.summary_json, what="--summary-json")
        if Path(args.summary_json).resolve() == out.resolve():
            raise ConfigError(
                f"--summary-json {args.summary_json} is the --out records file: the summary "
                "would replace the records; give another path, e.g. summary.json."
            )


def parse_schedule(text: str) -> Schedule:
    """``--lr-schedule``: ``constant``, ``step:M1,M2[:GAMMA]`` or ``cosine[:ALPHA]``.

    Example:
        >>> parse_schedule("step:50,100:0.5").to_dict()["milestones"]
        [50, 100]
    """
    kind, _, rest = str(text).strip().partition(":")
    usage = "use constant, step:M1,M2[:GAMMA] or cosine[:ALPHA], e.g. --lr-schedule step:50,100"
    try:  # Schedule's own checks (milestones increasing, γ > 0, α in [0, 1]) say what is wrong
        if kind == ScheduleKind.CONSTANT.value and not rest:
            return Schedule()
        if kind == ScheduleKind.STEP.value and rest:
            steps, _, gamma = rest.partition(":")
            milestones = tuple(int(m) for m in steps.split(",") if m.strip())
            return Schedule(kind=ScheduleKind.STEP, milestones=milestones,
                            gamma=float(gamma) if gamma else 0.1)  # fmt: skip
        if kind == ScheduleKind.COSINE.value:
            return Schedule(kind=ScheduleKind.COSINE, final_fraction=float(rest) if rest else 0.0)
    except ConfigError as err:
        raise ConfigError(f"--lr-schedule {text!r}: {err} ({usage}).") from None
    except ValueError:
        pass
    raise ConfigError(f"--lr-schedule {text!r} is not a schedule; {usage}.")


def _check_milestones(hparams: Hyperparams) -> None:
    """A step milestone at or past T never changes the rate (updates are t = 0 … T − 1)."""
    late = [m for m in hparams.schedule.milestones if m >= hparams.steps]
    if hparams.schedule.kind is ScheduleKind.STEP and late:
        raise ConfigError(
            f"--lr-schedule milestone(s) {late} are at or past T = {hparams.steps} (--steps): "
            "the learning rate would never change there; give milestones below T."
        )


def check_output_flags(args: argparse.Namespace) -> None:
    """Raise :class:`ConfigError` now, before any computation, if ``--json``/``--plot``
    cannot be written (a folder, a parent that is a file, an unwritable place)."""
    from .._files import check_output_path
    from ..plotting import check_plot_path

    if getattr(args, "json", None):
        check_output_path(args.json, what="--json")
    if getattr(args, "plot", None):
        check_plot_path(args.plot, what="--plot")


def _check_gd_batch(hparams: Hyperparams, batch_size: int | None, n: int) -> None:
    if hparams.optimizer is Optimizer.GD and batch_size is not None and batch_size != n:
        raise ConfigError(
            f"--batch-size {batch_size} with --optimizer gd: GD uses the full set "
            f"(N = {n}); drop --batch-size or use --optimizer sgd."
        )


def resolve_task(args: argparse.Namespace) -> ResolvedTask:
    """Validate the flags, load and sample the data, build the model.

    The seed is used three ways: ``numpy.random.default_rng(seed)`` draws the classes and
    images; ``jax.random.key(seed)`` is split once into the head-initialisation key and the
    run key (``ResolvedTask.key``).

    Bad flags and unwritable ``--json``/``--plot`` paths are rejected first, before any data
    is loaded or anything is computed.

    Raises:
        ConfigError: bad flag values (each message says which flag and what to use).
        DataError, WeightsError: from the data and weights loaders.
    """
    from ..data import load_task
    from ..models import create_model

    check_output_flags(args)
    # --classes / --per-class not given: the defaults, capped by what the data holds
    fit_classes, fit_per_class = args.classes is None, args.per_class is None
    classes = DEFAULTS["classes"] if args.classes is None else int(args.classes)
    per_class = DEFAULTS["per_class"] if args.per_class is None else int(args.per_class)
    sizes = {"classes": classes, "per-class": per_class,
             "image-size": int(args.image_size), "steps": int(args.steps)}  # fmt: skip
    for name, value in sizes.items():
        _check_positive(name, value)
    if classes < 2:
        raise ConfigError(
            f"--classes {classes}: a classification task needs at least 2 classes "
            "(with one, every label is the same and there is nothing to learn); "
            "use --classes 2 or more."
        )
    check_seed(int(args.seed))
    eps_text = tuple(e.strip() for e in str(args.eps).split(",") if e.strip())
    eps = parse_eps(args.eps)
    hparams = Hyperparams(
        optimizer=Optimizer(args.optimizer),
        lr=float(args.lr),
        momentum=float(args.momentum),
        batch_size=args.batch_size,
        steps=int(args.steps),
        loss=Loss(args.loss),
        schedule=parse_schedule(getattr(args, "lr_schedule", "constant")),
    )
    _check_milestones(hparams)
    weights = None if str(args.weights).lower() in ("none", "random") else args.weights
    fitted = fit_classes or fit_per_class  # N is known only once the data is drawn
    if not fitted:  # check before loading anything
        _check_gd_batch(hparams, args.batch_size, classes * per_class)
    task = load_task(args.data, classes=classes, per_class=per_class,
                     image_size=args.image_size, seed=args.seed, fit_classes=fit_classes,
                     fit_per_class=fit_per_class)  # fmt: skip
    if fitted:
        _check_gd_batch(hparams, args.batch_size, task.num_examples)
    batch = hparams.resolved_batch_size(task.num_examples)
    model_key, run_key = jax.random.split(jax.random.key(args.seed))
    model = create_model(args.model, num_classes=task.num_classes, image_size=args.image_size,
                         weights=weights, key=model_key)  # fmt: skip
    config: dict[str, Any] = {
        "model": args.model,
        "weights": model.weights,
        "data": task.source,
        "classes": task.num_classes,
        "class_ids": task.class_ids.tolist(),
        "per_class": task.per_class,
        "num_examples": task.num_examples,
        "image_size": args.image_size,
        "seed": args.seed,
        **hparams.to_dict(),
        "batch_size": batch,
        "effective_lr": hparams.effective_lr,
        "eps": list(eps),
    }
    return ResolvedTask(model=model, task=task, hparams=hparams, eps=eps, eps_text=eps_text,
                        seed=args.seed, key=run_key, config=config)  # fmt: skip
