"""Did a training run converge? The ONE divergence rule, shared by real runs, predictions and
benchmarks.

Tε (:func:`ttjax.epsilon_training_time`) measures how fast a loss curve *settles* on its final
value L_T; it is only meaningful for a run that decreased and ended near its lowest point. A run
that blew up and oscillates at 1e5–1e10 without ever reaching NaN would otherwise get Tε = 0
("already settled at step 0"), and one that went down and then climbed most of the way back (an
unstable learning rate) would get Tε of a step or two. This module classifies a curve first, so
such runs are reported as diverged / not settled with Tε = null.
"""

from __future__ import annotations

import enum

import numpy as np
from jaxtyping import Float

from ._errors import DataError
from .training_time import Criterion

DIVERGENCE_FACTOR = 10.0
"""k: a loss above k × L_0 counts as blown up (10×: far outside SGD noise on a real run)."""

DIVERGENCE_STEPS = 3
"""How many blown-up points (not necessarily consecutive) make a run diverged."""

SETTLE_FRACTION = 0.5
"""s: a run whose loss at T gave back more than s of its decrease, L_T − min L > s (L_0 − min L),
has not settled. Measured on the 169 real runs of the committed benchmark records: every run past
0.5 had spiked to 1.5–11 × L_0 on the way; the SGD runs that only fluctuate stay below 0.46
(95% below 0.23)."""


class RunStatus(enum.Enum):
    """Outcome of a training run, from its loss curve (see :func:`classify_run`)."""

    CONVERGED = "converged"
    DIVERGED = "diverged"
    NOT_DECREASING = "not_decreasing"
    UNSETTLED = "unsettled"

    @property
    def what(self) -> str:
        """What the status says of the run, in a few words (for messages)."""
        return {
            RunStatus.CONVERGED: "converged",
            RunStatus.DIVERGED: "diverged",
            RunStatus.NOT_DECREASING: "did not decrease",
            RunStatus.UNSETTLED: "went down and climbed back up (did not settle)",
        }[self]


def classify_run(
    loss: Float[np.ndarray, " T1"],
    *,
    factor: float = DIVERGENCE_FACTOR,
    min_steps: int = DIVERGENCE_STEPS,
    settle: float = SETTLE_FRACTION,
) -> RunStatus:
    """Classify a loss curve L_0 … L_T (L_0 = before any update) by the divergence rule.

    The rule, in order:

    1. any L_t is NaN or ±inf → ``DIVERGED``;
    2. L_t > k · L_0 at min(``min_steps``, T) or more of the steps t ≥ 1 (k = ``factor``)
       → ``DIVERGED`` (a blow-up, e.g. oscillating between 1e5 and 1e10, never NaN);
    3. L_T ≥ L_0 (the run ended no lower than it started) → ``NOT_DECREASING``;
    4. L_T − min_t L_t > s · (L_0 − min_t L_t) (the loss went down, then climbed back more than
       a share s of the way: L_T is not a plateau to measure Tε against) → ``UNSETTLED``;
    5. otherwise → ``CONVERGED`` (the loss decreased and ended near its lowest; Tε is
       meaningful).

    Only ``CONVERGED`` runs have a training time; report Tε = null for the others.

    Args:
        loss: the loss curve, T + 1 points.
        factor: k, the blow-up threshold relative to L_0.
        min_steps: how many blown-up points make a divergence.
        settle: s, the share of the decrease the run may give back by T.

    Raises:
        DataError: fewer than 2 points.

    Example:
        >>> classify_run(np.array([1.0, 0.5, 0.3])).value
        'converged'
        >>> classify_run(np.array([1.0, 1e5, 1e10, 1e5, 1e10])).value
        'diverged'
        >>> classify_run(np.array([1.0, 0.8, 1.2])).value
        'not_decreasing'
        >>> classify_run(np.array([1.67, 1.28, 2.50, 1.65, 1.60])).value  # lr past the limit
        'unsettled'
    """
    c = np.asarray(loss, dtype=np.float64)
    if c.ndim == 2 and 1 in c.shape:  # a [1, T+1] or [T+1, 1] curve
        c = c.ravel()
    if c.ndim != 1:
        raise DataError(
            f"classify_run takes one loss curve [T+1], got shape {c.shape}; classify each path "
            "(row) separately, or the median curve."
        )
    if c.size < 2:
        raise DataError(f"a loss curve needs at least 2 points (L_0 … L_T), got {c.size}.")
    if not np.all(np.isfinite(c)):
        return RunStatus.DIVERGED
    blown_up = int(np.count_nonzero(c[1:] > factor * c[0]))
    if c[0] > 0 and blown_up >= min(min_steps, c.size - 1):
        return RunStatus.DIVERGED
    if c[-1] >= c[0]:
        return RunStatus.NOT_DECREASING
    lowest = float(c.min())
    if c[-1] - lowest > settle * (c[0] - lowest):
        return RunStatus.UNSETTLED
    return RunStatus.CONVERGED


def classify_criterion(
    loss: Float[np.ndarray, " T1"], error: Float[np.ndarray, " T1"], criterion: Criterion
) -> RunStatus:
    """:func:`classify_run` of the curve Tε is read from (``criterion``); a loss that blows up
    makes the run ``DIVERGED`` whatever the criterion. The rule predictions (the median
    predicted curves) and sweeps share.

    Example:
        >>> loss, error = np.array([1.0, 0.5, 0.4]), np.array([0.5, 0.4, 0.6])
        >>> [classify_criterion(loss, error, c).value for c in Criterion]
        ['converged', 'not_decreasing']
    """
    status = classify_run(loss)
    if criterion is Criterion.LOSS or status is RunStatus.DIVERGED:
        return status
    return classify_run(error)
