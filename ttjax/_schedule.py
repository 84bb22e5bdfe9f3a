"""Learning-rate schedules η_t = η · s(t), shared by the real run and the dynamics.

:class:`ttjax.Hyperparams` holds one (``schedule=``): ``finetune`` hands ``η · s(t)`` to optax
as its learning-rate schedule, and the dynamics step with ``η̃ · s(t)``. Update ``u`` uses the
factor ``s(u)`` (optax convention: the first update uses ``s(0)``); the continuous ODE uses
``s(t)`` at real time t, and the MSE closed form its integral ``S(t) = ∫_0^t s(u) du``.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, Float, Real

from ._errors import ConfigError
from ._fields import as_int, set_enum, set_float


class ScheduleKind(enum.Enum):
    """Shape of the learning-rate schedule (see :class:`Schedule`)."""

    CONSTANT = "constant"
    STEP = "step"
    COSINE = "cosine"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Schedule:
    """A learning-rate schedule factor s(t) (multiplies the base lr).

    * ``CONSTANT``: s(t) = 1.
    * ``STEP``: s(t) = γ^{#{milestones ≤ t}} (optax ``piecewise_constant_schedule``).
    * ``COSINE``: s(t) = α + (1 − α)·½(1 + cos(π min(t, T)/T)), T = total steps
      (optax ``cosine_decay_schedule(…, alpha=α)``).

    Attributes:
        kind: the schedule shape.
        milestones: steps at which a STEP schedule multiplies the lr by ``gamma``.
        gamma: the STEP factor.
        final_fraction: α, the COSINE floor.

    Example:
        >>> s = Schedule(kind=ScheduleKind.STEP, milestones=(2,), gamma=0.1)
        >>> [round(float(v), 3) for v in s.factor(jnp.arange(4.0), total_steps=4)]
        [1.0, 1.0, 0.1, 0.1]
    """

    kind: ScheduleKind = ScheduleKind.CONSTANT
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    final_fraction: float = 0.0

    def __post_init__(self) -> None:
        set_enum(self, "kind", ScheduleKind)
        try:
            milestones = tuple(as_int(m, name="a schedule milestone") for m in self.milestones)
        except TypeError:
            raise ConfigError(
                f"schedule milestones must be a tuple of steps, got {self.milestones!r}."
            ) from None
        object.__setattr__(self, "milestones", milestones)
        set_float(self, "gamma")
        set_float(self, "final_fraction")
        if tuple(sorted(self.milestones)) != tuple(self.milestones) or any(
            m < 0 for m in self.milestones
        ):
            raise ConfigError(
                f"schedule milestones must be increasing non-negative steps, got {self.milestones}."
            )
        if not (0.0 < self.gamma and math.isfinite(self.gamma)):
            raise ConfigError(f"schedule gamma must be > 0, got {self.gamma}.")
        if not 0.0 <= self.final_fraction <= 1.0:
            raise ConfigError(
                f"cosine final_fraction must be in [0, 1], got {self.final_fraction}."
            )

    def factor(self, t: Real[Array, "*T"], *, total_steps: int) -> Float[Array, "*T"]:
        """s(t), elementwise (an integer ``t`` is taken as float: the factor is fractional)."""
        t = _as_float(t)
        if self.kind is ScheduleKind.STEP:
            k = sum(((t >= m).astype(t.dtype) for m in self.milestones), jnp.zeros_like(t))
            return jnp.asarray(self.gamma, t.dtype) ** k
        if self.kind is ScheduleKind.COSINE:
            a = self.final_fraction
            tt = jnp.minimum(t, total_steps)
            return a + (1.0 - a) * 0.5 * (1.0 + jnp.cos(jnp.pi * tt / total_steps))
        return jnp.ones_like(t)

    def integral(self, t: Real[Array, "*T"], *, total_steps: int) -> Float[Array, "*T"]:
        """S(t) = ∫_0^t s(u) du, elementwise (t ≥ 0)."""
        t = _as_float(t)
        if self.kind is ScheduleKind.STEP:
            edges = (0, *self.milestones)
            out = jnp.zeros_like(t)
            for k, lo in enumerate(edges):
                hi = edges[k + 1] if k + 1 < len(edges) else math.inf
                out = out + self.gamma**k * jnp.clip(t - lo, 0.0, hi - lo)
            return out
        if self.kind is ScheduleKind.COSINE:
            a, big_t = self.final_fraction, float(total_steps)
            tt = jnp.minimum(t, big_t)
            cos_part = 0.5 * (tt + big_t / jnp.pi * jnp.sin(jnp.pi * tt / big_t))
            return a * t + (1.0 - a) * cos_part
        return t

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly dict."""
        return {
            "kind": self.kind.value,
            "milestones": list(self.milestones),
            "gamma": self.gamma,
            "final_fraction": self.final_fraction,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Schedule:
        """Inverse of :meth:`to_dict`.

        Example:
            >>> s = Schedule(kind=ScheduleKind.STEP, milestones=(2, 5), gamma=0.5)
            >>> Schedule.from_dict(s.to_dict()) == s
            True
        """
        return cls(
            kind=ScheduleKind(d["kind"]),
            milestones=tuple(int(m) for m in d["milestones"]),
            gamma=float(d["gamma"]),
            final_fraction=float(d["final_fraction"]),
        )


def _as_float(t: Any) -> Array:
    """``t`` as a floating array (integer steps → the default float dtype)."""
    t = jnp.asarray(t)
    return t if jnp.issubdtype(t.dtype, jnp.floating) else t.astype(float)
