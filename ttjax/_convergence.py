"""Did a training run converge? The ONE divergence rule, shared by real runs and benchmarks.

Tε (:func:`ttjax.epsilon_training_time`) measures how fast a loss curve *settles*; it is only
meaningful for a run that decreased. A run that blew up and oscillates at 1e5–1e10 without
ever reaching NaN would otherwise get Tε = 0 ("already settled at step 0"). This module
classifies a curve first, so such runs are reported as diverged with Tε = null.
"""

from __future__ import annotations

import enum

import numpy as np
from jaxtyping import Float

from ._errors import DataError

DIVERGENCE_FACTOR = 10.0
"""k: a loss above k × L_0 counts as blown up (10×: far outside SGD noise on a real run)."""

DIVERGENCE_STEPS = 3
"""How many blown-up points (not necessarily consecutive) make a run diverged."""


class RunStatus(enum.Enum):
    """Outcome of a training run, from its loss curve (see :func:`classify_run`)."""

    CONVERGED = "converged"
    DIVERGED = "diverged"
    NOT_DECREASING = "not_decreasing"


def classify_run(
    loss: Float[np.ndarray, " T1"],
    *,
    factor: float = DIVERGENCE_FACTOR,
    min_steps: int = DIVERGENCE_STEPS,
) -> RunStatus:
    """Classify a loss curve L_0 … L_T (L_0 = before any update) by the divergence rule.

    The rule, in order:

    1. any L_t is NaN or ±inf → ``DIVERGED``;
    2. L_t > k · L_0 at min(``min_steps``, T) or more of the steps t ≥ 1 (k = ``factor``)
       → ``DIVERGED`` (a blow-up, e.g. oscillating between 1e5 and 1e10, never NaN);
    3. L_T ≥ L_0 (the run ended no lower than it started) → ``NOT_DECREASING``;
    4. otherwise → ``CONVERGED`` (the loss decreased overall; Tε is meaningful).

    Only ``CONVERGED`` runs have a training time; report Tε = null for the others.

    Args:
        loss: the loss curve, T + 1 points.
        factor: k, the blow-up threshold relative to L_0.
        min_steps: how many blown-up points make a divergence.

    Raises:
        DataError: fewer than 2 points.

    Example:
        >>> classify_run(np.array([1.0, 0.5, 0.3])).value
        'converged'
        >>> classify_run(np.array([1.0, 1e5, 1e10, 1e5, 1e10])).value
        'diverged'
        >>> classify_run(np.array([1.0, 0.8, 1.2])).value
        'not_decreasing'
    """
    c = np.asarray(loss, dtype=np.float64).ravel()
    if c.size < 2:
        raise DataError(f"a loss curve needs at least 2 points (L_0 … L_T), got {c.size}.")
    if not np.all(np.isfinite(c)):
        return RunStatus.DIVERGED
    blown_up = int(np.count_nonzero(c[1:] > factor * c[0]))
    if c[0] > 0 and blown_up >= min(min_steps, c.size - 1):
        return RunStatus.DIVERGED
    if c[-1] >= c[0]:
        return RunStatus.NOT_DECREASING
    return RunStatus.CONVERGED
