"""The ε-training-time Tε — the ONE definition used by predictions and real runs.

Paper §5 ("normalised threshold"): fix the budget of T steps and measure the first
step at which the loss is within ε of its final value, relative to the total
decrease:

.. math::

    T_\\varepsilon = \\min\\{\\, t \\le T : L_t - L_T \\le \\varepsilon\\,(L_0 - L_T) \\,\\},

where step 0 is the pretrained model before any update, so a curve has T + 1
points. If the curve did not decrease (``L_0 ≤ L_T``) the condition already holds
at t = 0 and Tε = 0. The same function is applied to error curves.
"""

from __future__ import annotations

import dataclasses
import enum
import numbers
from collections.abc import Sequence

import numpy as np
from jaxtyping import Float, Int

from ._errors import DataError


def epsilon_training_time(
    curve: Float[np.ndarray, "*paths T1"], eps: float
) -> Int[np.ndarray, "*paths"]:
    """Tε of one curve (or of a batch of curves along the last axis).

    Args:
        curve: loss (or error) values L_0 … L_T, last axis is time.
        eps: the normalised threshold ε in (0, 1].

    Returns:
        The step index Tε (an integer array with the batch shape of ``curve``).

    Raises:
        DataError: if the curve holds NaN/inf or is shorter than 2 points.

    Example:
        >>> int(epsilon_training_time(np.array([1.0, 0.5, 0.2, 0.1, 0.0]), 0.1))
        3
        >>> epsilon_training_time(np.array([[4.0, 1.0, 0.0], [1.0, 1.0, 1.0]]), 0.5).tolist()
        [1, 0]
    """
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise DataError(f"ε must be one number in (0, 1], got {eps!r}; call once per ε.") from None
    if not 0.0 < eps <= 1.0:
        raise DataError(f"ε must be in (0, 1], got {eps}; pass e.g. --eps 0.01,0.1,0.4.")
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim == 0 or c.shape[-1] < 2:
        raise DataError(f"a training curve needs at least 2 points (L_0 … L_T), got {c.shape}.")
    if not np.all(np.isfinite(c)):
        raise DataError(
            "the training curve contains NaN or inf: the run diverged. "
            "Lower the learning rate (--lr) and try again."
        )
    final = c[..., -1:]
    threshold = eps * (c[..., :1] - final)
    hit = (c - final) <= threshold
    # The last point always satisfies the condition when L_0 ≥ L_T (0 ≤ ε·(L_0−L_T));
    # when L_0 < L_T the first point does. So argmax always finds a hit.
    # np.asarray: argmax of a 1-D curve is a numpy scalar; the contract is an array (0-d here).
    return np.asarray(np.argmax(hit, axis=-1), dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class TrainingTimeStats:
    """Distribution of Tε over Monte-Carlo paths (steps).

    Attributes:
        median, mean, q05, q95: statistics over paths; q05/q95 are the 5% and 95% quantiles.
    """

    median: float
    mean: float
    q05: float
    q95: float

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def training_time_stats(samples: Sequence[float] | np.ndarray) -> TrainingTimeStats:
    """Summarise Tε samples (one per path) into median, mean and a 5–95% interval.

    Example:
        >>> training_time_stats(np.arange(101)).median
        50.0
    """
    s = np.asarray(samples, dtype=np.float64).ravel()
    if s.size == 0:
        raise DataError("no training-time samples to summarise (M = 0 paths).")
    if not np.all(np.isfinite(s)):
        raise DataError("the training-time samples contain NaN or inf; pass finite step counts.")
    q05, med, q95 = np.quantile(s, [0.05, 0.5, 0.95])
    return TrainingTimeStats(
        median=float(med), mean=float(s.mean()), q05=float(q05), q95=float(q95)
    )


def parse_eps(text: str | Sequence[float]) -> tuple[float, ...]:
    """Parse ``"0.01,0.1,0.4"`` (or a sequence, or one number) into a tuple of ε, each in (0, 1].

    Example:
        >>> parse_eps("0.01,0.1,0.4"), parse_eps(0.1)
        ((0.01, 0.1, 0.4), (0.1,))
    """
    if isinstance(text, str):
        try:
            values = tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise DataError(
                f"could not parse ε list {text!r}; use e.g. --eps 0.01,0.1,0.4."
            ) from None
    elif isinstance(text, numbers.Real):
        values = (float(text),)
    else:
        try:
            values = tuple(float(v) for v in np.ravel(np.asarray(text, dtype=object)))
        except (TypeError, ValueError):
            raise DataError(f"ε must be numbers in (0, 1], got {text!r}.") from None
    if not values:
        raise DataError("no ε given; use e.g. --eps 0.01,0.1,0.4.")
    for v in values:
        if not 0.0 < v <= 1.0:
            raise DataError(f"ε must be in (0, 1], got {v}; use e.g. --eps 0.01,0.1,0.4.")
    return values


def eps_key(eps: float) -> str:
    """The JSON key of an ε: its shortest decimal form (``0.1`` → ``"0.1"``)."""
    return repr(float(eps))


class Criterion(enum.Enum):
    """Which curve Tε is read from: the training loss or the training error."""

    LOSS = "loss"
    ERROR = "error"
