"""SIGINT and SIGTERM as an exception, `Stopped`, so that a command ends with one line and exit code 130 / 143.

`Stopped` is not an `Exception`, so nothing on its way swallows it (and typer does not turn it
into a silent exit, as it does a KeyboardInterrupt). A second signal while the first one's
stop is under way (closing worker processes, flushing the catalogue) exits at once.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNAL_NAMES: dict[int, str] = {int(signal.SIGINT): "SIGINT", int(signal.SIGTERM): "SIGTERM"}


class Stopped(BaseException):
    """A command stopped by SIGINT or SIGTERM; `hint` says what was kept and how to go on."""

    def __init__(self, signum: int, hint: str = "") -> None:
        super().__init__(SIGNAL_NAMES.get(signum, str(signum)))
        self.signum = signum
        self.hint = hint
        self.exit_code = 128 + signum  # 130 for SIGINT, 143 for SIGTERM

    @property
    def line(self) -> str:
        return f"stopped by {self}" + (f" ({self.hint})" if self.hint else "")


class _Deferral:
    """How many `deferred()` blocks are open, and the signal that came during them."""

    depth = 0
    pending: int | None = None


@contextmanager
def deferred() -> Iterator[None]:
    """A block that a stop must not cut: the stop comes at its end.

    For calls into libraries that check for signals themselves and turn the handler's exception into an
    error of their own (DuckDB: "Query interrupted"), and for a transaction that should end whole.
    """
    _Deferral.depth += 1
    try:
        yield
    finally:
        _Deferral.depth -= 1
    if _Deferral.depth == 0 and _Deferral.pending is not None:
        signum, _Deferral.pending = _Deferral.pending, None
        raise Stopped(signum)


@contextmanager
def raising_on_signals() -> Iterator[None]:
    """While active (in the main thread), SIGINT and SIGTERM raise `Stopped` (at the end of a `deferred()`
    block, inside one); a second signal exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping: list[int] = []

    def handle(signum: int, frame: FrameType | None) -> None:
        if stopping:
            os.write(2, f"error: stopped by {SIGNAL_NAMES.get(signum, signum)} again: exiting now\n".encode())
            os._exit(128 + signum)
        stopping.append(signum)
        if _Deferral.depth:
            _Deferral.pending = signum
            return
        raise Stopped(signum)

    previous: dict[int, Any] = {s: signal.signal(s, handle) for s in SIGNAL_NAMES}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ignore_interrupts() -> None:
    """In a worker process: leave SIGINT (a Ctrl-C reaches the whole process group) to the parent, which
    stops the workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
