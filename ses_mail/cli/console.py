"""What the commands show a person at a terminal: progress for long runs, nothing when piped."""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def interactive(stream=None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


def progress(items: Iterable[T], what: str) -> Iterator[T]:
    """`items`, with a progress bar on stderr when it is a terminal (never in pipes, CI logs or tests)."""
    items = list(items)
    if not interactive() or len(items) < 2:
        yield from items
        return
    from rich.progress import track  # only for people at a terminal

    yield from track(items, description=what, console=_stderr_console(), transient=True)


def status(message: str):
    """A spinner with `message` on stderr while a long step runs, when stderr is a terminal."""
    if not interactive():
        from contextlib import nullcontext
        return nullcontext()
    return _stderr_console().status(message)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)
