"""Checkpoints: the full state of a run on disk, written atomically, read without pickle.

A checkpoint is one `.npz` file: every array of the run (state, population, metric table)
as a plain numpy entry, plus `__manifest__`, a JSON document that gives the structure
(which object holds which array, scalars, the random streams' PCG64 states, the day).
Objects are rebuilt only from a fixed list of scslab classes; nothing is unpickled or
executed. The file is written beside its final name, fsynced, then renamed over it, so a
kill at any moment leaves the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from scslab.atomic import write_file
from scslab.engine import Midway
from scslab.errors import ScslabError
from scslab.model.ledgers import ScoreIndex
from scslab.model.listings import ListingLog
from scslab.model.metrics import MetricTable
from scslab.model.params import Compiled
from scslab.model.propensity import Propensity
from scslab.model.state import Calendar, DayCounters, IdSet, Scratch, State
from scslab.population.types import Layer, Population

FORMAT = "scslab-checkpoint/2"  # 2: the state holds the listing log
MANIFEST = "__manifest__"
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
        ListingLog,
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


class _Decoder:
    """The inverse of _Encoder, reading arrays from an open npz file."""

    def __init__(self, arrays: Any, cp: Compiled) -> None:
        self.arrays = arrays
        self.cp = cp
        self.refs: dict[int, Any] = {}

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, str)):
            return node
        if not isinstance(node, dict):
            raise ValueError(f"unexpected node {type(node).__name__}")
        if "n" in node:
            return node["n"]
        if "ref" in node:
            return self.refs[int(node["ref"])]
        ref = int(node["id"])
        if "array" in node:
            out: Any = np.array(self.arrays[str(node["array"])])
        elif "calendar" in node:
            out = self._calendar(node["calendar"])
        elif "dict" in node:
            out = {}
            self.refs[ref] = out
            out.update({k: self.decode(v) for k, v in node["dict"].items()})
        elif "list" in node or "tuple" in node:
            items = [self.decode(v) for v in node["list" if "list" in node else "tuple"]]
            out = items if "list" in node else tuple(items)
        else:
            cls = CLASSES[str(node["object"])]
            out = cls.__new__(cls)
            self.refs[ref] = out
            for k, v in node["fields"].items():
                setattr(out, k, self.decode(v))
            if cls is State:
                out.cp = self.cp
        self.refs[ref] = out
        return out

    def _calendar(self, node: dict[str, Any]) -> Calendar:
        cal = Calendar.__new__(Calendar)
        cal.slots = [[] for _ in range(int(node["n_slots"]))]
        offset: dict[str, int] = {}
        columns = {key: self.arrays[name] for key, name in node["columns"].items()}
        for slot, length, dtypes in node["chunks"]:
            chunk = []
            for k, dtype in enumerate(dtypes):
                key = f"{k}{dtype}"
                start = offset.get(key, 0)
                chunk.append(np.array(columns[key][start : start + length]))
                offset[key] = start + length
            cal.slots[int(slot)].append(tuple(chunk))
        return cal


def save_checkpoint(path: str | Path, progress: Midway, meta: dict[str, Any] | None = None) -> Path:
    """Write `progress` (state, table, random streams, day, profile) to `path`, atomically."""
    target = Path(path)
    enc = _Encoder()
    tree = {
        "state": enc.encode(progress.state),
        "table": enc.encode(progress.table),
    }
    manifest = {
        "format": FORMAT,
        "day": progress.day,
        "elapsed": progress.elapsed,
        "profile": progress.profile,
        "rng": {name: g.bit_generator.state for name, g in progress.rng.items()},
        "tree": tree,
        "meta": meta or {},
    }
    arrays = dict(enc.arrays)
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)

    def savez(tmp: Path) -> None:
        with open(tmp, "wb") as handle:  # a handle, so that numpy adds no ".npz" to the staging name
            np.savez(handle, **arrays)  # type: ignore[arg-type]

    return write_file(target, savez, durable=True)


def read_meta(path: str | Path) -> dict[str, Any]:
    """The manifest of a checkpoint, without its arrays."""
    with _open(path) as data:
        return _manifest(path, data)


def load_checkpoint(path: str | Path, cp: Compiled) -> Midway:
    """The run saved in `path`, ready to continue; `cp` is the compiled scenario it was run with."""
    with _open(path) as data:
        manifest = _manifest(path, data)
        try:
            dec = _Decoder(data, cp)
            state = dec.decode(manifest["tree"]["state"])
            table = dec.decode(manifest["tree"]["table"])
            rng = {name: _generator(st) for name, st in manifest["rng"].items()}
            day = int(manifest["day"])
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ScslabError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})"[:300]) from None
    if not isinstance(state, State) or not isinstance(table, MetricTable):
        raise ScslabError(f"{path}: damaged checkpoint (no state or table)")
    profile = {str(k): float(v) for k, v in manifest["profile"].items()}
    return Midway(state, table, rng, day, profile, float(manifest["elapsed"]))


def _open(path: str | Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ScslabError(f"{path}: no checkpoint (allowed: a run started with --checkpoint-every)") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ScslabError(f"{path}: not a checkpoint ({type(exc).__name__})") from None


def _manifest(path: str | Path, data: Any) -> dict[str, Any]:
    try:
        manifest = json.loads(bytes(data[MANIFEST]).decode())
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ScslabError(f"{path}: not a checkpoint ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ScslabError(f"{path}: unknown checkpoint format (allowed: {FORMAT})")
    return manifest


def _generator(st: dict[str, Any]) -> np.random.Generator:
    if st.get("bit_generator") != "PCG64":
        raise ValueError("random stream is not PCG64")
    g = np.random.Generator(np.random.PCG64())
    g.bit_generator.state = st
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
