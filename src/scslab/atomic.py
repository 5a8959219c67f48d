"""Files and directories that appear complete or not at all: written beside their target, then renamed."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scslab.errors import ScslabError


def staging_name(path: Path) -> Path:
    """A hidden, unique sibling of `path` to write before renaming."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


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
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


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
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_name(target)
    staging.mkdir()
    try:
        yield staging
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
