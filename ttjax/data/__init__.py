"""Image sources and the fine-tuning task sampler.

``load_source(spec)`` returns ``(uint8 [N,H,W,3], int64 [N])``; ``sample_task`` draws K random
classes × n images, resized to the model's input size, labels remapped to ``0..K−1``.
"""

from ._resize import resize_images as resize_images
from ._spec import SourceKind as SourceKind
from ._spec import SourceSpec as SourceSpec
from ._task import Task as Task
from ._task import load_source as load_source
from ._task import load_task as load_task
from ._task import sample_task as sample_task

__all__ = [
    "SourceKind",
    "SourceSpec",
    "Task",
    "load_source",
    "load_task",
    "resize_images",
    "sample_task",
]
