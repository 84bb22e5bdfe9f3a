"""The linearised fine-tuning problem in function space, with its per-Θ precomputations.

Everything that depends on Θ and f0 but not on the hyper-parameters (the stability
curvature, the noise factor, the eigen-decomposition) is computed once, lazily, and
reused by every solve on the same problem (sweeps, benchmarks).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._config import Loss
from .._errors import DataError
from .._protocols import Kernel
from ._noise import class_trace_noise_factor, diagonal_noise_factor, eigen_factor
from ._stability import Curvature, curvature


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """Θ, the outputs at the pretrained weights and the labels of one fine-tuning task.

    Attributes:
        theta: the empirical NTK Θ = J Jᵀ, ``[N·C, N·C]`` example-major (no 1/N).
        f0: logits of the pretrained model (fresh head) on the training set, ``[N, C]``.
        labels: integer labels in 0..C−1, ``[N]``.
        loss: the training loss.
        features: optional factor F with F Fᵀ ≈ Θ (``[N·C, D′]``), or Φ with Φ Φᵀ ≈ Θ₁
            (``[N, D′]``) when Θ = Θ₁ ⊗ I_C (the NTK engine's TRACE method); used by the
            diagonal noise model. Without it the factor comes from Θ's eigen-decomposition.

    Arrays are cast to a floating dtype (float32 unless float64 is given and enabled).

    Example:
        >>> import jax.numpy as jnp
        >>> p = Problem(jnp.eye(4), jnp.zeros((2, 2)), jnp.array([0, 1]), loss=Loss.MSE)
        >>> p.n, p.c
        (2, 2)
    """

    theta: Float[Array, "NC NC"]
    f0: Float[Array, "N C"]
    labels: Int[Array, " N"]
    loss: Loss = dataclasses.field(kw_only=True)
    features: Float[Array, "R D"] | None = dataclasses.field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        f0 = jnp.asarray(self.f0)
        if f0.ndim != 2:
            raise DataError(f"f0 must be [N, C] logits, got shape {f0.shape}.")
        dtype = jnp.result_type(jnp.asarray(self.theta).dtype, f0.dtype, jnp.float32)
        theta = jnp.asarray(self.theta, dtype)
        n, c = f0.shape
        if theta.shape != (n * c, n * c):
            raise DataError(
                f"Θ must be [N·C, N·C] = [{n * c}, {n * c}] for f0 of shape {f0.shape}, got "
                f"{theta.shape}; pass the theta of an NtkResult computed on the same examples."
            )
        labels = np.asarray(self.labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"labels must be {n} integers, got {labels.dtype} {labels.shape}.")
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise DataError(f"labels must lie in 0..{c - 1} (C = {c} outputs).")
        if not (bool(jnp.all(jnp.isfinite(theta))) and bool(jnp.all(jnp.isfinite(f0)))):
            raise DataError("Θ or f0 contains NaN/inf; recompute the NTK (check the model).")
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "f0", f0.astype(dtype))
        object.__setattr__(self, "labels", jnp.asarray(labels, jnp.int32))
        if self.features is not None:
            feats = jnp.asarray(self.features, dtype)
            if feats.ndim != 2 or feats.shape[0] not in (n, n * c):
                raise DataError(
                    f"features must be [N·C, D′] (N·C = {n * c}) or [N, D′] (a factor of "
                    f"Θ₁ with Θ = Θ₁ ⊗ I_C), got {feats.shape}."
                )
            object.__setattr__(self, "features", feats)

    @classmethod
    def from_ntk(
        cls, ntk: Kernel, labels: Int[np.ndarray, " N"] | Int[Array, " N"], *, loss: Loss
    ) -> Problem:
        """From an :class:`ttjax.ntk.NtkResult` (``theta``, ``f0``, ``features``) and labels."""
        feats = ntk.features
        return cls(
            jnp.asarray(ntk.theta),
            jnp.asarray(ntk.f0),
            jnp.asarray(np.asarray(labels)),
            loss=loss,
            features=None if feats is None else jnp.asarray(feats),
        )

    @property
    def n(self) -> int:
        return int(self.f0.shape[0])

    @property
    def c(self) -> int:
        return int(self.f0.shape[1])

    @functools.cached_property
    def curvature(self) -> Curvature:
        """λ_max(Θ) and λ_max(Θ H(f0)) (see :mod:`._stability`)."""
        return jax.device_get(curvature(self.theta, self.f0, loss=self.loss))

    @functools.cached_property
    def noise_factor(self) -> Float[Array, "NC R"]:
        """A with A Aᵀ = F diag(Σ₀) Fᵀ (the paper's diagonal noise, see :mod:`._noise`)."""
        if self.features is not None and self.features.shape[0] == self.n and self.c > 1:
            return class_trace_noise_factor(self.features, self.f0, self.labels, loss=self.loss)
        feats = self.features if self.features is not None else eigen_factor(self.theta)
        return diagonal_noise_factor(feats, self.f0, self.labels, loss=self.loss)

    @functools.cached_property
    def eigh(self) -> tuple[Float[Array, " NC"], Float[Array, "NC NC"]]:
        """Θ = V diag(λ) Vᵀ (for the MSE closed form)."""
        lam, vec = jnp.linalg.eigh(self.theta)
        return lam, vec
