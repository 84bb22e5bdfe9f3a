"""Checks shared by the frozen config dataclasses' ``__post_init__``: enum fields given as
strings, integer fields given as floats.

A config field typed as an enum accepts the enum member or its string value (the CLI's
spelling, e.g. ``optimizer="sgd"``); anything else is a :class:`ConfigError` naming the allowed
values — an unchecked string would compare unequal to every member and silently select the
default branch (``"sgd"`` ran full-batch GD in ``simulate`` and SGD in ``finetune``).
"""

from __future__ import annotations

import enum
import numbers
from typing import Any, TypeVar

from ._errors import ConfigError

E = TypeVar("E", bound=enum.Enum)


def as_enum(cls: type[E], value: Any, *, name: str) -> E:
    """``value`` as a member of ``cls``: the member itself or its (case-insensitive) value.

    Raises:
        ConfigError: naming ``name`` and the allowed values.

    Example:
        >>> from ttjax import Optimizer
        >>> as_enum(Optimizer, "SGD", name="optimizer")
        <Optimizer.SGD: 'sgd'>
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        for member in cls:
            if isinstance(member.value, str) and member.value == value.lower():
                return member
    allowed = ", ".join(repr(m.value) for m in cls)
    raise ConfigError(
        f"{name} must be a {cls.__name__} or one of {allowed}, got {value!r} "
        f"(e.g. {name}={cls.__name__}.{next(iter(cls)).name})."
    )


def set_enum(obj: object, field: str, cls: type[enum.Enum]) -> None:
    """Replace ``obj.field`` (a frozen dataclass) by :func:`as_enum` of it, in place."""
    object.__setattr__(obj, field, as_enum(cls, getattr(obj, field), name=field))


def as_int(value: Any, *, name: str, minimum: int | None = None) -> int:
    """``value`` as a Python int (numpy integers included); a float, bool or string is refused.

    Raises:
        ConfigError: ``value`` is not an integer, or is below ``minimum``.

    Example:
        >>> import numpy as np
        >>> as_int(np.int64(8), name="steps", minimum=1)
        8
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be an integer, got {value!r}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be ≥ {minimum}, got {value}.")
    return value


def set_int(obj: object, field: str) -> None:
    """Replace ``obj.field`` (a frozen dataclass) by :func:`as_int` of it, in place (None kept;
    the field's range is the dataclass's own check)."""
    value = getattr(obj, field)
    if value is not None:
        object.__setattr__(obj, field, as_int(value, name=field))


def set_float(obj: object, field: str) -> None:
    """Replace ``obj.field`` (a frozen dataclass) by ``float`` of it; a string or an array of
    more than one number is refused."""
    value = getattr(obj, field)
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field} must be a number, got {value!r}.") from None
    object.__setattr__(obj, field, number)


def check_key(key: Any, *, name: str = "key") -> None:
    """Refuse anything that is not a JAX PRNG key (a typed ``jax.random.key`` or a raw uint32
    ``jax.random.PRNGKey``): a plain int fails deep inside JAX or flax otherwise.

    Raises:
        ConfigError: naming the argument and how to make a key.

    Example:
        >>> import jax
        >>> check_key(jax.random.key(0)); check_key(jax.random.PRNGKey(0))
    """
    import jax
    import numpy as np

    if isinstance(key, jax.Array | np.ndarray):
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            return
        if key.dtype == np.uint32 and key.ndim >= 1:
            return
    raise ConfigError(f"{name} must be a JAX PRNG key, e.g. {name}=jax.random.key(0), got {key!r}.")
