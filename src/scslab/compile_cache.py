"""numba's cache of compiled kernels: where none can be written (a read-only install, no writable home),
compile without a lasting cache instead of failing, and say so in one line.

numba looks for a writable folder for each kernel's source file: NUMBA_CACHE_DIR, then the
`__pycache__` beside the file, then the user's cache folder (~/.cache/numba); where none is
writable, `@njit(cache=True)` raises at import. This module checks the same folders before any
kernel is imported, and else points NUMBA_CACHE_DIR at a temporary folder removed at exit.
"""

from __future__ import annotations

import os
import sys

PACKAGE = os.path.dirname(os.path.abspath(__file__))
NOTE = (
    "note: no writable folder for numba's compiled kernels (NUMBA_CACHE_DIR, {package}, ~/.cache/numba): "
    "compiling them at every start (allowed: set NUMBA_CACHE_DIR to a writable folder)\n"
)


def writable(folder: str) -> bool:
    """Whether numba could keep its cache in `folder` (made if missing): a file can be created there."""
    probe = os.path.join(folder, f".scslab-probe-{os.getpid()}")
    try:
        os.makedirs(folder, exist_ok=True)
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except (OSError, ValueError):
        return False
    return True


def user_cache() -> str:
    """numba's user-wide cache folder on Linux (appdirs' rule)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "numba")


def has_a_cache() -> bool:
    """Whether every kernel of the package finds a folder that numba may write."""
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given and writable(given):
        return True
    folders = [top for top, dirs, files in os.walk(PACKAGE) if any(f.endswith(".py") for f in files)]
    if all(writable(os.path.join(folder, "__pycache__")) for folder in folders):
        return True
    return writable(user_cache())


def ensure() -> None:
    """Keep numba from failing where no cache can be written: a temporary cache, and one line on stderr."""
    if os.environ.get("NUMBA_DISABLE_JIT") == "1" or has_a_cache():
        return
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="scslab-numba-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # imported before scslab: its configuration is already read
        sys.modules["numba"].config.CACHE_DIR = folder
    sys.stderr.write(NOTE.format(package=PACKAGE))
