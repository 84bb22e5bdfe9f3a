"""Real fine-tuning (the ground truth) and per-step timing."""

from ._finetune import FinetuneResult as FinetuneResult
from ._finetune import finetune as finetune
from ._timing import measure_step_time as measure_step_time

__all__ = ["FinetuneResult", "finetune", "measure_step_time"]
