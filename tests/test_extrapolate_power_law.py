"""Extrapolation (supplementary §D) on synthetic power-law spectra where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from ttjax._config import Hyperparams
from ttjax._errors import ConfigError, DataError, StabilityError
from ttjax.extrapolate import (
    ExtrapolationConfig,
    Spectrum,
    extrapolate_spectrum,
    fit_power_law,
    fit_projection_tail,
    mse_loss_curve,
    spectrum_from_ntk,
    spectrum_training_time,
)

# Exact power-law data is exactly linear in log–log space: the only error is float64 round-off
# in polyfit / bisection, far below 1e-9.
EXACT = 1e-9


def _synthetic(n: int, c: int, *, coef: float, s: float, p: np.ndarray, seed: int):
    """Θ with eigenvalues n·coef·k^(−s) and a residual with projections p on a random basis."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n * c, n * c)))
    k = np.arange(1, n * c + 1, dtype=np.float64)
    lam = n * coef * k ** (-s)
    theta = (q * lam) @ q.T
    labels = rng.integers(0, c, size=n)
    dy = q @ (np.sqrt(p) * rng.choice([-1.0, 1.0], size=n * c))
    f0 = np.eye(c)[labels] - dy.reshape(n, c)
    return theta, f0, labels, lam


@pytest.mark.parametrize(("coef", "s"), [(2.0, 1.2), (0.3, 0.6)])
def test_fit_power_law_recovers_coefficients(coef: float, s: float) -> None:
    k = np.arange(1, 501, dtype=np.float64)
    law = fit_power_law(coef * k ** (-s), k_range=(5, 400))
    assert law.coefficient == pytest.approx(coef, rel=EXACT)
    assert law.exponent == pytest.approx(s, rel=EXACT)


@pytest.mark.parametrize(("a", "b"), [(5.0, 1.7), (0.2, 0.4), (1.0, -0.3)])
def test_projection_tail_recovers_a_b_and_sum(a: float, b: float) -> None:
    k0, k_max = 37, 2000
    k = np.arange(k0, k_max + 1, dtype=np.float64)
    total = float(np.sum(a * k ** (-b)))
    law = fit_projection_tail(p_k0=a * k0 ** (-b), k0=k0, k_max=k_max, tail_total=total)
    assert law.exponent == pytest.approx(b, abs=EXACT)
    assert law.coefficient == pytest.approx(a, rel=1e-8)  # a = p_k0 k0^b amplifies b's round-off
    assert float(np.sum(law(k))) == pytest.approx(total, rel=EXACT)


def test_projection_tail_infeasible_raises() -> None:
    with pytest.raises(DataError, match="k0"):
        fit_projection_tail(p_k0=1.0, k0=10, k_max=100, tail_total=0.5)  # below p_k0 itself


def test_extrapolation_recovers_exact_power_laws() -> None:
    n0, c, n = 30, 3, 120
    coef, s, k0 = 1.5, 0.9, 12
    k = np.arange(1, n0 * c + 1, dtype=np.float64)
    a, b = 2.0, 1.3
    p0 = np.where(k < k0, 0.5 + np.cos(k) ** 2, a * k ** (-b))
    theta0, f0, labels, lam0 = _synthetic(n0, c, coef=coef, s=s, p=p0, seed=0)
    sp0 = spectrum_from_ntk(theta0, f0, labels)
    np.testing.assert_allclose(sp0.eigenvalues, lam0, rtol=1e-9)
    np.testing.assert_allclose(sp0.projections, p0, rtol=1e-7, atol=1e-12)  # eigh round-off

    # Full-set residual consistent with the same tail law scaled by N/N0, out to N·C.
    kk = np.arange(1, n * c + 1, dtype=np.float64)
    ratio = n / n0
    p_true = np.where(
        kk < k0,
        np.concatenate([p0[: k0 - 1], np.zeros(n * c - k0 + 1)]) * ratio,
        ratio * a * k0 ** (-b) * (kk / k0) ** (-b),
    )
    cfg = ExtrapolationConfig(alpha=0.0, k0=k0, fit_range=(0.0, 1.0))
    ex = extrapolate_spectrum(
        theta0, f0, labels, n=n, residual_norm_sq=float(p_true.sum()), config=cfg
    )
    assert ex.eigen_law.coefficient == pytest.approx(coef, rel=1e-7)
    assert ex.eigen_law.exponent == pytest.approx(s, rel=1e-7)
    np.testing.assert_allclose(ex.spectrum.eigenvalues, n * coef * kk ** (-s), rtol=1e-6)
    assert ex.tail_law.exponent == pytest.approx(b, rel=1e-6)
    np.testing.assert_allclose(ex.spectrum.projections, p_true, rtol=1e-6)
    assert float(ex.spectrum.projections.sum()) == pytest.approx(p_true.sum(), rel=EXACT)


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_slope_correction_steepens_by_alpha(alpha: float) -> None:
    n0, c, n = 20, 2, 200
    p0 = np.full(n0 * c, 0.1)
    theta0, f0, labels, _ = _synthetic(n0, c, coef=1.0, s=0.7, p=p0, seed=1)
    ex = extrapolate_spectrum(
        theta0,
        f0,
        labels,
        n=n,
        residual_norm_sq=0.1 * n * c,
        config=ExtrapolationConfig(alpha=alpha, k0=5, fit_range=(0.0, 1.0)),
    )
    slope = fit_power_law(ex.spectrum.eigenvalues, k_range=(1, n * c)).exponent
    assert slope == pytest.approx(0.7 + alpha * (1 - n0 / n), rel=1e-7)
    # ...and the normalised spectrum starts at the subset's c (k = 1 is not moved by the slope).
    assert ex.spectrum.eigenvalues[0] / n == pytest.approx(1.0, rel=1e-7)


