"""Advisory locks on output folders: one process at a time writes a run directory and its checkpoint.

The lock is `flock(2)` on a hidden file beside the output (`.NAME.lock`), taken without waiting
and held for the run's whole life. The kernel releases it when the process dies, however it
dies, so a lock file left by a killed run is harmless: the next run takes it. A holder removes
the file before letting go; a taker checks that the file it locked is still the one at the
path, so removing it never lets two processes hold the lock at once. flock is not reliable on
NFS and some other network filesystems (docs/reliability.md).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from scslab.errors import ScslabError

LOCK_SUFFIX = ".lock"


def lock_path(target: Path) -> Path:
    """The lock file of output `target`."""
    return target.with_name(f".{target.name}{LOCK_SUFFIX}")


class OutputLock:
    """An exclusive lock on output `target`, held from `acquire()` to `release()`."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = lock_path(target)
        self.fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock now, or a one-line error naming the output if another process holds it."""
        while self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise ScslabError(f"{self.path}: cannot create the lock file ({describe(exc)})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise ScslabError(
                        f"{self.target}: another scslab run is writing it (allowed: wait for it to end)"
                    ) from None
                raise ScslabError(f"{self.path}: cannot lock ({describe(exc)})") from None
            if _same_file(fd, self.path):
                self.fd = fd
            else:  # the holder we waited on removed it: lock the new one
                os.close(fd)
        return self

    def release(self) -> None:
        """Remove the lock file and let go (a no-op when not held)."""
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    @property
    def held(self) -> bool:
        return self.fd is not None


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def describe(exc: OSError) -> str:
    """An OSError as a short phrase: its strerror, or its class name."""
    return exc.strerror or type(exc).__name__
