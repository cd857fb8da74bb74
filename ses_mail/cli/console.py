"""What the commands show a person at a terminal: progress for long runs, nothing when piped."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

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


@contextmanager
def counting(message: str, noun: str = "resources registered") -> Iterator[Callable[[int], None]]:
    """A live count for a long run: yields `tick(n)`, which shows `message: n <noun>` on stderr
    when it is a terminal (a no-op otherwise, so pipes, CI logs and tests see nothing)."""
    if not interactive():
        yield lambda count: None
        return
    with _stderr_console().status(f"{message}") as shown:
        last = [0]

        def tick(count: int) -> None:
            # Called from the SDK's worker threads; rich's status is redrawn by its own thread.
            if count - last[0] >= 10 or count < 10:
                last[0] = count
                shown.update(f"{message}: {count} {noun}")

        yield tick


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def status(message: str):
    """A spinner with `message` on stderr while a long step runs, when stderr is a terminal."""
    if not interactive():
        from contextlib import nullcontext
        return nullcontext()
    return _stderr_console().status(message)
