"""Array-shape aliases used across ttjax (jaxtyping).

Shapes are documented with jaxtyping and checked at run time only under pytest
(``tests/conftest.py`` installs the import hook). Dimension names:

* ``N``: examples in the training set, ``C``: outputs (classes), ``NC = N*C``.
* ``H W``: image height and width, ``T``: steps, ``M``: Monte-Carlo paths.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import jax
import numpy as np
from jaxtyping import Array, Float, Int, UInt8

PyTree: TypeAlias = Any
PRNGKey: TypeAlias = jax.Array

Images: TypeAlias = UInt8[np.ndarray, "N H W 3"]
Labels: TypeAlias = Int[np.ndarray, " N"]
FloatImages: TypeAlias = Float[Array, "N H W 3"]
Logits: TypeAlias = Float[Array, "N C"]
Kernel: TypeAlias = Float[Array, "NC NC"]
Curve: TypeAlias = Float[np.ndarray, " T1"]

__all__ = [
    "Array",
    "Curve",
    "Float",
    "FloatImages",
    "Images",
    "Int",
    "Kernel",
    "Labels",
    "Logits",
    "PRNGKey",
    "PyTree",
]
