"""Learning-rate schedules of the dynamics: :class:`ttjax._schedule.Schedule`, re-exported.

The schedule lives in :mod:`ttjax._schedule` (next to :class:`ttjax.Hyperparams`, which holds
it) so that the configuration does not import the dynamics.
"""

from .._schedule import Schedule as Schedule
from .._schedule import ScheduleKind as ScheduleKind

__all__ = ["Schedule", "ScheduleKind"]
