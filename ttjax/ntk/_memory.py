"""Peak-memory estimate of a Θ build and the choice of block sizes under a budget.

The estimate (bytes) of a build with example block B (per device), R gradient rows
per example, D selected parameters of which D_g in the current group, d features
per row, N examples and Θ of side M (= N·C):

    fixed     = 2·D_all·4 (params + a copy) + 8·D_g (sketch tables)
                + 2·N·R·d·s (features, host + device) + M²·a (Θ) [+ M²·8 spectrum copy]
    per block = B·R·D_g·s·3 (raw gradients, gathered copy, product)
                + B·R·d·s + chunk·D′·s (projection chunk)

with s the compute dtype's size and a the accumulation dtype's size. Activations
of the forward pass are not counted (their size is model-specific); the factor 3
on the gradients leaves room for them at the block sizes used here.
"""

from __future__ import annotations

import dataclasses
import os

import jax

from .._errors import MemoryBudgetError


def default_budget_bytes() -> int:
    """50% of available host RAM on CPU; 70% of the device memory on an accelerator."""
    dev = jax.devices()[0]
    if dev.platform != "cpu":
        stats = dev.memory_stats() or {}
        limit = stats.get("bytes_limit")
        if limit:
            return int(0.7 * limit)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(0.5 * int(line.split()[1]) * 1024)
    except OSError:
        pass
    pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(0.5 * pages)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Chosen block size and the estimate it gives."""

    example_block: int
    estimated_peak_bytes: int
    budget_bytes: int


def _gib(x: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if x >= scale:
            return f"{x / scale:.2f} {unit}"
    return f"{int(x)} B"


def balanced_block(n: int, block: int, n_devices: int = 1) -> int:
    """The smallest block that covers the ``⌈n / n_devices⌉`` examples per device in as few
    blocks as ``block`` does, so the last block carries the least padding (every block is
    computed at the full, padded size).

    Example:
        >>> balanced_block(200, 64)   # 4 blocks of 50, not 4 of 64 (56 rows of padding)
        50
        >>> balanced_block(16, 8), balanced_block(10, 64, n_devices=2)
        (8, 5)
    """
    per_device = max(1, -(-n // n_devices))
    blocks = -(-per_device // max(1, block))
    return -(-per_device // blocks)


def plan_blocks(
    *,
    n: int,
    rows: int,
    d_all: int,
    d_group: int,
    features: int,
    theta_side: int,
    itemsize: int,
    accum_itemsize: int,
    proj_chunk_bytes: int,
    budget: int,
    max_block: int,
    n_devices: int,
) -> Plan:
    """Largest example block (≤ ``max_block``) whose estimated peak fits ``budget``, then
    balanced (:func:`balanced_block`: as many blocks, the least padding).

    Raises:
        MemoryBudgetError: if Θ plus the features alone, or the smallest block, do not fit.
    """
    fixed = (
        2 * d_all * 4
        + 8 * d_group
        + 2 * n * rows * features * itemsize
        + 2 * theta_side**2 * accum_itemsize
    )
    if fixed > budget:
        raise MemoryBudgetError(
            f"Θ ({theta_side}×{theta_side}) and its {n}×{rows}×{features} features need "
            f"≈ {_gib(fixed)}, over the memory budget of {_gib(budget)}. Use fewer examples, "
            "NtkMethod.TRACE (an N×N Θ₁), a smaller projection_dim, a param_block for EXACT, "
            "or raise memory_budget_bytes."
        )
    per_example = rows * d_group * itemsize * 3 + rows * features * itemsize
    per_block = n_devices * per_example
    avail = budget - fixed - proj_chunk_bytes * n_devices
    block = min(max_block, max(1, -(-n // n_devices)), avail // per_block if avail > 0 else 0)
    block = balanced_block(n, block, n_devices) if block >= 1 else block
    if block < 1:
        raise MemoryBudgetError(
            f"even one example per device needs ≈ {_gib(fixed + per_block + proj_chunk_bytes)} "
            f"(per-example gradients {_gib(per_example)}), over the memory budget of "
            f"{_gib(budget)}. Lower example_block/projection_chunk, restrict parameters "
            "with param_filter, use a param_block for EXACT, or raise memory_budget_bytes."
        )
    peak = fixed + block * per_block + proj_chunk_bytes * n_devices
    return Plan(example_block=int(block), estimated_peak_bytes=int(peak), budget_bytes=budget)


def max_group_params(
    *,
    n: int,
    rows: int,
    d_all: int,
    itemsize: int,
    theta_side: int,
    accum_itemsize: int,
    budget: int,
) -> int:
    """Largest parameter group for ``EXACT`` whose features and one example fit the budget
    (the :func:`plan_blocks` estimate solved for D_g with d = D_g and B = 1)."""
    room = budget - 2 * d_all * 4 - 2 * theta_side**2 * accum_itemsize
    return max(1, room // (8 + 2 * n * rows * itemsize + 4 * rows * itemsize))


def plan_kron_blocks(
    *,
    n: int,
    outputs: int,
    activation_elems: int,
    patch_elems: int,
    features: int,
    gram_elems: int,
    theta_side: int,
    itemsize: int,
    accum_itemsize: int,
    budget: int,
    max_block: int,
    n_devices: int,
) -> Plan:
    """Example block for ``KRONECKER`` (balanced, :func:`balanced_block`): per example the
    tapped layers' inputs and outputs (``activation_elems``, kept for the backward pass,
    plus C cotangents of each), the largest layer's patches and its sketch, and C·D′
    features; fixed: Θ (twice), all features and the GRAM layers' inputs/cotangents
    (``gram_elems`` per example).

    Raises:
        MemoryBudgetError: if Θ plus the features alone, or one example, do not fit.
    """
    fixed = 2 * theta_side**2 * accum_itemsize
    fixed += n * (2 * outputs * features + gram_elems) * itemsize
    if fixed > budget:
        raise MemoryBudgetError(
            f"Θ ({theta_side}×{theta_side}) and its {n}×{outputs}×{features} features need "
            f"≈ {_gib(fixed)}, over the memory budget of {_gib(budget)}. Use fewer examples, "
            "a smaller projection_dim, NtkMethod.TRACE (an N×N Θ₁), or raise memory_budget_bytes."
        )
    per_example = itemsize * (
        2 * activation_elems * (2 + outputs) + 3 * patch_elems + 2 * outputs * features
    )
    per_block = n_devices * per_example
    block = min(max_block, max(1, -(-n // n_devices)), (budget - fixed) // per_block)
    block = balanced_block(n, block, n_devices) if block >= 1 else block
    if block < 1:
        raise MemoryBudgetError(
            f"even one example per device needs ≈ {_gib(fixed + per_block)} (activations and "
            f"cotangents {_gib(per_example)}), over the memory budget of {_gib(budget)}. "
            "Restrict parameters with param_filter, lower projection_dim, or raise "
            "memory_budget_bytes."
        )
    peak = fixed + block * per_block
    return Plan(example_block=int(block), estimated_peak_bytes=int(peak), budget_bytes=budget)
