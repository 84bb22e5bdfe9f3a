"""Power laws for the spectrum of Θ and for the projections of the residual (supplementary §D).

Two fits, both in float64 on the host (they touch at most N·C numbers):

* :func:`fit_power_law` — least squares of ``log λ_k = log c − s log k`` over an index range.
* :func:`fit_projection_tail` — the tail ``p̂_k = a k^{−b}`` for ``k0 ≤ k ≤ K`` pinned by
  ``p̂_{k0} = p_{k0}`` and by the sum ``Σ_{k ≥ k0} p̂_k = R`` (one equation in ``b``, monotone, so
  solved by bisection to machine precision).

Indices ``k`` are 1-based throughout, as in the paper.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float

from .._errors import DataError


@dataclasses.dataclass(frozen=True)
class PowerLaw:
    """``y_k = coefficient · k^(−exponent)`` for 1-based k.

    Example:
        >>> law = PowerLaw(coefficient=2.0, exponent=1.0)
        >>> law(np.array([1, 2, 4])).tolist()
        [2.0, 1.0, 0.5]
    """

    coefficient: float
    exponent: float

    def __call__(self, k: Float[np.ndarray, " K"] | np.ndarray) -> Float[np.ndarray, " K"]:
        k = np.asarray(k, dtype=np.float64)
        return self.coefficient * k ** (-self.exponent)

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def fit_power_law(values: Float[np.ndarray, " K"], *, k_range: tuple[int, int]) -> PowerLaw:
    """Least-squares fit of ``values[k−1] ≈ c k^(−s)`` on ``k_lo ≤ k ≤ k_hi`` in log–log space.

    .. math::

        (\\log c, -s) = \\arg\\min \\sum_{k=k_{lo}}^{k_{hi}} (\\log v_k - \\log c + s\\log k)^2

    Args:
        values: positive values v_1 … v_K (e.g. the sorted eigenvalues of Θ / N).
        k_range: inclusive 1-based index range ``(k_lo, k_hi)`` used in the fit.

    Raises:
        DataError: if the range is empty/out of bounds or holds non-positive values.

    Example:
        >>> k = np.arange(1, 101)
        >>> law = fit_power_law(3.0 * k**-1.5, k_range=(1, 100))
        >>> round(law.coefficient, 9), round(law.exponent, 9)
        (3.0, 1.5)
    """
    v = np.asarray(values, dtype=np.float64)
    k_lo, k_hi = int(k_range[0]), int(k_range[1])
    if not (1 <= k_lo < k_hi <= v.size):
        raise DataError(
            f"power-law fit range {k_range} is not inside 1..{v.size} with at least two points; "
            "use a larger subset N0 or a smaller fit range."
        )
    seg = v[k_lo - 1 : k_hi]
    if not np.all(np.isfinite(seg)) or np.any(seg <= 0):
        raise DataError(
            f"eigenvalues in the fit range {k_range} must be positive and finite (Θ is PSD but "
            "rank-deficient past its rank); lower the fit range's upper end."
        )
    logk = np.log(np.arange(k_lo, k_hi + 1, dtype=np.float64))
    slope, intercept = np.polyfit(logk, np.log(seg), 1)
    return PowerLaw(coefficient=float(np.exp(intercept)), exponent=float(-slope))


def _tail_sum(b: float, k0: int, k_max: int) -> float:
    """``Σ_{k=k0}^{k_max} (k/k0)^(−b)``; decreasing in ``b``."""
    k = np.arange(k0, k_max + 1, dtype=np.float64)
    return float(np.sum((k / k0) ** (-b)))


def fit_projection_tail(
    *,
    p_k0: float,
    k0: int,
    k_max: int,
    tail_total: float,
    b_bounds: tuple[float, float] = (-1.0, 20.0),
) -> PowerLaw:
    """The tail ``a k^(−b)`` (k0 ≤ k ≤ k_max) with ``a k0^(−b) = p_k0`` and sum ``tail_total``.

    .. math::  a = p_{k_0} k_0^{b},\\qquad p_{k_0} \\sum_{k=k_0}^{K} (k/k_0)^{-b} = R .

    The left side decreases strictly in ``b`` (from ``p_{k0}(K − k0 + 1)`` at ``b = 0`` to
    ``p_{k0}`` as ``b → ∞``), so ``b`` is unique; it is found by bisection on ``b_bounds``.

    Raises:
        DataError: if no ``b`` in ``b_bounds`` meets the constraint (the head already holds more
            than ``‖δy‖²`` or the tail would need to grow faster than ``k^{−b_min}``).

    Example:
        >>> total = _tail_sum(1.3, 10, 1000)
        >>> law = fit_projection_tail(p_k0=1.0, k0=10, k_max=1000, tail_total=total)
        >>> round(law.exponent, 9)
        1.3
    """
    if not (1 <= k0 <= k_max):
        raise DataError(f"k0={k0} must lie in 1..{k_max}; use a smaller k0.")
    if not (np.isfinite(p_k0) and p_k0 > 0):
        raise DataError(
            f"the projection p_k0={p_k0} must be positive to anchor the tail; change k0."
        )
    lo, hi = b_bounds
    s_lo, s_hi = _tail_sum(lo, k0, k_max), _tail_sum(hi, k0, k_max)
    target = tail_total / p_k0
    if not (s_hi <= target <= s_lo):
        raise DataError(
            f"no power-law tail a·k^(−b) with b in {b_bounds} has p̂_k0 = {p_k0:.4g} and tail sum "
            f"{tail_total:.4g} (the head p'_k, k < k0, already explains too much or too little of "
            f"‖δy‖²); use a larger subset N0 (--ntk-subset / ntk_subset=), or in "
            "ttjax.extrapolate another ExtrapolationConfig.k0 (e.g. a smaller one)."
        )
    for _ in range(200):  # bisection: the interval halves each time, 200 is far past float64
        mid = 0.5 * (lo + hi)
        if _tail_sum(mid, k0, k_max) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, abs(mid)):
            break
    b = 0.5 * (lo + hi)
    return PowerLaw(coefficient=float(p_k0 * k0**b), exponent=float(b))
