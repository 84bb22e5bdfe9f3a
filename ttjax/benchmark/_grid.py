"""The benchmark grids: tasks × hyper-parameters, as tuples of :class:`BenchmarkCase`.

Offline tasks (OFFLINE.md): Fashion-MNIST classes 5–9, scikit-learn digits and the embedded
``sample`` task for ``small_cnn`` pretrained on Fashion-MNIST classes 0–4 (the fast model), and
Fashion-MNIST 5–9 for EfficientNet-Lite0 with its ImageNet weights at 32×32.

Learning rates of the ``SMALL`` and ``DEFAULT`` grids are fractions of the stability edge of
the linearised model, ``η_max = 2 / λ_max(Θ H)`` (momentum-aware), resolved per case from its
own Θ (``BenchmarkCase.lr_fraction``): "low" = 0.2 η_max (the ODE regime), "high" = 0.6 η_max
(discrete-step effects matter; Table 1's "high"). Absolute rates drifted out of the stable
range between head draws: for ``small_cnn`` on FMNIST 5–9, N = 100, η_max measured 0.019–0.032
over fresh heads. The ``TINY`` grid keeps absolute rates. A case that still fails is recorded
(``status: "failed"``) by :func:`run_benchmark`, not silently skipped.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools

from .._config import Hyperparams, Loss, Optimizer
from ._case import PAPER_EPS, BenchmarkCase, LrRegime, TaskSpec
from ._grid_v2 import v2_cases
from ._pretrain import SMALL_CNN_FMNIST


class GridPreset(enum.Enum):
    """Which grid :func:`benchmark_grid` builds.

    * ``TINY``: the ``tiny`` random CNN on the ``sample`` task, 8×8, T = 6 (tests; seconds).
    * ``SMALL``: 8 ``small_cnn`` cases, N = 50, T = 40 (figure scripts' ``--small``; ~1 min).
    * ``DEFAULT``: 64 cases: ``small_cnn`` pretrained on FMNIST 0–4 (FMNIST 5–9 × 4 draws,
      ``sample``, digits × 2), EfficientNet-Lite0 ImageNet at 32×32 (FMNIST 5–9); GD and
      SGD; two lr regimes, batch sizes, momenta; T = 60. About an hour on 2 CPU cores.
    * ``V2``: 80 cases on ResNet-18 (offline stand-in), EfficientNet-Lite0 at 64/96 px and
      ``small_cnn``; T = 150; N 50–750; tune/held-out split (:mod:`ttjax.benchmark._grid_v2`).
    """

    TINY = "tiny"
    SMALL = "small"
    DEFAULT = "default"
    V2 = "v2"


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ModelLrs:
    low: float
    high: float


# η for small_cnn / efficientnet at the image sizes used here (see module docstring).
_LRS = {
    "small_cnn": _ModelLrs(low=0.01, high=0.025),
    "efficientnet_lite0": _ModelLrs(low=0.01, high=0.04),
    "tiny": _ModelLrs(low=0.5, high=2.0),
}
FMNIST_TARGET = (5, 6, 7, 8, 9)


_RELATIVE = _ModelLrs(low=0.2, high=0.6)
"""Fractions of the stability edge η_max (``BenchmarkCase.lr_fraction``) of the default grid."""


def _hparams_grid(
    lrs: _ModelLrs, *, n: int, steps: int, loss: Loss, relative: bool
) -> list[tuple[Hyperparams, LrRegime]]:
    """GD at low/high lr, GD+momentum at low lr, SGD at 2 batch sizes × low/high, SGD+momentum.

    Absolute lrs: momentum 0.9 runs at low/10 (the same effective lr η/(1−m)). Relative lrs
    (fractions of η_max, whose momentum-aware edge already carries the 1 − m): at low.
    """
    m_lr = lrs.low if relative else lrs.low / 10
    small_b, big_b = max(2, n // 10), max(2, n // 2)
    out: list[tuple[Hyperparams, LrRegime]] = []
    for regime, lr in ((LrRegime.LOW, lrs.low), (LrRegime.HIGH, lrs.high)):
        out.append((Hyperparams(optimizer=Optimizer.GD, lr=lr, steps=steps, loss=loss), regime))
    out.append(
        (
            Hyperparams(optimizer=Optimizer.GD, lr=m_lr, momentum=0.9, steps=steps, loss=loss),
            LrRegime.LOW,
        )
    )
    for b, (regime, lr) in itertools.product(
        (small_b, big_b), ((LrRegime.LOW, lrs.low), (LrRegime.HIGH, lrs.high))
    ):
        hp = Hyperparams(optimizer=Optimizer.SGD, lr=lr, batch_size=b, steps=steps, loss=loss)
        out.append((hp, regime))
    out.append(
        (
            Hyperparams(
                optimizer=Optimizer.SGD,
                lr=m_lr,
                momentum=0.9,
                batch_size=max(2, n // 4),
                steps=steps,
                loss=loss,
            ),
            LrRegime.LOW,
        )
    )
    return out


def _cases(
    tasks: list[TaskSpec],
    *,
    steps: int,
    paths: int,
    loss: Loss,
    eps: tuple[float, ...],
    relative: bool = True,
) -> list[BenchmarkCase]:
    cases = []
    for task in tasks:
        n = task.classes * task.per_class
        lrs = _RELATIVE if relative else _LRS[task.model]
        for hp, regime in _hparams_grid(lrs, n=n, steps=steps, loss=loss, relative=relative):
            case = BenchmarkCase(
                task=task,
                hparams=hp,
                eps=eps,
                paths=paths,
                lr_regime=regime,
                lr_fraction=hp.lr if relative else None,
            )
            cases.append(case)
    return cases


def benchmark_grid(
    *, preset: GridPreset, loss: Loss = Loss.CE, eps: tuple[float, ...] = PAPER_EPS
) -> tuple[BenchmarkCase, ...]:
    """The cases of a preset (deterministic; keys are stable across machines).

    Example:
        >>> len(benchmark_grid(preset=GridPreset.TINY))
        4
    """
    if preset is GridPreset.V2:
        return v2_cases(loss=loss, eps=eps)
    if preset is GridPreset.TINY:
        task = TaskSpec(
            model="tiny", weights=None, data="sample", classes=2, per_class=4, image_size=8, seed=0
        )
        hps = [
            (Hyperparams(optimizer=Optimizer.GD, lr=0.5, steps=6, loss=loss), LrRegime.LOW),
            (Hyperparams(optimizer=Optimizer.GD, lr=1.0, steps=6, loss=loss), LrRegime.HIGH),
            (
                Hyperparams(optimizer=Optimizer.SGD, lr=0.5, batch_size=4, steps=6, loss=loss),
                LrRegime.LOW,
            ),
            (
                Hyperparams(
                    optimizer=Optimizer.SGD, lr=0.1, momentum=0.5, batch_size=2, steps=6, loss=loss
                ),
                LrRegime.LOW,
            ),
        ]
        return tuple(
            BenchmarkCase(task=task, hparams=hp, eps=eps, paths=4, lr_regime=r) for hp, r in hps
        )
    fmnist = dict(data="fashion_mnist", class_subset=FMNIST_TARGET, classes=5)
    small_cnn = dict(model="small_cnn", weights=SMALL_CNN_FMNIST, image_size=28)
    if preset is GridPreset.SMALL:
        task = TaskSpec(**small_cnn, **fmnist, per_class=10, seed=0)  # pyright: ignore[reportArgumentType]
        cases = _cases([task], steps=40, paths=8, loss=loss, eps=eps)
        return tuple(cases[:8])
    effnet = dict(model="efficientnet_lite0", weights="imagenet", image_size=32)
    tasks = [
        TaskSpec(**small_cnn, **fmnist, per_class=pc, seed=s)  # pyright: ignore[reportArgumentType]
        for pc, s in ((20, 0), (20, 1), (20, 2), (30, 3))
    ]
    tasks.append(TaskSpec(**small_cnn, data="sample", classes=5, per_class=20, seed=0))  # pyright: ignore[reportArgumentType]
    tasks.append(TaskSpec(**small_cnn, data="digits", classes=5, per_class=20, seed=0))  # pyright: ignore[reportArgumentType]
    tasks.append(TaskSpec(**small_cnn, data="digits", classes=5, per_class=30, seed=1))  # pyright: ignore[reportArgumentType]
    tasks.append(TaskSpec(**effnet, **fmnist, per_class=10, seed=0))  # pyright: ignore[reportArgumentType]
    return tuple(_cases(tasks, steps=60, paths=16, loss=loss, eps=eps))
