"""Extrapolate the spectrum of Θ and the residual's projections from N0 to N samples (supp. §D).

Notation (MSE, the ttjax convention: mean over examples of ½‖f − e_y‖²). On N samples,
Θ = J Jᵀ is ``[N·C, N·C]`` with eigenpairs ``(λ_k, u_k)`` sorted decreasing, δy = vec(Y − f0) and
``p_k = (u_kᵀ δy)²`` so that ``Σ_k p_k = ‖δy‖²``. Gradient flow
``df/dt = −η̃ Θ (f − Y)/N`` gives

.. math::  L_t = \\frac{1}{2N} \\sum_k p_k\\, e^{-2 \\tilde\\eta \\lambda_k t / N}.

Both ``λ_k / N`` and ``p_k / N`` converge as N grows (they are Monte-Carlo estimates of the
eigenvalues of the kernel's integral operator and of the squared coefficients of the residual
function in its eigenbasis), which is what makes the extrapolation work:

* eigenvalues: fit ``λ'_k / N0 ≈ c k^{−s}`` on Θ0 (the N0-sample Θ) over ``fit_range``, then
  ``λ̂_k / N = c k^{−s + α(N0/N − 1)}`` for ``k = 1 … N·C`` (the slope correction: subsets give
  flatter spectra than large sets);
* projections: ``p̂_k / N = p'_k / N0`` for ``k < k0`` and ``p̂_k = a k^{−b}`` for ``k ≥ k0``, with
  ``a, b`` fixed by ``p̂_{k0} = (N/N0) p'_{k0}`` and ``Σ_k p̂_k = ‖δy‖²`` on the N samples (which
  needs f0 on the N samples: one forward pass, no Θ).

The paper writes ``p̂_k = p'_k`` without the ``N/N0`` factor; with unit eigenvectors ``p_k`` grows
linearly in N (``Σ p_k = ‖δy‖² ∝ N``), so the factor is needed for ``L_0`` to come out right.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from jaxtyping import Float, Int

from .._errors import ConfigError, DataError
from ._power_law import PowerLaw, fit_power_law, fit_projection_tail


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExtrapolationConfig:
    """How to extrapolate (immutable).

    Attributes:
        alpha: slope correction α of ``λ̂_k ∝ k^{−s + α(N0/N − 1)}``. Fixed at 0.15 by default,
            the middle of the range [0.1, 0.2] the paper found across (N0, N); fitting it from
            nested subsets of Θ0 (``alpha=None``) uses ``α = 2 (s(N0) − s(N0/2))`` and is
            noisier, because the two slopes differ by only a few hundredths.
        k0: first index of the projections' power-law tail (paper: 100); clipped to N0·C.
        fit_range: inclusive 1-based index range of the eigenvalue fit, as fractions of N0·C:
            the top few eigenvalues (class means, constant directions) and the last half (finite-
            sample roll-off of Θ0) are not on the power law. Default (0.02, 0.5).
        keep_head: keep the first ``keep_head`` normalised eigenvalues of Θ0 as they are
            (0 = the paper: power law for every k). ``None`` (default) = those before
            ``fit_range``, which are not on the power law: extending the law to them inflated
            λ̂₁ ten-fold on a tiny CNN (and so the stability edge) in our validation runs.
        anchor_width: the tail's anchor p̂_k0 is the local mean of p′_k over
            k ∈ [k0, w·k0], corrected for the local power-law slope (exact for a power
            law); a single squared projection p′_k0 is too noisy (measured 65× below its
            neighbours' mean on Fashion-MNIST, which bent the tail upwards). 1 = the paper.
            Default 2 (k0 … 2·k0).
    """

    alpha: float | None = 0.15
    k0: int = 100
    fit_range: tuple[float, float] = (0.02, 0.5)
    keep_head: int | None = None
    anchor_width: float = 2.0

    def __post_init__(self) -> None:
        lo, hi = self.fit_range
        if not (0.0 <= lo < hi <= 1.0):
            raise ConfigError(f"fit_range must satisfy 0 ≤ lo < hi ≤ 1, got {self.fit_range}.")
        if self.k0 < 1:
            raise ConfigError(f"k0 must be ≥ 1, got {self.k0}.")
        if self.anchor_width < 1.0:
            raise ConfigError(f"anchor_width must be ≥ 1, got {self.anchor_width}.")
        if self.keep_head is not None and self.keep_head < 0:
            raise ConfigError(f"keep_head must be ≥ 0, got {self.keep_head}.")
        if self.alpha is not None and not (0.0 <= self.alpha <= 1.0):
            raise ConfigError(
                f"alpha must be in [0, 1] (the paper uses 0.1–0.2), got {self.alpha}."
            )


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of Θ (decreasing) and projections ``p_k = (u_kᵀ δy)²`` on ``n`` examples."""

    eigenvalues: Float[np.ndarray, " NC"]
    projections: Float[np.ndarray, " NC"]
    n: int
    num_classes: int


@dataclasses.dataclass(frozen=True)
class ExtrapolatedSpectrum:
    """Result of :func:`extrapolate_spectrum`.

    Attributes:
        spectrum: predicted eigenvalues λ̂_k and projections p̂_k on N examples (k = 1 … N·C).
        eigen_law: fit ``λ'_k / N0 = c k^{−s}`` on Θ0.
        alpha: the slope correction used (fixed or fitted).
        tail_law: ``p̂_k = a k^{−b}`` for ``k ≥ k0``.
        k0: the tail's first index actually used.
        n0: subset size.
    """

    spectrum: Spectrum
    eigen_law: PowerLaw
    alpha: float
    tail_law: PowerLaw
    k0: int
    n0: int

    def to_dict(self) -> dict[str, object]:
        return {
            "n0": self.n0,
            "n": self.spectrum.n,
            "c": self.eigen_law.coefficient,
            "s": self.eigen_law.exponent,
            "alpha": self.alpha,
            "a": self.tail_law.coefficient,
            "b": self.tail_law.exponent,
            "k0": self.k0,
        }


def spectrum_from_ntk(
    theta: Float[np.ndarray, "NC NC"], f0: Float[np.ndarray, "N C"], labels: Int[np.ndarray, " N"]
) -> Spectrum:
    """Eigen-decompose Θ (example-major layout) and project δy = vec(e_y − f0) (float64).

    Example:
        >>> sp = spectrum_from_ntk(np.eye(4), np.zeros((2, 2)), np.array([0, 1]))
        >>> float(sp.projections.sum())
        2.0
    """
    th = np.asarray(theta, dtype=np.float64)
    f0 = np.asarray(f0, dtype=np.float64)
    n, c = f0.shape
    if th.shape != (n * c, n * c):
        raise DataError(
            f"Θ has shape {th.shape} but f0 is {f0.shape}; expected ({n * c}, {n * c})."
        )
    onehot = np.eye(c)[np.asarray(labels)]
    dy = (onehot - f0).reshape(-1)
    evals, evecs = np.linalg.eigh(0.5 * (th + th.T))
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0.0, None), evecs[:, order]
    return Spectrum(eigenvalues=evals, projections=(evecs.T @ dy) ** 2, n=n, num_classes=c)


