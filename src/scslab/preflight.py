"""Checks on an output path before a run starts, so that a run does not fail at its end on a path it
could never have written: the folder above it, name and path length, pseudo-filesystems, free space."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from scslab.atomic import STAGING_EXTRA
from scslab.errors import ResourceError, WriteError

# Filesystems that hold no files of ours (kernel views, device nodes, control files).
PSEUDO_FILESYSTEMS = frozenset(
    "proc sysfs devtmpfs devpts cgroup cgroup2 debugfs tracefs securityfs configfs pstore bpf fusectl efivarfs "
    "mqueue hugetlbfs binfmt_misc autofs rpc_pipefs nsfs".split()
)
LONGEST_INSIDE = len("/.breakdowns.parquet.0123456789ab.tmp")  # the longest path a run writes inside its folder
MOUNTS = Path("/proc/self/mounts")


def existing_ancestor(path: Path) -> Path:
    """The nearest folder above `path` (or `path`'s parent itself) that exists."""
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_output(target: Path, need_bytes: int = 0) -> None:
    """A one-line error if a run could not write `target` (a new directory), before any work is done."""
    folder = existing_ancestor(target)
    if not folder.is_dir():
        raise WriteError(f"{target}: cannot write under {folder}, which is a file (allowed: a folder)")
    fstype = filesystem_type(folder)
    if fstype in PSEUDO_FILESYSTEMS:
        raise WriteError(f"{target}: {folder} is on a {fstype} pseudo-filesystem (allowed: a folder on a disk)")
    name_max, path_max = _limit(folder, "PC_NAME_MAX", 255), _limit(folder, "PC_PATH_MAX", 4096)
    longest_name = len(os.fsencode(target.name)) + STAGING_EXTRA
    if longest_name > name_max:
        raise WriteError(
            f"{target}: the name is too long once a temporary suffix is added "
            f"({longest_name} bytes; allowed: at most {name_max - STAGING_EXTRA})"
        )
    longest_path = len(os.fsencode(str(target.absolute()))) + STAGING_EXTRA + LONGEST_INSIDE
    if longest_path >= path_max:
        raise WriteError(
            f"{target}: the path is too long for the files a run writes ({longest_path} bytes; allowed: {path_max})"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f"{target}: {folder} is not writable (allowed: a folder this user can write)")
    if need_bytes:
        free = shutil.disk_usage(folder).free
        if need_bytes > free:
            raise ResourceError(
                f"{target}: the run needs about {need_bytes / 1e6:,.0f} MB on disk and {folder} has "
                f"{free / 1e6:,.0f} MB free (allowed: free space, or another --out)"
            )


def check_folder(folder: Path, option: str) -> None:
    """A one-line error if `folder` (an experiment's --root or --out, which may exist) could not be written."""
    if not folder.exists():
        check_output(folder)
        return
    if not folder.is_dir():
        raise WriteError(f"{option} {folder}: is a file (allowed: a folder)")
    fstype = filesystem_type(folder)
    if fstype in PSEUDO_FILESYSTEMS:
        raise WriteError(f"{option} {folder}: on a {fstype} pseudo-filesystem (allowed: a folder on a disk)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f"{option} {folder}: not writable (allowed: a folder this user can write)")


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError):
        return default


def filesystem_type(folder: Path) -> str:
    """The type of the filesystem `folder` is on, from the mount table ("" where unknown)."""
    try:
        lines = MOUNTS.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    real = os.path.realpath(folder)
    best, kind = "", ""
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind
