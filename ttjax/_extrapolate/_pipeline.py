"""The N0 → N pipeline of supplementary §D, from a model: Θ0 on a subset and f0 on all N.

:func:`subset_to_full` runs the one forward pass on the N examples (chunked) and returns a
:class:`SubsetToFull`, from which any number of extrapolations (:meth:`SubsetToFull.extrapolate`,
e.g. a sweep over α or ``keep_head``) and their MSE gradient-descent loss curves
(:meth:`SubsetToFull.loss_curve`) follow without touching the network again:

.. math::  L_t = \\frac{1}{2N} \\sum_k \\hat p_k (1 - \\tilde\\eta \\hat\\lambda_k / N)^{2t}.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from jaxtyping import Float, Int

from .._config import Hyperparams, Loss
from .._protocols import Kernel, Network, TrainingSet
from ._curve import mse_loss_curve
from ._spectrum import ExtrapolatedSpectrum, ExtrapolationConfig, Spectrum, spectrum_from_ntk
from ._subset import DEFAULT_EXTRAPOLATION, extrapolate_from_subset, forward_logits


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class SubsetToFull:
    """Θ0 on N0 examples, their f0 and labels, and f0 and labels on all N (immutable).

    Attributes:
        theta0: Θ0 ``[N0·C, N0·C]`` (example-major, float64).
        f0_subset, labels_subset: the subset's pretrained outputs ``[N0, C]`` and labels.
        f0, labels: the same on the N examples (the forward pass).
        loss: which residual the projections are of (MSE: the paper; CE: ``e_y − softmax``).
    """

    theta0: Float[np.ndarray, "N0C N0C"]
    f0_subset: Float[np.ndarray, "N0 C"]
    labels_subset: Int[np.ndarray, " N0"]
    f0: Float[np.ndarray, "N C"]
    labels: Int[np.ndarray, " N"]
    loss: Loss = Loss.MSE

    @property
    def n0(self) -> int:
        return int(self.f0_subset.shape[0])

    @property
    def n(self) -> int:
        return int(self.f0.shape[0])

    @functools.cached_property
    def subset_spectrum(self) -> Spectrum:
        """λ'_k and p'_k of Θ0 on the subset itself (:func:`spectrum_from_ntk`)."""
        return spectrum_from_ntk(self.theta0, self.f0_subset, self.labels_subset)

    @property
    def subset_stable_lr(self) -> float:
        """``2 N0 / λ'_1``: the GD stability edge of the subset's MSE linear model, what a
        user knows before training on N."""
        return 2.0 * self.n0 / float(self.subset_spectrum.eigenvalues[0])

    @property
    def residual_norm_sq(self) -> float:
        """``‖e_y − f0‖²`` on the N examples (MSE; it pins the projections' total)."""
        c = self.f0.shape[1]
        return float(np.sum((np.eye(c)[self.labels] - self.f0) ** 2))

    def extrapolate(
        self, config: ExtrapolationConfig = DEFAULT_EXTRAPOLATION
    ) -> ExtrapolatedSpectrum:
        """λ̂_k and p̂_k on N (:func:`ttjax.extrapolate.extrapolate_from_subset`)."""
        return extrapolate_from_subset(
            self.theta0,
            self.f0_subset,
            self.labels_subset,
            f0=self.f0,
            labels=self.labels,
            loss=self.loss,
            config=config,
        )

    @staticmethod
    def loss_curve(spectrum: Spectrum, hparams: Hyperparams) -> Float[np.ndarray, " T1"]:
        """The MSE GD loss curve on a spectrum at η̃ = ``hparams.effective_lr`` for T steps."""
        return mse_loss_curve(spectrum, effective_lr=hparams.effective_lr, steps=hparams.steps)


def subset_to_full(
    model: Network,
    subset_kernel: Kernel,
    subset: TrainingSet,
    task: TrainingSet,
    *,
    loss: Loss = Loss.MSE,
    chunk: int = 256,
) -> SubsetToFull:
    """Θ0 of ``subset`` (already computed: ``subset_kernel``) and f0 of ``model`` on ``task``.

    Args:
        model: the network (one forward pass on ``task.images``, ``chunk`` images at a time).
        subset_kernel: Θ0 and f0 on the subset (:func:`ttjax.task_ntk` of ``subset``).
        subset: the N0 examples (labels), a subset of ``task``.
        task: the N examples.
        loss: the residual's loss; chunk: images per forward chunk.

    Example:
        >>> import jax
        >>> from ttjax import create_model, load_task, task_ntk
        >>> from ttjax.extrapolate import ExtrapolationConfig
        >>> task = load_task("sample", classes=2, per_class=10, image_size=8, seed=0)
        >>> sub = load_task("sample", classes=2, per_class=5, image_size=8, seed=1)
        >>> m = create_model("tiny", num_classes=2, image_size=8, weights=None,
        ...                  key=jax.random.key(0))
        >>> pair = subset_to_full(m, task_ntk(m, sub, key=jax.random.key(1)), sub, task)
        >>> ex = pair.extrapolate(ExtrapolationConfig(k0=4))
        >>> pair.n0, pair.n, ex.spectrum.eigenvalues.shape
        (10, 20, (40,))
    """
    return SubsetToFull(
        theta0=np.asarray(subset_kernel.theta, np.float64),
        f0_subset=np.asarray(subset_kernel.f0, np.float64),
        labels_subset=np.asarray(subset.labels),
        f0=forward_logits(model, task.images, chunk=chunk),
        labels=np.asarray(task.labels),
        loss=loss,
    )


__all__ = ["SubsetToFull", "subset_to_full"]
