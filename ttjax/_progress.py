"""Progress on stderr, the one helper every stage uses (Θ blocks, fine-tuning, benchmark, solve).

Two shapes: a bar over a known number of items (:func:`progress_bar`) and a spinner around one
stage of unknown length that also records its wall-clock (:func:`stage`). Both do nothing but
count time when ``enabled`` is False, so library code calls them unconditionally; ``rich`` is
imported only when something is shown.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, Protocol


class Ticker(Protocol):
    """What :func:`progress_bar` yields: ``tick()`` advances one item, ``tick(status=...)`` also
    shows a status text after the count; ``describe(text)`` replaces the label."""

    def __call__(self, status: str | None = None) -> None: ...

    def describe(self, text: str) -> None: ...


class _Silent:
    def __call__(self, status: str | None = None) -> None:
        del status

    def describe(self, text: str) -> None:
        del text


class _RichTicker:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def __call__(self, status: str | None = None) -> None:
        if status is None:
            self._bar.advance(self._task)
        else:
            self._bar.update(self._task, advance=1, status=status)

    def describe(self, text: str) -> None:
        self._bar.update(self._task, description=text)


@contextlib.contextmanager
def progress_bar(
    enabled: bool, total: int, label: str, *, unit: str = "steps", transient: bool = False
) -> Iterator[Ticker]:
    """A bar ``label ━━━━ k/total unit  status  elapsed  remaining`` on stderr (or nothing).

    Args:
        enabled: show it; False yields a ticker that does nothing.
        total: number of items.
        label: the text before the bar (``ticker.describe`` changes it).
        unit: the items' name after the count (``steps``, ``blocks``, ``cases``).
        transient: erase the bar when done.

    Example:
        >>> with progress_bar(False, 3, "fine-tuning") as tick:
        ...     for _ in range(3):
        ...         tick(status="loss 0.1")
    """
    if not enabled:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=transient,
    ) as bar:
        yield _RichTicker(bar, bar.add_task(label, total=total, status=""))


@contextlib.contextmanager
def stage(timing: dict[str, float], name: str, *, enabled: bool, text: str) -> Iterator[None]:
    """Time a stage into ``timing[name]`` (seconds), with a spinner showing ``text`` if enabled.

    Example:
        >>> timing = {}
        >>> with stage(timing, "solve", enabled=False, text="solving"):
        ...     pass
        >>> list(timing)
        ['solve']
    """
    start = time.perf_counter()
    if enabled:
        from rich.console import Console

        with Console(stderr=True).status(text):
            yield
    else:
        yield
    timing[name] = time.perf_counter() - start


__all__ = ["Ticker", "progress_bar", "stage"]
