"""Real fine-tuning (the ground truth) and per-step timing."""

from ._finetune import FinetuneResult as FinetuneResult
from ._finetune import finetune as finetune
from ._observe import Observation as Observation
from ._observe import observe_steps as observe_steps
from ._timing import StepTimer as StepTimer
from ._timing import measure_step_time as measure_step_time
from ._timing import start_step_timing as start_step_timing

__all__ = [
    "FinetuneResult",
    "Observation",
    "StepTimer",
    "finetune",
    "measure_step_time",
    "observe_steps",
    "start_step_timing",
]
