"""Real fine-tuning (the ground truth) and per-step timing."""

from ._finetune import FinetuneResult as FinetuneResult
from ._finetune import finetune as finetune
from ._observe import Observation as Observation
from ._observe import observe_steps as observe_steps
from ._timing import measure_step_time as measure_step_time

__all__ = ["FinetuneResult", "Observation", "finetune", "measure_step_time", "observe_steps"]