def _fit_indices(size: int, fit_range: tuple[float, float]) -> tuple[int, int]:
    lo = max(1, round(fit_range[0] * size))
    hi = min(size, max(lo + 1, round(fit_range[1] * size)))
    return lo, hi


def _fitted_alpha(theta0: np.ndarray, n0: int, c: int, cfg: ExtrapolationConfig) -> float:
    """α from nested subsets: s(N0) = s(N0/2) + α(1 − 1/2)."""
    half = n0 // 2

    def slope(m: int) -> float:
        sub = theta0[: m * c, : m * c]
        ev = np.sort(np.linalg.eigvalsh(0.5 * (sub + sub.T)))[::-1] / m
        return fit_power_law(ev, k_range=_fit_indices(m * c, cfg.fit_range)).exponent

    return float(np.clip(2.0 * (slope(n0) - slope(half)), 0.0, 1.0))


def _anchor(projections: np.ndarray, k0: int, width: float) -> float:
    """p̂_k0: mean of p_k on [k0, w·k0] (the tail only) times k0^(−b̂) / mean(k^(−b̂)), b̂ the
    local log-log slope of the positive p_k; the single p_k0 when there are < 3 positives."""
    lo = k0
    hi = min(len(projections), int(np.ceil(k0 * width)))
    k = np.arange(lo, hi + 1, dtype=np.float64)
    p = np.asarray(projections[lo - 1 : hi], np.float64)
    pos = p > 0
    if width == 1.0 or pos.sum() < 3:
        return float(projections[k0 - 1])
    slope = float(np.polyfit(np.log(k[pos]), np.log(p[pos]), 1)[0])
    return float(p.mean() * k0**slope / np.mean(k**slope))


