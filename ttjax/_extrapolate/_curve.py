"""The MSE loss curve of the linearised model from a spectrum (eigenbasis solution).

With the mean MSE loss ``L = (1/2N) Σ_i ‖f_i − e_{y_i}‖²`` the residual δ = f − Y obeys, per
eigen-direction k of Θ (eigenvalue λ_k, projection p_k = (u_kᵀ δ_0)²):

* gradient flow (the ODE):  ``L_t = (1/2N) Σ_k p_k e^{−2 η̃ λ_k t / N}``;
* gradient descent (the discrete map ``δ ← (I − η̃Θ/N) δ``):
  ``L_t = (1/2N) Σ_k p_k (1 − η̃λ_k/N)^{2t}``.

η̃ = η / (1 − m) is the effective learning rate (momentum folded in, supplementary E).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

from .._config import Hyperparams
from .._errors import StabilityError
from ..training_time import epsilon_training_time
from ._spectrum import Spectrum


def mse_loss_curve(
    spectrum: Spectrum, *, effective_lr: float, steps: int, discrete: bool = True
) -> Float[np.ndarray, " T1"]:
    """Predicted MSE loss ``L_0 … L_T`` (T + 1 points) from eigenvalues and projections.

    Args:
        spectrum: eigenvalues λ_k of Θ (not normalised) and projections p_k on ``spectrum.n``.
        effective_lr: η̃.
        steps: T.
        discrete: the GD map (True) or the gradient flow (False).

    Raises:
        StabilityError: if the discrete map diverges (η̃ λ_max / N > 2).

    Example:
        >>> sp = Spectrum(eigenvalues=np.array([2.0]), projections=np.array([4.0]), n=2,
        ...               num_classes=1)
        >>> mse_loss_curve(sp, effective_lr=0.5, steps=2).tolist()
        [1.0, 0.25, 0.0625]
    """
    lam = np.asarray(spectrum.eigenvalues, dtype=np.float64)
    p = np.asarray(spectrum.projections, dtype=np.float64)
    n = spectrum.n
    t = np.arange(steps + 1, dtype=np.float64)[:, None]
    rate = effective_lr * lam / n
    if discrete:
        if rate.size and rate.max() > 2.0:
            raise StabilityError(
                f"η̃·λ_max/N = {rate.max():.3g} > 2: gradient descent diverges on the "
                f"extrapolated spectrum; lower the learning rate below {2 * n / lam.max():.3g}."
            )
        decay = np.abs(1.0 - rate)[None, :] ** (2.0 * t)
    else:
        decay = np.exp(-2.0 * rate[None, :] * t)
    return (decay @ p) / (2.0 * n)


def spectrum_training_time(
    spectrum: Spectrum, *, hparams: Hyperparams, eps: tuple[float, ...], discrete: bool = True
) -> dict[float, int]:
    """Tε of the predicted MSE curve for each ε (steps), using ``hparams.steps`` and η̃.

    Example:
        >>> sp = Spectrum(eigenvalues=np.array([2.0]), projections=np.array([4.0]), n=2,
        ...               num_classes=1)
        >>> spectrum_training_time(sp, hparams=Hyperparams(lr=0.5, steps=10), eps=(0.1,))
        {0.1: 2}
    """
    curve = mse_loss_curve(
        spectrum, effective_lr=hparams.effective_lr, steps=hparams.steps, discrete=discrete
    )
    return {e: int(epsilon_training_time(curve, e)) for e in eps}
