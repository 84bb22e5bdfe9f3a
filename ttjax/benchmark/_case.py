"""One benchmark case: a task (model × data draw) and the hyper-parameters, with a stable key."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from typing import Any

from .._config import Hyperparams, Loss, Optimizer
from .._errors import ConfigError
from ..training_time import parse_eps

PAPER_EPS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.4)


class LrRegime(enum.Enum):
    """Tag used by Table 1: whether a case sits in the low- or the high-learning-rate regime.

    The paper's "low" lr is where the ODE assumptions hold (small η λ_max / N); "high" is close
    to the stability edge. The grid assigns the tag; :func:`summarize` groups by it.
    """

    LOW = "low"
    HIGH = "high"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A seeded draw of K classes × n images from a data source, for one model.

    Attributes:
        model: model name for :func:`ttjax.models.create_model` (``small_cnn``, ``tiny``, ...).
        weights: weights argument of ``create_model`` (None = random, ``imagenet``, a path, or
            ``cache:NAME`` for a file in the ttjax cache, see :func:`resolve_weights`).
        data: data source (``fashion_mnist``, ``digits``, ``sample``, ``npz:PATH`` ...).
        class_subset: restrict the source to these original labels before drawing (e.g. the
            Fashion-MNIST classes 5–9 that a model pretrained on 0–4 never saw); None = all.
        classes, per_class, image_size, seed: the draw (:func:`ttjax.data.sample_task`).
    """

    model: str
    weights: str | None
    data: str
    class_subset: tuple[int, ...] | None = None
    classes: int = 5
    per_class: int = 30
    image_size: int = 32
    seed: int = 0

    def label(self) -> str:
        """Short human-readable name, e.g. ``small_cnn/fashion_mnist[5-9] 5x30``."""
        sub = ""
        if self.class_subset:
            sub = f"[{min(self.class_subset)}-{max(self.class_subset)}]"
        return f"{self.model}/{self.data}{sub} {self.classes}x{self.per_class}"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["class_subset"] = None if self.class_subset is None else list(self.class_subset)
        return d


@dataclasses.dataclass(frozen=True, kw_only=True)
class BenchmarkCase:
    """One (task, hyper-parameters) case: predict, fine-tune, compare Tε for each ε.

    Attributes:
        task: the task draw.
        hparams: shared by the prediction and the real run.
        eps: thresholds ε (default: the paper's 0.01, 0.05, 0.1, 0.2, 0.4).
        paths: Monte-Carlo paths of the SGD prediction (GD uses one).
        lr_regime: Table 1 tag.
        ntk_method: how the prediction builds Θ (:class:`ttjax.ntk.NtkMethod` value).
            ``"kronecker"`` by default so that the keys of the older grids' result files stay
            valid; the v2 grid uses ``"auto"`` (the engine's default; the record's
            ``ntk_method_resolved`` says what it resolved to).
        lr_fraction: if set, the learning rate is ``lr_fraction × η_max`` with η_max the
            stability edge of the linearised model for this case's Θ, momentum and loss
            (``hparams.lr`` is then ignored; the resolved value is recorded). This is how a
            user sets "a safe high learning rate" and keeps regimes comparable across tasks
            and head draws (η_max of ``small_cnn`` on FMNIST 5–9 varies ×2 between heads).
    """

    task: TaskSpec
    hparams: Hyperparams
    eps: tuple[float, ...] = PAPER_EPS
    paths: int = 16
    lr_regime: LrRegime = LrRegime.LOW
    ntk_method: str = "kronecker"
    lr_fraction: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", parse_eps(self.eps))
        if self.paths < 1:
            raise ConfigError(f"paths must be ≥ 1, got {self.paths}.")
        if self.lr_fraction is not None and not 0 < self.lr_fraction < 1:
            raise ConfigError(f"lr_fraction must be in (0, 1), got {self.lr_fraction}.")
        from ..ntk import NtkMethod

        if self.ntk_method not in {m.value for m in NtkMethod}:
            raise ConfigError(
                f"ntk_method must be one of {[m.value for m in NtkMethod]}, "
                f"got {self.ntk_method!r}."
            )
        self.hparams.resolved_batch_size(self.task.classes * self.task.per_class)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly config (the thing that is hashed)."""
        return {
            "task": self.task.to_dict(),
            "hparams": self.hparams.to_dict(),
            "eps": list(self.eps),
            "paths": self.paths,
            "lr_regime": self.lr_regime.value,
            "ntk_method": self.ntk_method,
            "lr_fraction": self.lr_fraction,
        }

    @property
    def key(self) -> str:
        """Stable key: SHA-256 of the canonical JSON of :meth:`to_dict` (16 hex digits)."""
        return case_key(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchmarkCase:
        """Inverse of :meth:`to_dict` (for re-running a case read from a JSON-lines file)."""
        t = dict(d["task"])
        if t.get("class_subset") is not None:
            t["class_subset"] = tuple(t["class_subset"])
        h = dict(d["hparams"])
        hp = Hyperparams(
            optimizer=Optimizer(h["optimizer"]),
            lr=float(h["lr"]),
            momentum=float(h["momentum"]),
            batch_size=h["batch_size"],
            steps=int(h["steps"]),
            loss=Loss(h["loss"]),
        )
        return cls(
            task=TaskSpec(**t),
            hparams=hp,
            eps=tuple(d["eps"]),
            paths=int(d["paths"]),
            lr_regime=LrRegime(d["lr_regime"]),
            ntk_method=str(d.get("ntk_method", "trace")),  # files before it was recorded
            lr_fraction=d.get("lr_fraction"),
        )


def case_key(config: dict[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of ``json.dumps(config, sort_keys=True)``.

    Example:
        >>> case_key({"a": 1, "b": [1, 2]}) == case_key({"b": [1, 2], "a": 1})
        True
    """
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
