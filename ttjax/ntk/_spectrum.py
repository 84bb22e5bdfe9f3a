"""Eigen-decomposition of Θ and the projections of the residual on its eigenvectors.

With Θ = Σ_k λ_k u_k u_kᵀ (λ₁ ≥ λ₂ ≥ …) and the initial residual δy = Y − f₀
(flattened example-major, like Θ), the MSE gradient flow decays each mode as
``e^{−η̃ λ_k t / N}`` and the loss is ``(1/2N) Σ_k p_k e^{−2η̃ λ_k t/N}`` with
``p_k = (u_kᵀ δy)²`` (paper §3, supplementary §D). Computed in float64.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from .._errors import DataError


def eigh_spectrum(
    theta: Float[np.ndarray, "M M"], residual: Float[np.ndarray, "*shape"] | None = None
) -> tuple[Float[np.ndarray, " M"], Float[np.ndarray, " M"] | None]:
    """Eigenvalues of Θ in descending order and the residual projections ``p_k``.

    Args:
        theta: symmetric ``[M, M]`` Θ (any float dtype; symmetrised, cast to float64).
        residual: ``δy = Y − f₀`` with ``M`` elements (e.g. ``[N, C]``, flattened
            row-major = example-major), or ``None``.

    Returns:
        ``(eigenvalues [M] descending, p [M] or None)`` with ``Σ_k p_k = ‖δy‖²``.

    Example:
        >>> lam, p = eigh_spectrum(np.diag([1.0, 3.0]), np.array([1.0, 2.0]))
        >>> lam.tolist(), p.tolist()
        ([3.0, 1.0], [4.0, 1.0])
    """
    th = np.asarray(theta, np.float64)
    if th.ndim != 2 or th.shape[0] != th.shape[1]:
        raise DataError(f"theta must be a square matrix, got shape {th.shape}.")
    if not np.all(np.isfinite(th)):
        raise DataError("theta contains NaN or inf; recompute it (check the model outputs).")
    th = 0.5 * (th + th.T)
    lam, u = np.linalg.eigh(th)
    lam, u = lam[::-1], u[:, ::-1]
    if residual is None:
        return lam, None
    r = np.asarray(residual, np.float64).reshape(-1)
    if r.shape[0] != th.shape[0]:
        raise DataError(
            f"residual has {r.shape[0]} elements but theta is {th.shape[0]}×{th.shape[0]}; "
            "pass Y − f0 for the same examples and classes, shaped [N, C]."
        )
    return lam, (u.T @ r) ** 2


ntk_spectrum = eigh_spectrum
