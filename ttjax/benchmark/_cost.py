"""Wall-clock estimate of a benchmark grid before running it (``ttjax benchmark --dry-run``).

Per case, with b the measured seconds per example of one compiled training step of the
backbone, a the per-step overhead, c its compile time, N examples, B the batch (N for GD), C
classes and T steps:

    real run   ≈ c + T·(a + b·B + b·N/3)       (a step on B examples, then the full-set loss
                                                after every step: a forward ≈ 1/3 of a step)
    prediction ≈ c + (1 + C)/3 · b·N            (Θ: one forward + C data-gradient backward
                                                passes per example, KRONECKER)

b, a, c come from ``scripts/bench_v2_cost.py`` (``STEP_COST`` below, measured on the 2-core
development CPU while other jobs ran, so they are on the high side). Backbones without a
measurement are reported as unknown.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence

from ._case import BenchmarkCase
from ._grid_v2 import backbone_label


@dataclasses.dataclass(frozen=True)
class StepCost:
    """Measured cost of one GD training step: ``a + b·B`` seconds, plus compile seconds."""

    per_example_s: float
    intercept_s: float
    compile_s: float


STEP_COST: Mapping[str, StepCost] = {
    # scripts/bench_v2_cost.py --batches 10 50, 2-core CPU shared with 3 other jobs.
}


@dataclasses.dataclass(frozen=True)
class CaseCost:
    """Estimated seconds of one case (``None``: no measurement for its backbone)."""

    backbone: str
    real_s: float | None
    predict_s: float | None


def estimate_case(case: BenchmarkCase, costs: Mapping[str, StepCost] = STEP_COST) -> CaseCost:
    """Estimated real-run and prediction seconds of ``case`` (see the module docstring).

    Example:
        >>> from ttjax.benchmark._grid import GridPreset, benchmark_grid
        >>> case = benchmark_grid(preset=GridPreset.TINY)[0]
        >>> c = estimate_case(case, {"tiny@8": StepCost(0.01, 0.1, 2.0)})
        >>> round(c.real_s, 3)  # 2 + 6·(0.1 + 0.01·8 + 0.01·8/3)
        3.24
    """
    label = backbone_label(case.task.to_dict())
    cost = costs.get(label)
    if cost is None:
        return CaseCost(backbone=label, real_s=None, predict_s=None)
    n = case.task.classes * case.task.per_class
    b = case.hparams.resolved_batch_size(n)
    per = cost.per_example_s
    real = cost.compile_s + case.hparams.steps * (cost.intercept_s + per * b + per * n / 3)
    predict = cost.compile_s + (1 + case.task.classes) / 3 * per * n
    return CaseCost(backbone=label, real_s=real, predict_s=predict)


def format_cost(cases: Sequence[BenchmarkCase], costs: Mapping[str, StepCost] = STEP_COST) -> str:
    """A table of the estimated cost per backbone and in total (for ``--dry-run``)."""
    from rich.console import Console
    from rich.table import Table

    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    unknown: set[str] = set()
    for case in cases:
        c = estimate_case(case, costs)
        row = sums[c.backbone]
        row[0] += 1
        if c.real_s is None or c.predict_s is None:
            unknown.add(c.backbone)
            continue
        row[1] += c.real_s
        row[2] += c.predict_s
        row[3] = max(row[3], c.real_s)
    t = Table(title=f"Estimated cost of {len(cases)} cases on this machine (dry run)")
    for col in ("backbone", "cases", "real runs", "predictions", "slowest case (real)"):
        t.add_column(col, justify="right")
    total = [0.0, 0.0]
    for label, (n, real, pred, worst) in sorted(sums.items()):
        if label in unknown:
            t.add_row(label, str(int(n)), "unknown", "unknown", "–")
            continue
        total[0] += real
        total[1] += pred
        t.add_row(label, str(int(n)), _hms(real), _hms(pred), _hms(worst))
    t.add_row("total", str(len(cases)), _hms(total[0]), _hms(total[1]), "")
    console = Console(record=True, width=110, force_terminal=False)
    console.print(t)
    if unknown:
        console.print(f"no step-time measurement for {sorted(unknown)}: not in the total.")
    return console.export_text()


def _hms(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
