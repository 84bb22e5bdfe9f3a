"""Real fine-tuning (the ground truth) and per-step timing."""

from ._finetune import FinetuneResult as FinetuneResult
from ._finetune import check_task as check_task
from ._finetune import finetune as finetune
from ._observe import Observation as Observation
from ._observe import observe_steps as observe_steps
from ._path import BUDGET as PATH_BUDGET
from ._path import PathWalk as PathWalk
from ._path import walk_predicted_path as walk_predicted_path
from ._path import walk_task_path as walk_task_path
from ._relinearise import Relinearised as Relinearised
from ._relinearise import relinearised_path as relinearised_path
from ._timing import StepTimer as StepTimer
from ._timing import measure_step_time as measure_step_time
from ._timing import start_step_timing as start_step_timing

__all__ = [
    "PATH_BUDGET",
    "FinetuneResult",
    "Observation",
    "PathWalk",
    "Relinearised",
    "StepTimer",
    "check_task",
    "finetune",
    "measure_step_time",
    "observe_steps",
    "relinearised_path",
    "start_step_timing",
    "walk_predicted_path",
    "walk_task_path",
]