def extrapolate_spectrum(
    theta0: Float[np.ndarray, "N0C N0C"],
    f0_subset: Float[np.ndarray, "N0 C"],
    labels_subset: Int[np.ndarray, " N0"],
    *,
    n: int,
    residual_norm_sq: float,
    config: ExtrapolationConfig = ExtrapolationConfig(),
) -> ExtrapolatedSpectrum:
    """Predict the eigenvalues and projections of Θ on ``n`` examples from Θ0 on a subset.

    Args:
        theta0: Θ0 on the N0-example subset (example-major, ``[N0·C, N0·C]``).
        f0_subset, labels_subset: pretrained outputs and labels of the subset.
        n: target size N (≥ N0). The subset should be the first N0 examples of the full set, or
            any uniform sample of it.
        residual_norm_sq: ‖δy‖² = ‖e_y − f0‖² summed over the N examples and C outputs.
        config: see :class:`ExtrapolationConfig`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> g = rng.normal(size=(40, 200)); theta0 = g @ g.T
        >>> ex = extrapolate_spectrum(theta0, np.zeros((20, 2)), np.arange(20) % 2, n=80,
        ...                           residual_norm_sq=80.0, config=ExtrapolationConfig(k0=10))
        >>> ex.spectrum.eigenvalues.shape, round(float(ex.spectrum.projections.sum()), 6)
        ((160,), 80.0)
    """
    sub = spectrum_from_ntk(theta0, f0_subset, labels_subset)
    n0, c = sub.n, sub.num_classes
    if n < n0:
        raise ConfigError(f"target size n={n} is smaller than the subset N0={n0}; use n ≥ N0.")
    size0, size = n0 * c, n * c
    law = fit_power_law(sub.eigenvalues / n0, k_range=_fit_indices(size0, config.fit_range))
    alpha = config.alpha if config.alpha is not None else _fitted_alpha(theta0, n0, c, config)
    k = np.arange(1, size + 1, dtype=np.float64)
    exponent = law.exponent - alpha * (n0 / n - 1.0)
    lam = n * law.coefficient * k ** (-exponent)
    fit_lo = _fit_indices(size0, config.fit_range)[0]
    keep = fit_lo - 1 if config.keep_head is None else config.keep_head
    head = min(keep, size0)
    lam[:head] = sub.eigenvalues[:head] * (n / n0)

    k0 = min(config.k0, size0)
    p_head = sub.projections[: k0 - 1] * (n / n0)
    p_k0 = _anchor(sub.projections, k0, config.anchor_width) * (n / n0)
    tail_total = float(residual_norm_sq) - float(p_head.sum())
    tail = fit_projection_tail(p_k0=p_k0, k0=k0, k_max=size, tail_total=tail_total)
    p = np.concatenate([p_head, tail(np.arange(k0, size + 1))])
    return ExtrapolatedSpectrum(
        spectrum=Spectrum(eigenvalues=lam, projections=p, n=n, num_classes=c),
        eigen_law=law,
        alpha=float(alpha),
        tail_law=tail,
        k0=k0,
        n0=n0,
    )
