"""Checkpoints: the full state of a run on disk, written atomically, read without pickle, checked on reading.

A checkpoint is one `.npz` file: every array of the run (state, population, metric table)
as a plain numpy entry, plus `__manifest__`, a JSON document that gives the structure
(which object holds which array, scalars, the random streams' PCG64 states, the day), what
identifies the run (`meta`: scenario hash, seed, population size; the scslab version), and
each array's dtype, shape and CRC-32; `__digest__` holds the manifest's SHA-256 (archive.py).
Every field of the manifest is checked for its type before use, and every byte of the file is
checked, so a damaged file is one clear error, never a traceback or a wrong state. Objects are
rebuilt only from a fixed list of scslab classes; nothing is unpickled or executed. The file is
written beside its final name, fsynced, then renamed over it, so a kill at any moment leaves
the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from scslab.archive import MANIFEST, Archive, DamagedError, write_archive
from scslab.atomic import write_file
from scslab.engine import Midway
from scslab.errors import ScslabError
from scslab.inputs import require_regular
from scslab.model.ledgers import ScoreIndex
from scslab.model.listings import ListingLog
from scslab.model.metrics import MetricTable
from scslab.model.params import Compiled
from scslab.model.propensity import Propensity
from scslab.model.state import Calendar, DayCounters, IdSet, Kept, Scratch, State
from scslab.model.trace import Rows, Trace
from scslab.population.types import Layer, Population
from scslab.version import __version__

FORMAT = "scslab-checkpoint/3"  # 2: every byte checked (archive.py), the listing log; 3: the trace, pending actors
__all__ = ["MANIFEST", "load_checkpoint", "read_meta", "same_state", "save_checkpoint"]
# The only classes a checkpoint may rebuild (by name); `cp` is compiled again from the scenario.
CLASSES: dict[str, Any] = {
    cls.__name__: cls
    for cls in (
        State,
        Population,
        Layer,
        IdSet,
        Calendar,
        ScoreIndex,
        DayCounters,
        Scratch,
        Propensity,
        MetricTable,
        Kept,
        ListingLog,
        Trace,
        Rows,
    )
}
SKIP = {"State": ("cp", "scoring_arrays")}  # (scoring_arrays: views of the state's arrays, rebuilt on use)


class _Encoder:
    """Turns the run's objects into a JSON tree plus a dict of named arrays; shared objects stay shared."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, int] = {}  # id(object) -> reference number
        self.kept: list[Any] = []  # keeps encoded objects alive so that ids are not reused

    def encode(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            return {"n": value.item() if isinstance(value, np.generic) else value}
        if id(value) in self.seen:
            return {"ref": self.seen[id(value)]}
        ref = len(self.kept)
        self.seen[id(value)] = ref
        self.kept.append(value)
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise TypeError("object arrays cannot be checkpointed")
            name = f"a{len(self.arrays)}"
            self.arrays[name] = value
            return {"id": ref, "array": name}
        if isinstance(value, Calendar):
            return {"id": ref, "calendar": self._calendar(value)}
        if isinstance(value, dict):
            return {"id": ref, "dict": {str(k): self.encode(v) for k, v in value.items()}}
        if isinstance(value, (list, tuple)):
            kind = "list" if isinstance(value, list) else "tuple"
            return {"id": ref, kind: [self.encode(v) for v in value]}
        name = type(value).__name__
        if CLASSES.get(name) is not type(value):
            raise TypeError(f"{name} cannot be checkpointed")
        skip = SKIP.get(name, ())
        fields = {k: self.encode(v) for k, v in vars(value).items() if k not in skip}
        return {"id": ref, "object": name, "fields": fields}

    def _calendar(self, cal: Calendar) -> dict[str, Any]:
        """A calendar's slots flattened: per chunk (slot, length, dtypes), the columns joined by dtype."""
        chunks = []
        joined: dict[str, list[np.ndarray]] = {}
        for slot, items in enumerate(cal.slots):
            for columns in items:
                chunks.append([slot, int(columns[0].size), [c.dtype.str for c in columns]])
                for k, c in enumerate(columns):
                    joined.setdefault(f"{k}{c.dtype.str}", []).append(c)
        names = {}
        for key, parts in joined.items():
            names[key] = f"a{len(self.arrays)}"
            self.arrays[names[key]] = np.concatenate(parts)
        return {"n_slots": len(cal.slots), "chunks": chunks, "columns": names}


NODE_KEYS = (
    {"n"}, {"ref"}, {"id", "array"}, {"id", "calendar"}, {"id", "dict"}, {"id", "list"}, {"id", "tuple"},
    {"id", "object", "fields"},
)  # fmt: skip
PCG64_KEYS = {"bit_generator", "state", "has_uint32", "uinteger"}


class _Decoder:
    """The inverse of _Encoder: checks every node's type and rebuilds the objects from the archive's arrays."""

    def __init__(self, archive: Archive, cp: Compiled) -> None:
        self.archive = archive
        self.cp = cp
        self.refs: dict[int, Any] = {}

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, str)):
            return node
        if not isinstance(node, dict) or set(node) not in NODE_KEYS:
            raise DamagedError(f"unexpected node {_short(node)}")
        if "n" in node:
            if type(node["n"]) not in (int, float, bool):
                raise DamagedError(f"expected a number, found {_short(node['n'])}")
            return node["n"]
        if "ref" in node:
            ref = _need(node["ref"], int, "a reference")
            if ref not in self.refs:
                raise DamagedError(f"reference {ref} to nothing")
            return self.refs[ref]
        ref = _need(node["id"], int, "an id")
        if ref in self.refs:
            raise DamagedError(f"id {ref} defined twice")
        out: Any
        if "array" in node:
            name = _need(node["array"], str, "an array name")
            if name not in self.archive.entries:
                raise DamagedError(f"array {name!r} not in the manifest")
            out = self.archive.array(name)
        elif "calendar" in node:
            out = self._calendar(_need(node["calendar"], dict, "a calendar"))
        elif "dict" in node:
            out = {}
            self.refs[ref] = out
            out.update({k: self.decode(v) for k, v in _need(node["dict"], dict, "a dict").items()})
        elif "list" in node or "tuple" in node:
            items = [self.decode(v) for v in _need(node.get("list", node.get("tuple")), list, "a list")]
            out = items if "list" in node else tuple(items)
        else:
            out = self._object(ref, _need(node["object"], str, "a class name"), _need(node["fields"], dict, "fields"))
        self.refs[ref] = out
        return out

    def _object(self, ref: int, name: str, fields: dict[str, Any]) -> Any:
        cls = CLASSES.get(name)
        if cls is None:
            raise DamagedError(f"class {name[:40]!r} (allowed: {', '.join(sorted(CLASSES))})")
        out = cls.__new__(cls)
        self.refs[ref] = out
        if dataclasses.is_dataclass(cls):
            expected = {f.name for f in dataclasses.fields(cls)} - set(SKIP.get(name, ()))
            if set(fields) != expected:
                raise DamagedError(f"{name}: fields {sorted(set(fields) ^ expected)[:4]} differ from this version's")
        for k, v in fields.items():
            setattr(out, k, self.decode(v))
        if cls is State:
            out.cp = self.cp
        return out

    def _calendar(self, node: dict[str, Any]) -> Calendar:
        if set(node) != {"n_slots", "chunks", "columns"}:
            raise DamagedError("calendar: unexpected keys")
        n_slots = _need(node["n_slots"], int, "a slot count")
        columns = {}
        for key, name in _need(node["columns"], dict, "calendar columns").items():
            if not isinstance(name, str) or name not in self.archive.entries:
                raise DamagedError(f"calendar column {key!r}: no such array")
            columns[key] = self.archive.array(name)
        cal = Calendar.__new__(Calendar)
        cal.slots = [[] for _ in range(max(0, n_slots))]
        offset: dict[str, int] = {}
        for chunk_node in _need(node["chunks"], list, "calendar chunks"):
            if not (isinstance(chunk_node, list) and len(chunk_node) == 3):
                raise DamagedError("calendar chunk: not [slot, length, dtypes]")
            slot, length = _need(chunk_node[0], int, "a slot"), _need(chunk_node[1], int, "a length")
            dtypes = _need(chunk_node[2], list, "dtypes")
            if not (0 <= slot < n_slots and length >= 0):
                raise DamagedError(f"calendar chunk: slot {slot} or length {length} out of range")
            chunk = []
            for k, dtype in enumerate(dtypes):
                key = f"{k}{dtype}"
                start = offset.get(key, 0)
                if key not in columns or start + length > columns[key].shape[0]:
                    raise DamagedError(f"calendar chunk: column {key!r} missing or too short")
                chunk.append(np.array(columns[key][start : start + length]))
                offset[key] = start + length
            cal.slots[slot].append(tuple(chunk))
        return cal


