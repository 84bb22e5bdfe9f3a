"""``NtkMethod.EXACT``: Θ = Σ_groups J_g J_gᵀ from the raw per-example gradients (the oracle).

Paper eq. 2: Θ_{(i,c),(j,c′)} = ∂f_c(x_i)/∂w · ∂f_{c′}(x_j)/∂w. The features are the
gradients themselves, φ_{i,c} = ∂f_c(x_i)/∂w_g; when N·C·D does not fit the memory budget
the parameters are split into groups g (one backward sweep each) and their Grams summed.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._estimator import Plan, Problem
from ._grads import GramContraction, Reduction, plan_gradients, raw_dim


@dataclasses.dataclass(frozen=True)
class RawFeatures:
    """``φ = g``: the per-leaf gradients concatenated (hashable)."""

    def __call__(
        self, grads: list[jax.Array], group: tuple[int, ...], key: jax.Array, tables: object
    ) -> Float[Array, "M D"]:
        return jnp.concatenate(grads, axis=1)


RAW = Reduction(features=lambda d, chunk: RawFeatures(), dim=raw_dim, grouped=True)
"""The exact reduction, in parameter groups that fit the memory budget."""


@dataclasses.dataclass(frozen=True)
class ExactEstimator(GramContraction):
    """``NtkMethod.EXACT``: ``Θ = Σ_g J_g J_gᵀ``; no factor is returned."""

    keep_features = False

    def plan(self, problem: Problem) -> Plan:
        return plan_gradients(problem, RAW)
