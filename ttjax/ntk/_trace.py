"""``NtkMethod.TRACE`` (class structure): Θ ≈ Θ₁ ⊗ I_C from k shared ±1 probes.

.. math::
    Θ_1 = \\frac{1}{kC} \\sum_{r} (r^\\top J_i)(r^\\top J_j)^\\top, \\qquad r ∈ \\{±1\\}^C,

with each probed gradient ``rᵀJ_i`` count-sketched to D′ buckets (or kept exact when
``projection_dim`` is ``None``). Because r_c² = 1, ``E_r[(rᵀJ_i)(rᵀJ_j)ᵀ] = Σ_c J_ic J_jcᵀ``:
Θ₁ estimates the class-mean of the diagonal blocks, ``(1/C) tr_c Θ``.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from ._countsketch import sketch_reduction
from ._estimator import Estimate, Plan, Problem
from ._exact import RAW
from ._grads import GramAcc, contract_gram, plan_gradients


@dataclasses.dataclass(frozen=True)
class TraceEstimator:
    """``Θ₁`` from ``config.probes`` probes; ``Θ = Θ₁ ⊗ I_C`` and the ``[N, k·D′]`` factor."""

    def plan(self, problem: Problem) -> Plan:
        k_probe, _k_feat = jax.random.split(problem.key)
        cfg = problem.config
        probes = jax.random.rademacher(k_probe, (cfg.probes, problem.outputs), dtype=problem.dtype)
        exact = cfg.projection_dim is None
        reduction = RAW if exact else sketch_reduction(problem)
        return plan_gradients(problem, reduction, cotangents=probes)

    def contract(
        self, problem: Problem, plan: Plan, index: int, outputs: np.ndarray, acc: GramAcc | None
    ) -> GramAcc:
        keep = problem.config.projection_dim is not None
        return contract_gram(problem, outputs, acc, keep_features=keep)

    def finalize(self, problem: Problem, plan: Plan, acc: GramAcc) -> Estimate:
        c = problem.outputs
        rows = int(plan.info.shape[0])
        theta_per_class = acc.theta / (rows * c)
        theta = np.kron(theta_per_class, np.eye(c, dtype=acc.theta.dtype))
        features = acc.features
        if features is not None:
            features = features.reshape(problem.n, rows * features.shape[1]) / np.sqrt(
                rows * c
            ).astype(features.dtype)
        probes = np.asarray(plan.info).tolist()
        return Estimate(theta, features, theta_per_class, {"probes": probes})