def _need(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    """`value` if it is of `kind` (a bool is never a number here), else DamagedError."""
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise DamagedError(f"expected {what}, found {_short(value)}")
    return value


def _short(value: Any) -> str:
    return f"{type(value).__name__} {str(value)[:40]!r}"


def save_checkpoint(path: str | Path, progress: Midway, meta: dict[str, Any] | None = None) -> Path:
    """Write `progress` (state, table, random streams, day, profile) to `path`, atomically; `meta` identifies
    the run (runner.py puts the scenario's hash, the seed and the population size there)."""
    target = Path(path)
    enc = _Encoder()
    tree = {
        "state": enc.encode(progress.state),
        "table": enc.encode(progress.table),
    }
    manifest = {
        "format": FORMAT,
        "version": __version__,
        "day": progress.day,
        "elapsed": progress.elapsed,
        "profile": progress.profile,
        "rng": {name: g.bit_generator.state for name, g in progress.rng.items()},
        "tree": tree,
        "meta": meta or {},
    }
    return write_file(target, lambda tmp: write_archive(tmp, enc.arrays, manifest), durable=True)


def read_meta(path: str | Path) -> dict[str, Any]:
    """The manifest of a checkpoint (digest and field types checked), without its arrays."""
    with _open(path) as archive:
        return _manifest(path, archive)


def load_checkpoint(path: str | Path, cp: Compiled, expect: dict[str, Any] | None = None) -> Midway:
    """The run saved in `path`, ready to continue; `cp` is the compiled scenario it was run with.

    `expect` holds what identifies the run (keys of `meta`, and `version`): any difference is refused."""
    with _open(path) as archive:
        manifest = _manifest(path, archive)
        for key, wanted in (expect or {}).items():
            found = manifest["version"] if key == "version" else manifest["meta"].get(key)
            if found != wanted:
                raise ScslabError(
                    f"{path}: checkpoint of another run: {key} is {str(found)[:70]!r}, this run's is "
                    f"{str(wanted)[:70]!r} (allowed: the checkpoint this run wrote)"
                )
        try:
            dec = _Decoder(archive, cp)
            state = dec.decode(manifest["tree"]["state"])
            table = dec.decode(manifest["tree"]["table"])
            rng = {name: _generator(st) for name, st in manifest["rng"].items()}
        except DamagedError as exc:
            raise ScslabError(f"{path}: damaged checkpoint ({exc})") from None
    if not isinstance(state, State) or not isinstance(table, MetricTable):
        raise ScslabError(f"{path}: damaged checkpoint (no state or table)")
    if getattr(table, "days_done", None) != manifest["day"]:
        raise ScslabError(f"{path}: damaged checkpoint (the table's day differs from the manifest's)")
    profile = {str(k): float(v) for k, v in manifest["profile"].items()}
    return Midway(state, table, rng, manifest["day"], profile, float(manifest["elapsed"]))


def _open(path: str | Path) -> Archive:
    require_regular(path, str(path), "a checkpoint written by scslab run --checkpoint-every")
    try:
        return Archive(Path(path))
    except FileNotFoundError:
        raise ScslabError(f"{path}: no checkpoint (allowed: a run started with --checkpoint-every)") from None
    except DamagedError as exc:
        raise ScslabError(f"{path}: damaged checkpoint ({exc})") from None


def _manifest(path: str | Path, archive: Archive) -> dict[str, Any]:
    """The manifest, its digest and every top-level field's type checked."""
    try:
        manifest = archive.manifest()
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise ScslabError(f"{path}: unknown checkpoint format {str(found)[:40]!r} (allowed: {FORMAT})")
        _check_manifest(manifest)
        archive.expect(manifest["arrays"])
    except DamagedError as exc:
        raise ScslabError(f"{path}: damaged checkpoint ({exc})") from None
    return manifest


def _check_manifest(m: dict[str, Any]) -> None:
    """Every top-level field of a manifest has the type the writer gives it."""
    keys = {"format", "version", "day", "elapsed", "profile", "rng", "tree", "meta", "arrays"}
    if set(m) != keys:
        raise DamagedError(f"manifest keys {sorted(set(m) ^ keys)[:4]} differ")
    _need(m["version"], str, "a version")
    if _need(m["day"], int, "a day") < 0:
        raise DamagedError(f"day {m['day']}")
    _need(m["elapsed"], (int, float), "seconds")
    for value in _need(m["profile"], dict, "a profile").values():
        _need(value, (int, float), "seconds")
    for st in _need(m["rng"], dict, "random streams").values():
        if not isinstance(st, dict) or set(st) != PCG64_KEYS or st["bit_generator"] != "PCG64":
            raise DamagedError("a random stream that is not a PCG64 state")
        inner = _need(st["state"], dict, "a PCG64 state")
        if set(inner) != {"state", "inc"} or not all(type(inner[k]) is int and inner[k] >= 0 for k in inner):
            raise DamagedError("a PCG64 state that is not two integers")
        _need(st["has_uint32"], int, "a flag")
        _need(st["uinteger"], int, "an integer")
    if set(_need(m["tree"], dict, "a tree")) != {"state", "table"}:
        raise DamagedError("tree: not state and table")
    _need(m["meta"], dict, "meta")
    for entry in _need(m["arrays"], dict, "arrays").values():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "size", "crc32"}:
            raise DamagedError("an array entry that is not dtype, shape, size, crc32")
        _need(entry["dtype"], str, "a dtype")
        shape = _need(entry["shape"], list, "a shape")
        if not all(type(n) is int and n >= 0 for n in shape):
            raise DamagedError(f"shape {str(shape)[:40]}")
        _need(entry["size"], int, "a size")
        _need(entry["crc32"], int, "a CRC")


def _generator(st: dict[str, Any]) -> np.random.Generator:
    g = np.random.Generator(np.random.PCG64())
    try:
        g.bit_generator.state = st
    except (ValueError, TypeError, OverflowError) as exc:
        raise DamagedError(f"random stream: {type(exc).__name__}") from None
    return g


def same_state(a: Any, b: Any) -> bool:
    """Whether two runs' objects hold the same values (for tests): arrays bit for bit."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and a.shape == b.shape and a.tobytes() == b.tobytes()
        )  # fmt: skip
    if isinstance(a, IdSet) and isinstance(b, IdSet):  # past `size`, `items` is unused memory
        return same_state((a.member, a.ids(), a.scratch), (b.member, b.ids(), b.scratch))
    if isinstance(a, Calendar) and isinstance(b, Calendar):
        return same_state(a.slots, b.slots)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b, strict=True))
    if type(a).__name__ in CLASSES and type(a) is type(b):
        skip = SKIP.get(type(a).__name__, ())
        va = {k: v for k, v in vars(a).items() if k not in skip}
        vb = {k: v for k, v in vars(b).items() if k not in skip}
        return same_state(va, vb)
    if dataclasses.is_dataclass(a):
        return a == b
    return bool(a == b) or (a != a and b != b)
