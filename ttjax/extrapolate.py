"""Predict fine-tuning on N examples from Θ on a subset of N0 < N (supplementary §D; MSE loss).

Pipeline: Θ0 on N0 samples → :func:`spectrum_from_ntk` → power law ``λ'_k/N0 = c k^{−s}``
with the slope correction ``λ̂_k/N = c k^{−s+α(N0/N−1)}`` and the projections' tail
``p̂_k = a k^{−b}`` pinned by
``Σ p̂_k = ‖δy‖²`` (:func:`extrapolate_spectrum`) → the loss curve
``L_t = (1/2N) Σ_k p̂_k (1 − η̃ λ̂_k/N)^{2t}`` (:func:`mse_loss_curve`) → Tε.
The whole pipeline from a subset's Θ0 is :func:`extrapolate_from_subset` (from a model:
:func:`subset_to_full`, which runs the forward pass on N); :func:`surrogate_ntk`
turns its spectrum into a Θ̂ on N that any dynamics (CE, SGD) can run on — what
``predict_training_time(ntk_subset=N0)`` / ``ttjax predict --ntk-subset N0`` do
(:func:`subset_task_ntk`).

Example:
    >>> import numpy as np
    >>> from ttjax.extrapolate import ExtrapolationConfig, extrapolate_spectrum, mse_loss_curve
    >>> g = np.random.default_rng(0).normal(size=(40, 200)); theta0 = g @ g.T
    >>> ex = extrapolate_spectrum(theta0, np.zeros((20, 2)), np.arange(20) % 2, n=80,
    ...                           residual_norm_sq=80.0, config=ExtrapolationConfig(k0=10))
    >>> mse_loss_curve(ex.spectrum, effective_lr=0.01, steps=3).shape
    (4,)
"""

from __future__ import annotations

from ._extrapolate import ExtrapolatedSpectrum as ExtrapolatedSpectrum
from ._extrapolate import ExtrapolationConfig as ExtrapolationConfig
from ._extrapolate import PowerLaw as PowerLaw
from ._extrapolate import Spectrum as Spectrum
from ._extrapolate import SubsetToFull as SubsetToFull
from ._extrapolate import SurrogateNtk as SurrogateNtk
from ._extrapolate import extrapolate_from_subset as extrapolate_from_subset
from ._extrapolate import extrapolate_spectrum as extrapolate_spectrum
from ._extrapolate import fit_power_law as fit_power_law
from ._extrapolate import fit_projection_tail as fit_projection_tail
from ._extrapolate import forward_logits as forward_logits
from ._extrapolate import mse_loss_curve as mse_loss_curve
from ._extrapolate import spectrum_from_ntk as spectrum_from_ntk
from ._extrapolate import spectrum_training_time as spectrum_training_time
from ._extrapolate import stratified_subset as stratified_subset
from ._extrapolate import subset_task_ntk as subset_task_ntk
from ._extrapolate import subset_to_full as subset_to_full
from ._extrapolate import surrogate_ntk as surrogate_ntk

__all__ = [
    "ExtrapolatedSpectrum",
    "ExtrapolationConfig",
    "PowerLaw",
    "Spectrum",
    "SubsetToFull",
    "SurrogateNtk",
    "extrapolate_from_subset",
    "extrapolate_spectrum",
    "fit_power_law",
    "fit_projection_tail",
    "forward_logits",
    "mse_loss_curve",
    "spectrum_from_ntk",
    "spectrum_training_time",
    "stratified_subset",
    "subset_task_ntk",
    "subset_to_full",
    "surrogate_ntk",
]
