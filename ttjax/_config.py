"""Hyper-parameters of a fine-tuning run, shared by ``predict`` and ``finetune``.

Both the prediction and the real run read the *same* :class:`Hyperparams`, so that
the two are always run on the same problem.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

from jaxtyping import Array, Float, Real

from ._errors import ConfigError
from ._fields import set_enum, set_float, set_int
from ._schedule import Schedule, ScheduleKind


class Optimizer(enum.Enum):
    """Which optimiser is fine-tuned / predicted.

    * ``GD``: full-batch gradient descent (batch = the whole training set).
    * ``SGD``: mini-batch SGD. Each step draws ``batch_size`` *distinct* examples
      uniformly at random (without replacement within the step, independently
      across steps), so gradient noise vanishes exactly when ``batch_size == N``.
    """

    GD = "gd"
    SGD = "sgd"


class Loss(enum.Enum):
    """Training loss; both are averaged over the examples of the batch/set.

    * ``CE``: softmax cross-entropy, ``ℓ(f, y) = logsumexp(f) − f_y``.
    * ``MSE``: ``ℓ(f, y) = ½ ‖f − e_y‖²`` with one-hot targets ``e_y``.
    """

    CE = "ce"
    MSE = "mse"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Hyperparams:
    """Fine-tuning hyper-parameters (immutable).

    Attributes:
        optimizer: GD or SGD (see :class:`Optimizer` for the sampling assumed).
        lr: learning rate η (> 0).
        momentum: heavy-ball momentum m in [0, 1) (optax ``sgd(momentum=m)``:
            ``a ← m a + g``, ``w ← w − η a``). Predictions simulate it exactly by default
            (``MomentumMode.EXACT``); the paper's ``η / (1 − m)`` rule is
            ``MomentumMode.EFFECTIVE_LR`` (:attr:`effective_lr`).
        batch_size: |B|; ignored (set to N) for GD.
        steps: T, number of optimisation steps (≥ 1).
        loss: CE or MSE (mean over examples).
        schedule: the learning-rate schedule s(t), η_t = η · s(t) at update t = 0 … T − 1
            (:class:`ttjax.Schedule`, default constant). ``finetune`` applies it through optax
            and the dynamics read it from here (:meth:`learning_rate`).

    Example:
        >>> hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.01, momentum=0.9, batch_size=32)
        >>> round(hp.effective_lr, 6)
        0.1
    """

    optimizer: Optimizer = Optimizer.GD
    lr: float = 0.01
    momentum: float = 0.0
    batch_size: int | None = None
    steps: int = 150
    loss: Loss = Loss.CE
    schedule: Schedule = dataclasses.field(default_factory=Schedule)

    def __post_init__(self) -> None:
        set_enum(self, "optimizer", Optimizer)
        set_enum(self, "loss", Loss)
        set_int(self, "steps")
        set_int(self, "batch_size")
        if not isinstance(self.schedule, Schedule):
            raise ConfigError(f"schedule must be a ttjax.Schedule, got {self.schedule!r}.")
        for name in ("lr", "momentum"):
            set_float(self, name)
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"learning rate must be a positive finite number, got lr={self.lr}.")
        if not (0.0 <= self.momentum < 1.0):
            raise ConfigError(
                f"momentum must be in [0, 1), got {self.momentum}; use e.g. --momentum 0.9."
            )
        if self.steps < 1:
            raise ConfigError(f"steps must be ≥ 1, got {self.steps}.")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch size must be ≥ 1, got {self.batch_size}.")
        if self.optimizer is Optimizer.SGD and self.batch_size is None:
            raise ConfigError("SGD needs a batch size: pass batch_size=B (--batch-size B).")

    @property
    def effective_lr(self) -> float:
        """Effective learning rate η̃ = η / (1 − m) (paper §3.1, supplementary E)."""
        return self.lr / (1.0 - self.momentum)

    @property
    def scheduled(self) -> bool:
        """Whether the learning rate changes over the run (a non-constant :attr:`schedule`)."""
        return self.schedule.kind is not ScheduleKind.CONSTANT

    def learning_rate(self, t: Real[Array, "*T"]) -> Float[Array, "*T"]:
        """η_t = η · s(t), the learning rate of update t (optax convention: the first is t = 0).

        The one definition both sides use: ``finetune`` passes it to optax as the schedule, the
        dynamics step with ``η̃ · s(t)`` (:class:`ttjax.dynamics.DynamicsConfig`).

        Example:
            >>> import jax.numpy as jnp
            >>> hp = Hyperparams(lr=0.1, steps=4, schedule=Schedule(
            ...     kind=ScheduleKind.STEP, milestones=(2,), gamma=0.5))
            >>> [round(float(v), 3) for v in hp.learning_rate(jnp.arange(4.0))]
            [0.1, 0.1, 0.05, 0.05]
        """
        return self.lr * self.schedule.factor(t, total_steps=self.steps)

    def resolved_batch_size(self, n: int) -> int:
        """The batch size actually used on a training set of ``n`` examples.

        Raises:
            ConfigError: if an SGD batch is larger than the training set.
        """
        if self.optimizer is Optimizer.GD or self.batch_size is None:
            return n
        if self.batch_size > n:
            raise ConfigError(
                f"batch size {self.batch_size} is larger than the training set (N={n}); "
                f"use --batch-size ≤ {n} or --optimizer gd."
            )
        return self.batch_size

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict (enums as their string values)."""
        return {
            "optimizer": self.optimizer.value,
            "lr": self.lr,
            "momentum": self.momentum,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "loss": self.loss.value,
            # only a scheduled run carries the key: the documents (and benchmark keys) of
            # constant-lr runs are those written before schedules existed
            **({"schedule": self.schedule.to_dict()} if self.scheduled else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Hyperparams:
        """Inverse of :meth:`to_dict` (a missing ``schedule`` is the constant one).

        Example:
            >>> hp = Hyperparams(lr=0.1, steps=8, schedule=Schedule(kind=ScheduleKind.COSINE))
            >>> Hyperparams.from_dict(hp.to_dict()) == hp
            True
        """
        batch, schedule = d["batch_size"], d.get("schedule")
        return cls(
            optimizer=Optimizer(d["optimizer"]),
            lr=float(d["lr"]),
            momentum=float(d["momentum"]),
            batch_size=None if batch is None else int(batch),
            steps=int(d["steps"]),
            loss=Loss(d["loss"]),
            schedule=Schedule() if schedule is None else Schedule.from_dict(schedule),
        )
