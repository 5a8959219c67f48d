"""Files and directories that appear complete or not at all: written beside their target, then renamed.

A write that fails (disk full, read-only filesystem, permissions, I/O error) removes its staging
file or folder and ends in one `WriteError` line; whatever was at the target before is untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scslab.errors import ScslabError, WriteError

STAGING_RE = r"\.{name}\.[0-9a-f]{{12}}\.tmp"
STAGING_EXTRA = len(".") + len(".0123456789ab.tmp")  # what a staging name adds to its target's name


def staging_name(path: Path) -> Path:
    """A hidden, unique sibling of `path` to write before renaming."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def staging_leftovers(path: Path) -> list[Path]:
    """The staging files and folders of `path` that a killed writer left beside it (recognised by name)."""
    pattern = re.compile(STAGING_RE.format(name=re.escape(path.name)))
    try:
        return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))
    except OSError:
        return []


def remove_leftovers(path: Path) -> None:
    """Remove `path`'s staging leftovers; call it only while holding the lock on `path`."""
    for leftover in staging_leftovers(path):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error(path: Path, exc: OSError) -> WriteError:
    """An OSError met while writing `path`, as one line."""
    return WriteError(f"{path}: cannot write ({exc.strerror or type(exc).__name__})")


def write_file(path: Path, write: Callable[[Path], object], durable: bool = False) -> Path:
    """Have `write` fill a staging file, then rename it to `path`; with `durable`, fsync file and folder."""
    path = Path(path)
    tmp = staging_name(path)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        _discard(tmp)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def _discard(tmp: Path) -> None:
    try:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_tree(folder: Path) -> None:
    """fsync every file under `folder`, then the folders, so that a rename of `folder` publishes whole files."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(root))


def write_text(path: Path, text: str, durable: bool = False) -> Path:
    """Write a UTF-8 text file atomically."""
    return write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), durable)


def write_json(path: Path, data: Any) -> Path:
    """Write `data` as indented JSON, atomically."""
    return write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_parquet(frame: Any, path: Path) -> Path:
    """Write a DataFrame as Parquet, atomically."""
    return write_file(path, lambda tmp: frame.to_parquet(tmp, index=False))


@contextmanager
def new_directory(target: str | Path) -> Iterator[Path]:
    """A staging directory that becomes `target` when the block ends without error, else vanishes."""
    target = Path(target)
    if target.exists():
        raise ScslabError(f"{target}: output directory already exists (allowed: a new directory)")
    staging = staging_name(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        yield staging
        _fsync_tree(staging)
        os.replace(staging, target)
    except BaseException as exc:
        _discard(staging)
        if isinstance(exc, OSError):
            raise write_error(target, exc) from None
        raise
    fsync_dir(target.parent)