def test_same_size_is_identity_on_head() -> None:
    """n = N0, α irrelevant: the head p'_k is kept and the Σ constraint holds."""
    n0, c = 25, 2
    rng = np.random.default_rng(3)
    p0 = rng.uniform(0.1, 1.0, size=n0 * c) * np.arange(1, n0 * c + 1) ** -1.0
    theta0, f0, labels, _ = _synthetic(n0, c, coef=1.0, s=1.0, p=p0, seed=3)
    ex = extrapolate_spectrum(
        theta0,
        f0,
        labels,
        n=n0,
        residual_norm_sq=float(p0.sum()),
        config=ExtrapolationConfig(k0=10),
    )
    np.testing.assert_allclose(ex.spectrum.projections[:9], p0[:9], rtol=1e-7)
    assert ex.spectrum.projections.sum() == pytest.approx(p0.sum(), rel=EXACT)


@pytest.mark.parametrize("discrete", [True, False])
def test_loss_curve_matches_direct_dynamics(discrete: bool) -> None:
    """Eigenbasis curve vs iterating the GD map / expm of the flow on the full matrix."""
    rng = np.random.default_rng(4)
    n, c, lr, steps = 6, 3, 0.3, 12
    g = rng.normal(size=(n * c, 40))
    theta = g @ g.T
    f0 = rng.normal(size=(n, c))
    labels = rng.integers(0, c, size=n)
    y = np.eye(c)[labels].reshape(-1)
    sp = spectrum_from_ntk(theta, f0, labels)
    lr = 0.9 * 2 * n / sp.eigenvalues.max() if discrete else lr
    curve = mse_loss_curve(sp, effective_lr=lr, steps=steps, discrete=discrete)
    delta = f0.reshape(-1) - y
    step = (np.eye(n * c) - lr * theta / n) if discrete else scipy.linalg.expm(-lr * theta / n)
    ref = []
    for _ in range(steps + 1):
        ref.append(0.5 * delta @ delta / n)
        delta = step @ delta
    np.testing.assert_allclose(curve, ref, rtol=1e-9)


def test_training_time_uses_effective_lr() -> None:
    sp = Spectrum(
        eigenvalues=np.array([1.0, 0.1]), projections=np.array([1.0, 1.0]), n=1, num_classes=2
    )
    with_m = spectrum_training_time(
        sp, hparams=Hyperparams(lr=0.1, momentum=0.5, steps=50), eps=(0.1,)
    )
    plain = spectrum_training_time(sp, hparams=Hyperparams(lr=0.2, steps=50), eps=(0.1,))
    assert with_m == plain
    assert 0 < plain[0.1] < 50


def test_errors_name_the_fix() -> None:
    sp = Spectrum(eigenvalues=np.array([10.0]), projections=np.array([1.0]), n=1, num_classes=1)
    with pytest.raises(StabilityError, match="lower the learning rate"):
        mse_loss_curve(sp, effective_lr=1.0, steps=3)
    with pytest.raises(ConfigError, match="fit_range"):
        ExtrapolationConfig(fit_range=(0.5, 0.2))
    with pytest.raises(ConfigError, match="n="):
        extrapolate_spectrum(
            np.eye(4), np.zeros((2, 2)), np.array([0, 1]), n=1, residual_norm_sq=1.0
        )
