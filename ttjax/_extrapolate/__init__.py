"""Implementation of :mod:`ttjax.extrapolate` (dataset-size extrapolation, supplementary §D).

Public names via :mod:`ttjax.extrapolate`, which re-exports this package's ``__all__``.
"""

from ._curve import mse_loss_curve as mse_loss_curve
from ._curve import spectrum_training_time as spectrum_training_time
from ._pipeline import SubsetToFull as SubsetToFull
from ._pipeline import subset_to_full as subset_to_full
from ._power_law import PowerLaw as PowerLaw
from ._power_law import fit_power_law as fit_power_law
from ._power_law import fit_projection_tail as fit_projection_tail
from ._spectrum import ExtrapolatedSpectrum as ExtrapolatedSpectrum
from ._spectrum import ExtrapolationConfig as ExtrapolationConfig
from ._spectrum import Spectrum as Spectrum
from ._spectrum import extrapolate_spectrum as extrapolate_spectrum
from ._spectrum import spectrum_from_ntk as spectrum_from_ntk
from ._subset import SurrogateNtk as SurrogateNtk
from ._subset import extrapolate_from_subset as extrapolate_from_subset
from ._subset import forward_logits as forward_logits
from ._subset import stratified_subset as stratified_subset
from ._subset import subset_task_ntk as subset_task_ntk
from ._subset import surrogate_ntk as surrogate_ntk

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
