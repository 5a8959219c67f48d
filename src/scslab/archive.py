"""A checkpoint's container: a zip of `.npy` members (readable with `np.load`), every byte of which is checked
on reading.

Each array member's CRC-32 is checked by reading it to its end (zipfile checks it there; `np.load`
alone does not), and its dtype, shape, size and CRC must equal what the manifest records. The
manifest itself is protected by a SHA-256 digest kept in its own member. Any damage (a flipped
byte anywhere that matters, truncation, an empty file, another file) is a `DamagedError` error, which
callers turn into one line.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

MANIFEST = "__manifest__"
DIGEST = "__digest__"
SUFFIX = ".npy"
MAX_MANIFEST_BYTES = 256 * 2**20
# What zipfile and numpy's header parser raise on damaged input (besides DamagedError).
READ_ERRORS = (
    OSError, EOFError, ValueError, KeyError, IndexError, TypeError, RuntimeError, NotImplementedError,
    OverflowError, struct.error, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, SyntaxError,
)  # fmt: skip


class DamagedError(Exception):
    """A checkpoint file that is not what scslab wrote: the message says what is wrong."""


def write_archive(path: Path, arrays: dict[str, np.ndarray], manifest: dict[str, Any]) -> None:
    """Write `arrays` and `manifest` (which gains `arrays`: each member's dtype, shape, size, CRC-32) to `path`."""
    entries: dict[str, Any] = {}
    with open(path, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            _put(zf, name, array)
            info = zf.getinfo(name + SUFFIX)
            entries[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "size": info.file_size,
                             "crc32": info.CRC}  # fmt: skip
        text = json.dumps({**manifest, "arrays": entries}).encode()
        _put(zf, MANIFEST, np.frombuffer(text, dtype=np.uint8))
        _put(zf, DIGEST, np.frombuffer(hashlib.sha256(text).hexdigest().encode(), dtype=np.uint8))


def _put(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with zf.open(name + SUFFIX, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class Archive:
    """An open checkpoint file: its manifest (digest checked), and its arrays, each checked as it is read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.file_size = os.path.getsize(path)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise DamagedError(f"cannot be read: {exc.strerror or type(exc).__name__}") from None
        if self.file_size == 0:
            raise DamagedError("empty file")
        try:
            self.zf = zipfile.ZipFile(path)
        except READ_ERRORS as exc:
            raise DamagedError(f"not a checkpoint archive: {_reason(exc)}") from None
        self.entries: dict[str, Any] = {}

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.zf.close()

    def manifest(self) -> Any:
        """The manifest, parsed from JSON, after its digest is checked."""
        text = self._member(MANIFEST, "|u1", None).tobytes()
        digest = self._member(DIGEST, "|u1", [64]).tobytes()
        if hashlib.sha256(text).hexdigest().encode() != digest:
            raise DamagedError("the manifest does not match its digest")
        try:
            return json.loads(text.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise DamagedError(f"manifest is not JSON: {_reason(exc)}") from None

    def expect(self, entries: dict[str, Any]) -> None:
        """The members the manifest lists: no other member may be in the file."""
        self.entries = entries
        names = set(self.zf.namelist())
        wanted = {n + SUFFIX for n in (*entries, MANIFEST, DIGEST)}
        if names != wanted:
            extra, missing = sorted(names - wanted), sorted(wanted - names)
            raise DamagedError(f"members differ from the manifest (extra {extra[:3]}, missing {missing[:3]})")

    def array(self, name: str) -> np.ndarray:
        """Array `name`, after its CRC, dtype, shape and size are checked against the manifest."""
        entry = self.entries[name]
        array = self._member(name, entry["dtype"], entry["shape"])
        info = self.zf.getinfo(name + SUFFIX)
        if info.CRC != entry["crc32"] or info.file_size != entry["size"]:
            raise DamagedError(f"array {name}: CRC or size differs from the manifest")
        return array

    def _member(self, name: str, dtype: str, shape: list[int] | None) -> np.ndarray:
        try:
            info = self.zf.getinfo(name + SUFFIX)
            if info.file_size > self.file_size or info.compress_type != zipfile.ZIP_STORED:
                raise DamagedError(f"member {name}: size or compression is not what scslab writes")
            with self.zf.open(info) as member:
                return _read_npy(member, name, dtype, shape, info.file_size)
        except DamagedError:
            raise
        except READ_ERRORS as exc:
            raise DamagedError(f"member {name}: {_reason(exc)}") from None


def _read_npy(member: IO[bytes], name: str, dtype: str, shape: list[int] | None, size: int) -> np.ndarray:
    """One `.npy` member, read to its end (which checks its CRC-32)."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        found_shape, fortran, found_dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        found_shape, fortran, found_dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise DamagedError(f"member {name}: npy version {version}")
    if found_dtype.hasobject or found_dtype.str != dtype:
        raise DamagedError(f"member {name}: dtype {found_dtype.str} (expected {dtype})")
    if shape is not None and list(found_shape) != shape:
        raise DamagedError(f"member {name}: shape {list(found_shape)} (expected {shape})")
    if not all(isinstance(n, int) and n >= 0 for n in found_shape):
        raise DamagedError(f"member {name}: shape {found_shape}")
    nbytes = math.prod(found_shape) * found_dtype.itemsize
    if nbytes > size:
        raise DamagedError(f"member {name}: {nbytes} bytes of data in a member of {size}")
    out = np.empty(found_shape[::-1] if fortran else found_shape, dtype=found_dtype)
    view = out.reshape(-1).view(np.uint8)
    done = 0
    while done < nbytes:
        chunk = member.read(min(nbytes - done, 2**24))
        if not chunk:
            raise DamagedError(f"member {name}: data cut short")
        view[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        done += len(chunk)
    if member.read(1):
        raise DamagedError(f"member {name}: data past the array")
    return out.T if fortran else out


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
