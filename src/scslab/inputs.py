"""Input files are regular files: a FIFO, a device or a folder is refused before anything waits on it.

A file is opened with O_NONBLOCK (so that opening a FIFO with no writer returns at once
instead of blocking forever), checked with fstat, and only then read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from scslab.errors import ScslabError

KINDS = (
    (stat.S_ISDIR, "is a folder"),
    (stat.S_ISFIFO, "is a named pipe (FIFO)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
)


def not_regular(mode: int) -> str | None:
    """What a file of this mode is, if it is not a regular file."""
    for test, what in KINDS:
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "is not a regular file"


def read_regular(
    path: str | Path, label: str, limit: int, allowed: str, error: type[ScslabError] = ScslabError
) -> bytes:
    """At most `limit` + 1 bytes of a regular file; anything else (missing, a FIFO, ...) is a one-line `error`.

    `allowed` ends the message: what the input accepts (e.g. "a TOML file").
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{label}: file not found") from None
    except IsADirectoryError:
        raise error(f"{label}: is a folder (allowed: {allowed})") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise error(f"{label}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        what = not_regular(os.fstat(fd).st_mode)
        if what is not None:
            raise error(f"{label}: {what} (allowed: {allowed})")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise error(f"{label}: cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def require_regular(path: str | Path, label: str, allowed: str) -> None:
    """Refuse a path that exists but is not a regular file (checked without opening it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        raise ScslabError(f"{label}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    what = not_regular(mode)
    if what is not None:
        raise ScslabError(f"{label}: {what} (allowed: {allowed})")
