"""``ttjax`` command line: thin wrappers that turn flags into library calls."""

from ._main import main as main

__all__ = ["main"]
