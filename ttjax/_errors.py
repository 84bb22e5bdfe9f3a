"""Errors raised for bad user input.

Every error names the problem *and* the fix. They subclass the builtin that a
user would catch anyway (``ValueError``, ``FileNotFoundError``, ``MemoryError``)
so that generic handlers keep working, and :class:`TTJaxError` so that the CLI
can print them without a traceback.
"""

from __future__ import annotations


class TTJaxError(Exception):
    """Base class of every error ttjax raises on purpose."""


class ConfigError(TTJaxError, ValueError):
    """An option is unknown, out of range, or inconsistent with another one."""


class DataError(TTJaxError, ValueError):
    """The data has the wrong shape/dtype, labels out of range, NaNs, too few images."""


class WeightsError(TTJaxError, ValueError):
    """A weights file is missing, corrupt, or does not match the model."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """A weights file is not on disk and cannot be downloaded."""


class StabilityError(TTJaxError, ValueError):
    """The learning rate is past the stability limit of the linearised model."""


class MemoryBudgetError(TTJaxError, MemoryError):
    """The requested computation cannot fit in the memory budget."""
