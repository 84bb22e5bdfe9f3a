"""Wall-clock estimate of a benchmark grid before running it (``ttjax benchmark --dry-run``).

Per case, with s(B) the measured seconds of one compiled training step on a batch of B, c the
compile time, N examples, B the batch (N for GD), C classes and T steps:

    real run   ≈ c + T·(s(B) + s(N)/3)          (a step on B examples, then the full-set loss
                                                after every step: a forward ≈ 1/3 of a step)
    prediction ≈ c + (1 + C)/3 · s(N)           (Θ: one forward + C data-gradient backward
                                                passes per example, KRONECKER)

s(B) interpolates the measured batch sizes linearly (see :meth:`StepCost.step_s`).
The measurements (``STEP_COST``) come from ``scripts/bench_v2_cost.py`` on the 2-core
development CPU while three other jobs ran (load average 11–14): ``small_cnn``'s step then took
≈ 5× its time in ``results/benchmark_default.jsonl``, so the estimate is on the high side.
Backbones without a measurement are reported as unknown.
"""

from __future__ import annotations

import dataclasses
import io
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from ._case import BenchmarkCase
from ._grid_v2 import backbone_label


@dataclasses.dataclass(frozen=True)
class StepCost:
    """Measured seconds of one GD training step at some batch sizes, plus compile seconds."""

    points: tuple[tuple[int, float], ...]
    compile_s: float

    def step_s(self, batch: int) -> float:
        """s(B): piecewise linear through the measured batch sizes, extended with the last
        segment's slope above them and proportionally to B below them.

        Example:
            >>> cost = StepCost(points=((10, 1.0), (50, 3.0)), compile_s=0.0)
            >>> cost.step_s(30), cost.step_s(90), cost.step_s(5)
            (2.0, 5.0, 0.5)
        """
        pts = sorted(self.points)
        (b_lo, s_lo), (b_hi, s_hi) = pts[0], pts[-1]
        if batch <= b_lo:
            return s_lo * batch / b_lo
        if batch >= b_hi:
            if len(pts) < 2:
                return s_hi * batch / b_hi
            (b_prev, s_prev) = pts[-2]
            return s_hi + (s_hi - s_prev) / (b_hi - b_prev) * (batch - b_hi)
        return float(np.interp(batch, [b for b, _ in pts], [v for _, v in pts]))


STEP_COST: Mapping[str, StepCost] = {
    # scripts/bench_v2_cost.py --batches 10 50 (median of 3 steps after 1 warm-up), shared CPU.
    "small_cnn@28": StepCost(points=((10, 0.278), (50, 1.061)), compile_s=29.7),
    "resnet18@32": StepCost(points=((10, 0.730), (50, 1.244)), compile_s=61.3),
    "efficientnet_lite0@64": StepCost(points=((10, 0.472), (50, 5.415)), compile_s=75.7),
    "efficientnet_lite0@96": StepCost(points=((10, 1.364), (50, 15.932)), compile_s=64.6),
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
        >>> from ttjax.benchmark import GridPreset, benchmark_grid
        >>> case = benchmark_grid(preset=GridPreset.TINY)[0]  # GD, N = 8, T = 6
        >>> cost = StepCost(points=((4, 0.1), (8, 0.2)), compile_s=2.0)
        >>> c = estimate_case(case, {"tiny@8": cost})
        >>> round(c.real_s, 3)  # 2 + 6·(0.2 + 0.2/3)
        3.6
    """
    label = backbone_label(case.task.to_dict())
    cost = costs.get(label)
    if cost is None:
        return CaseCost(backbone=label, real_s=None, predict_s=None)
    n = case.task.classes * case.task.per_class
    full = cost.step_s(n)
    step = cost.step_s(case.hparams.resolved_batch_size(n))
    real = cost.compile_s + case.hparams.steps * (step + full / 3)
    predict = cost.compile_s + (1 + case.task.classes) / 3 * full
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
    t = Table(
        title=f"Estimated cost of {len(cases)} cases (step times measured on the shared 2-core "
        "CPU, see ttjax/benchmark/_cost.py)"
    )
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
    console = Console(record=True, width=110, force_terminal=False, file=io.StringIO())
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
