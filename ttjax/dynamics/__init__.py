"""Function-space dynamics of the linearised network (paper eq. 1, §3–4, suppl. A, E).

Build a :class:`Problem` (Θ, f0, labels, loss) once, then :func:`simulate` GD/SGD for
any hyper-parameters (or :func:`simulate_grid` for a grid) without recompiling.
"""

from ._closed_form import mse_loss_curve as mse_loss_curve
from ._config import DEFAULT_DYNAMICS as DEFAULT_DYNAMICS
from ._config import DriftModel as DriftModel
from ._config import DynamicsConfig as DynamicsConfig
from ._config import MomentumMode as MomentumMode
from ._config import NoiseModel as NoiseModel
from ._config import OdeSolver as OdeSolver
from ._config import TimeMode as TimeMode
from ._config import with_schedule_of as with_schedule_of
from ._drift import fit_alignment as fit_alignment
from ._limits import batch_edge_ratio as batch_edge_ratio
from ._problem import Problem as Problem
from ._schedule import Schedule as Schedule
from ._schedule import ScheduleKind as ScheduleKind
from ._simulate import GridResult as GridResult
from ._simulate import Method as Method
from ._simulate import Trajectories as Trajectories
from ._simulate import check_stability as check_stability
from ._simulate import compile_count as compile_count
from ._simulate import kernel_scale_schedule as kernel_scale_schedule
from ._simulate import max_stable_lr as max_stable_lr
from ._simulate import simulate as simulate
from ._simulate import simulate_grid as simulate_grid
from ._stability import curvature as curvature

__all__ = [
    "DEFAULT_DYNAMICS",
    "DriftModel",
    "DynamicsConfig",
    "GridResult",
    "Method",
    "MomentumMode",
    "NoiseModel",
    "OdeSolver",
    "Problem",
    "Schedule",
    "ScheduleKind",
    "TimeMode",
    "Trajectories",
    "batch_edge_ratio",
    "check_stability",
    "compile_count",
    "curvature",
    "fit_alignment",
    "kernel_scale_schedule",
    "max_stable_lr",
    "mse_loss_curve",
    "simulate",
    "simulate_grid",
    "with_schedule_of",
]
