"""Benchmark v2 (issue 10): pretrained backbones in their realistic regime, T = 150, split.

Backbones (all fine-tuned on Fashion-MNIST classes 5–9, a task none of them was trained on):

* ``resnet18@32``: the offline ResNet-18 stand-in, pretrained on Fashion-MNIST 0–4 at 32×32
  (``scripts/pretrain_resnet_fashion_mnist.py``; OFFLINE.md: no ImageNet ResNet weights offline);
* ``efficientnet_lite0@64`` and ``@96``: ImageNet weights, at the sizes where the backbone stays
  close to linear (at 32 px it does not: issue 10);
* ``small_cnn@28``: pretrained on Fashion-MNIST 0–4 (``scripts/pretrain_small_cnn.py``).

N ∈ {50, 150, 750} for ``small_cnn`` and ResNet-18, N = 50 for Lite0 (one 64 px step at N = 750
takes ~60 s on a 2-core CPU). Each task runs 8 hyper-parameter settings: GD at 0.1 / 0.3 / 0.6
of the stability edge η_max (``BenchmarkCase.lr_fraction``), GD + momentum 0.9, SGD at two batch
sizes, SGD + momentum 0.9 at two rates; T = 150 (the paper's), CE loss, ε the paper's. The
record of each case says whether the real run plateaued (``real_plateaued``) and which half of
the tune/held-out split it belongs to (:mod:`ttjax.benchmark._split`).
"""

from __future__ import annotations

from .._config import Hyperparams, Loss, Optimizer
from ._case import BenchmarkCase, LrRegime, TaskSpec
from ._pretrain import SMALL_CNN_FMNIST

RESNET18_FMNIST = "cache:resnet18_fmnist04.npz"
"""Weights name of the ResNet-18 stand-in (``scripts/pretrain_resnet_fashion_mnist.py``)."""

FMNIST_TARGET = (5, 6, 7, 8, 9)
V2_STEPS = 150
V2_PATHS = 32

V2_BACKBONES: dict[str, tuple[str, int]] = {
    "small_cnn@28": ("small_cnn", 28),
    "resnet18@32": ("resnet18", 32),
    "efficientnet_lite0@64": ("efficientnet_lite0", 64),
    "efficientnet_lite0@96": ("efficientnet_lite0", 96),
}
"""Backbone label → (model name, image size); the label is what summaries group by."""

_WEIGHTS = {
    "small_cnn": SMALL_CNN_FMNIST,
    "resnet18": RESNET18_FMNIST,
    "efficientnet_lite0": "imagenet",
}

# (backbone label, per_class, seed): N = 5 × per_class.
_TASKS: tuple[tuple[str, int, int], ...] = (
    ("small_cnn@28", 10, 0),
    ("small_cnn@28", 30, 1),
    ("small_cnn@28", 150, 2),
    ("resnet18@32", 10, 0),
    ("resnet18@32", 30, 1),
    ("resnet18@32", 150, 2),
    ("efficientnet_lite0@64", 10, 0),
    ("efficientnet_lite0@64", 10, 1),
    ("efficientnet_lite0@96", 10, 0),
    ("efficientnet_lite0@96", 10, 1),
)


def backbone_label(task: dict) -> str:
    """``"model@image_size"`` of a record's task dict (the summary's grouping).

    Example:
        >>> backbone_label({"model": "resnet18", "image_size": 32})
        'resnet18@32'
    """
    return f"{task['model']}@{task.get('image_size', '?')}"


def _hparams(n: int, loss: Loss) -> list[tuple[Hyperparams, float]]:
    """(hyper-parameters, lr_fraction) of one task; ``lr`` is resolved per case from η_max."""

    def hp(opt: Optimizer, frac: float, m: float = 0.0, b: int | None = None):
        return Hyperparams(
            optimizer=opt, lr=frac, momentum=m, batch_size=b, steps=V2_STEPS, loss=loss
        )

    small_b, big_b = max(2, n // 10), max(2, n // 5)
    return [
        (hp(Optimizer.GD, 0.1), 0.1),
        (hp(Optimizer.GD, 0.3), 0.3),
        (hp(Optimizer.GD, 0.6), 0.6),
        (hp(Optimizer.GD, 0.3, m=0.9), 0.3),
        (hp(Optimizer.SGD, 0.3, b=small_b), 0.3),
        (hp(Optimizer.SGD, 0.6, b=big_b), 0.6),
        (hp(Optimizer.SGD, 0.1, m=0.9, b=big_b), 0.1),
        (hp(Optimizer.SGD, 0.3, m=0.9, b=small_b), 0.3),
    ]


def v2_cases(*, loss: Loss, eps: tuple[float, ...]) -> tuple[BenchmarkCase, ...]:
    """The benchmark-v2 cases (80: 10 tasks × 8 settings), deterministic keys.

    Example:
        >>> from ttjax._config import Loss
        >>> from ttjax.benchmark import PAPER_EPS
        >>> len(v2_cases(loss=Loss.CE, eps=PAPER_EPS))
        80
    """
    cases = []
    for label, per_class, seed in _TASKS:
        model, size = V2_BACKBONES[label]
        task = TaskSpec(
            model=model,
            weights=_WEIGHTS[model],
            data="fashion_mnist",
            class_subset=FMNIST_TARGET,
            classes=5,
            per_class=per_class,
            image_size=size,
            seed=seed,
        )
        for hp, frac in _hparams(task.classes * per_class, loss):
            cases.append(
                BenchmarkCase(
                    task=task,
                    hparams=hp,
                    eps=eps,
                    paths=V2_PATHS,
                    lr_regime=LrRegime.HIGH if frac >= 0.5 else LrRegime.LOW,
                    ntk_method="auto",
                    lr_fraction=frac,
                )
            )
    return tuple(cases)
