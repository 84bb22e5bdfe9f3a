"""Image sources and the fine-tuning task sampler.

``load_source(spec)`` returns ``(uint8 [N,H,W,3], int64 [N])``; ``sample_task`` draws K random
classes × n images, resized to the model's input size, labels remapped to ``0..K−1``.
"""

from ._resize import resize_images as resize_images
from ._sources import FASHION_MNIST_DIR as FASHION_MNIST_DIR
from ._sources import load_fashion_mnist as load_fashion_mnist
from ._sources import read_idx as read_idx
from ._spec import SourceKind as SourceKind
from ._spec import SourceSpec as SourceSpec
from ._task import Task as Task
from ._task import load_source as load_source
from ._task import load_task as load_task
from ._task import sample_task as sample_task

__all__ = [
    "FASHION_MNIST_DIR",
    "SourceKind",
    "SourceSpec",
    "Task",
    "load_fashion_mnist",
    "load_source",
    "load_task",
    "read_idx",
    "resize_images",
    "sample_task",
]
