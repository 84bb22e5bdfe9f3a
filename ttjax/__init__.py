"""ttjax: predict how long fine-tuning a pretrained network takes — without training it.

The public API fits on one screen; everything else lives in private modules.

Example:
    >>> import jax, ttjax
    >>> model = ttjax.create_model("tiny", num_classes=2, image_size=8, weights=None,
    ...                            key=jax.random.key(0))
    >>> task = ttjax.load_task("digits", classes=2, per_class=8, image_size=8, seed=0)
    >>> hp = ttjax.Hyperparams(optimizer=ttjax.Optimizer.GD, lr=0.05, steps=20)
    >>> pred = ttjax.predict_training_time(model, task, hp, eps=(0.1,), paths=1,
    ...                                    key=jax.random.key(1), progress=False)
    >>> sorted(pred.training_time)
    [0.1]
"""

from importlib.metadata import PackageNotFoundError, version

from ._band import BAND_CALIBRATION as BAND_CALIBRATION
from ._band import BandCalibration as BandCalibration
from ._compile_cache import enable_compilation_cache as enable_compilation_cache
from ._config import Hyperparams as Hyperparams
from ._config import Loss as Loss
from ._config import Optimizer as Optimizer
from ._convergence import RunStatus as RunStatus
from ._convergence import classify_run as classify_run
from ._errors import ConfigError as ConfigError
from ._errors import DataError as DataError
from ._errors import MemoryBudgetError as MemoryBudgetError
from ._errors import StabilityError as StabilityError
from ._errors import TTJaxError as TTJaxError
from ._errors import WeightsError as WeightsError
from ._errors import WeightsNotFoundError as WeightsNotFoundError
from ._prediction import KernelDrift as KernelDrift
from ._prediction import kernel_drift as kernel_drift
from .data import Task as Task
from .data import load_source as load_source
from .data import load_task as load_task
from .data import sample_task as sample_task
from .dynamics import DriftModel as DriftModel
from .dynamics import DynamicsConfig as DynamicsConfig
from .dynamics import MomentumMode as MomentumMode
from .dynamics import NoiseModel as NoiseModel
from .dynamics import Schedule as Schedule
from .dynamics import TimeMode as TimeMode
from .dynamics import max_stable_lr as max_stable_lr
from .dynamics import simulate as simulate
from .models import Model as Model
from .models import available_models as available_models
from .models import create_model as create_model
from .ntk import NtkConfig as NtkConfig
from .ntk import NtkMethod as NtkMethod
from .ntk import NtkResult as NtkResult
from .ntk import compute_ntk as compute_ntk
from .ntk import eigh_spectrum as eigh_spectrum
from .ntk import linearize as linearize
from .plotting import plot_curves as plot_curves
from .predict import Prediction as Prediction
from .predict import predict_from_ntk as predict_from_ntk
from .predict import predict_training_time as predict_training_time
from .predict import task_ntk as task_ntk
from .train import FinetuneResult as FinetuneResult
from .train import Observation as Observation
from .train import finetune as finetune
from .train import measure_step_time as measure_step_time
from .train import observe_steps as observe_steps
from .training_time import TrainingTimeStats as TrainingTimeStats
from .training_time import epsilon_training_time as epsilon_training_time
from .training_time import training_time_stats as training_time_stats
from .weights import load_flax_variables as load_flax_variables
from .weights import load_torch_checkpoint as load_torch_checkpoint
from .weights import save_flax_variables as save_flax_variables

__all__ = [
    "BAND_CALIBRATION",
    "BandCalibration",
    "ConfigError",
    "DataError",
    "DriftModel",
    "DynamicsConfig",
    "FinetuneResult",
    "Hyperparams",
    "KernelDrift",
    "Loss",
    "MemoryBudgetError",
    "Model",
    "MomentumMode",
    "NoiseModel",
    "NtkConfig",
    "NtkMethod",
    "NtkResult",
    "Observation",
    "Optimizer",
    "Prediction",
    "RunStatus",
    "Schedule",
    "StabilityError",
    "TTJaxError",
    "Task",
    "TimeMode",
    "TrainingTimeStats",
    "WeightsError",
    "WeightsNotFoundError",
    "available_models",
    "classify_run",
    "compute_ntk",
    "create_model",
    "eigh_spectrum",
    "enable_compilation_cache",
    "epsilon_training_time",
    "finetune",
    "kernel_drift",
    "linearize",
    "load_flax_variables",
    "load_source",
    "load_task",
    "load_torch_checkpoint",
    "max_stable_lr",
    "measure_step_time",
    "observe_steps",
    "plot_curves",
    "predict_from_ntk",
    "predict_training_time",
    "sample_task",
    "save_flax_variables",
    "simulate",
    "task_ntk",
    "training_time_stats",
]

try:
    __version__ = version("ttjax")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
