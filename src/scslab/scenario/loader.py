"""Scenarios from TOML files and presets: `extends`, `--set` overrides, and one-line errors.

A scenario is read in three steps: the file and the files it `extends` are parsed and
deep-merged into one raw dict; overrides are applied to that dict; the schema validates
it. Every key of the raw dict remembers which file (or which `--set`) gave it, so that an
error names where the bad value came from: `base.toml: events.x.rate: ...`.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import tomli_w
from pydantic import ValidationError

from scslab.display import html_table
from scslab.errors import ScenarioError
from scslab.inputs import read_regular
from scslab.scenario.keys import KeyPath, format_key, one_line, parse_key, show
from scslab.scenario.messages import explain
from scslab.scenario.schema import ScenarioParams

PRESETS_DIR = Path(__file__).with_name("presets")
EXAMPLE_FILE = Path(__file__).with_name("example.toml")  # every key, with comments
MAX_EXTENDS = 32
MAX_NESTING = 32  # tables and arrays; v1 scenarios use at most 4
MAX_FILE_BYTES = 1 << 20  # a scenario is a few kilobytes; anything past 1 MiB is refused unread
SET_EXAMPLE = "KEY=VALUE, e.g. --set events.criticism.rate=0.002"

# Who gave each key of a raw dict: a file's label, or "--set KEY".
Provenance = dict[KeyPath, str]

_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, with the merged TOML it came from."""

    params: ScenarioParams
    raw: dict[str, Any]  # merged after `extends` and overrides, before defaults
    origin: str  # the file path, or "preset NAME"
    provenance: Mapping[KeyPath, str] = field(default_factory=dict, repr=False, compare=False)
    overrides: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the --set keys, in order

    @property
    def name(self) -> str:
        return self.params.name

    def with_overrides(self, mapping: Mapping[str, Any]) -> Scenario:
        """The scenario with dotted keys set (`{"events.criticism.rate": 0.002}`), validated again.

        A key may name an array entry (`sanctions[1].trigger`) and may create tables
        (`events.protest.rate` adds an event); a table given as a value replaces the table.
        """
        raw = copy.deepcopy(self.raw)
        provenance = dict(self.provenance)
        overrides = dict(self.overrides)
        for key, value in mapping.items():
            _set_key(raw, provenance, key, value)
            overrides[key if isinstance(key, str) else str(key)] = _plain(value)
        return replace(_validate(raw, provenance, self.origin), overrides=overrides)

    def __repr__(self) -> str:
        p = self.params
        real = p.population.real_size or p.population.size
        return (f"<Scenario {p.name!r} from {self.origin}: {p.population.size:,} citizens for {real:,}, {p.days} days "
                f"from {p.start_date}, {len(p.sources)} sources, {len(p.sanctions)} sanctions>")  # fmt: skip

    def _repr_html_(self) -> str:
        return html_table(f"Scenario {self.name}", ("key", "value"), self.overview(), self.params.description, limit=40)

    def overview(self) -> list[tuple[str, str]]:
        """The scenario in a few (key, value) rows: its size, time, sources, sanctions, rewards and overrides."""
        p = self.params
        threshold = "none" if p.blacklist.threshold is None else f"{p.blacklist.threshold:g}"
        rows = [("origin", self.origin), *((f"--set {key}", str(v)) for key, v in self.overrides.items())]
        rows += [("population.size", f"{p.population.size:,}"),
                ("population.real_size", f"{p.population.real_size or p.population.size:,}"), ("days", str(p.days)),
                ("start_date", str(p.start_date)), ("blacklist.threshold", threshold)]  # fmt: skip
        rows += [(f"sources.{name}", f"coverage {s.coverage:g}" + ("" if s.coverage_end is None else f" to "
                 f"{s.coverage_end:g}") + (f", misattribution {s.misattribution:g}" if s.misattribution else ""))
                 for name, s in p.sources.items()]  # fmt: skip
        rows += [("sanctions", ", ".join(f"{x.effect} ({x.trigger})" for x in p.sanctions) or "none"),
                 ("rewards", ", ".join(r.effect for r in p.rewards) or "none")]  # fmt: skip
        return rows

    def to_toml(self) -> str:
        """The fully resolved scenario: every default explicit, no `extends`."""
        header = f"# Scenario {self.name!r}, fully resolved by scslab: every default is explicit.\n"
        return header + tomli_w.dumps(self.params.model_dump(mode="json", exclude_none=True))


@dataclass(frozen=True)
class _Source:
    """A scenario file to read: its label in messages, and its path."""

    label: str
    path: Path
    roots: tuple[Path, ...] = ()  # folders that `extends` in this file may read (with the presets)

    @property
    def identity(self) -> str:
        try:
            return str(self.path.resolve())
        except (OSError, RuntimeError, ValueError):
            return str(self.path)


def load_scenario(name_or_path: str | Path, trusted: Sequence[str | Path] = ()) -> Scenario:
    """A scenario from a file (an existing file, or a name ending in .toml or holding a path separator) or a preset.

    `extends` may read files in the scenario's folder (and below), the presets, and the
    folders in `trusted` (given explicitly, e.g. on the command line); nothing else.
    """
    if isinstance(name_or_path, Path) or _looks_like_path(name_or_path):
        path = Path(name_or_path)
        roots = (_real(path.parent), *(_real(Path(t)) for t in trusted))
        source = _Source(str(name_or_path), path, roots)
    else:
        source = _preset(name_or_path, where="")
    try:
        raw, provenance = _resolve(source, [])
    except RecursionError:
        _fail(source.label, (), "nested too deeply (allowed: tables and arrays nested a few levels)")
    return _validate(raw, provenance, source.label)


def list_presets() -> list[tuple[str, str]]:
    """(name, description) of each preset shipped with scslab, sorted by name."""
    return [(name, load_scenario(name).params.description) for name in _preset_names()]


def example_text() -> str:
    """The commented example scenario: every key of the v1 format (`scslab scenarios --example`)."""
    return EXAMPLE_FILE.read_text(encoding="utf-8")


def parse_set_option(text: str) -> tuple[str, Any]:
    """`"KEY=VALUE"` from the command line; VALUE is read as a TOML value, else taken as a string."""
    if not isinstance(text, str) or "=" not in text:
        _fail_line(f"--set: {show(text)} has no '=' (allowed: {SET_EXAMPLE})")
    key, _, value_text = text.partition("=")
    key = key.strip()
    if parse_key(key) is None:
        _fail_line(f"--set: {show(key)} is not a key (allowed: {SET_EXAMPLE}, or sanctions[0].size)")
    try:
        document = tomllib.loads("v = " + value_text)
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return key, value_text.strip()
    if list(document) != ["v"]:  # the text held more than one value, e.g. "1\nx = 2"
        return key, value_text.strip()
    return key, document["v"]


def _looks_like_path(text: str, folder: Path = Path()) -> bool:
    """A name ending in .toml or holding a path separator, or an existing file in `folder`."""
    if text.endswith(".toml") or "/" in text or os.sep in text or bool(os.altsep and os.altsep in text):
        return True
    try:
        return (folder / text).is_file()
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return False


def _preset_names() -> list[str]:
    return sorted(path.stem for path in PRESETS_DIR.glob("*.toml"))


def _preset(name: str, where: str) -> _Source:
    names = _preset_names()
    if name not in names:
        _fail_line(f"{where}unknown preset {show(name)} (allowed: {', '.join(names)}, or a path to a .toml file)")
    return _Source(f"preset {name}", PRESETS_DIR / f"{name}.toml")


def _resolve(source: _Source, chain: list[_Source]) -> tuple[dict[str, Any], Provenance]:
    """The raw dict of `source` with its `extends` chain merged in, and who gave each key."""
    data = _read(source)
    merged: dict[str, Any] = {}
    provenance: Provenance = {}
    if "extends" in data:
        chain = [*chain, source]
        base = _base(data.pop("extends"), source)
        seen = [s.identity for s in chain]
        if base.identity in seen:
            loop = [s.label for s in chain] + [chain[seen.index(base.identity)].label]
            _fail(chain[0].label, ("extends",), "cycle " + " -> ".join(loop))
        if len(chain) > MAX_EXTENDS:
            too_long = f"more than {MAX_EXTENDS} levels (allowed: at most {MAX_EXTENDS})"
            _fail(chain[0].label, ("extends",), too_long)
        merged, provenance = _resolve(base, chain)
    _merge(merged, provenance, data, (), source.label)
    provenance[()] = source.label
    return merged, provenance


def _base(ref: Any, source: _Source) -> _Source:
    """The file that `extends = ref` in `source` names: a preset, or a path relative to its folder."""
    where = f"{source.label}: extends: "
    if not isinstance(ref, str) or not ref.strip():
        _fail_line(f"{where}expected a preset name or a path, got {show(ref)} (allowed: a preset name or a .toml path)")
    if _looks_like_path(ref, source.path.parent):
        path = source.path.parent / ref
        if not _exists(path):
            _fail_line(
                f"{where}{show(ref)} not found (allowed: a preset name or a path relative to {show(str(path.parent))})"
            )
        real = _real(path)
        roots = source.roots or (_real(source.path.parent),)
        if not any(real.is_relative_to(root) for root in roots):
            folders = ", ".join(show(str(r)) for r in roots)
            _fail_line(
                f"{where}{show(ref)} is outside the scenario's folder (allowed: files in {folders}, the presets, "
                "or a folder given with --allow-extends)"
            )
        return _Source(str(path), path, roots)
    return _preset(ref, where)


def _real(path: Path) -> Path:
    """`path` with symbolic links and `..` resolved (as far as it exists)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.abspath(path))


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _read(source: _Source) -> dict[str, Any]:
    """Parse one TOML file; every way this can fail is a one-line ScenarioError."""
    label = source.label
    data = read_regular(source.path, one_line(label), MAX_FILE_BYTES, "a TOML file", ScenarioError)
    if len(data) > MAX_FILE_BYTES:
        _fail_line(f"{label}: larger than {MAX_FILE_BYTES // 2**20} MiB (allowed: a scenario file of at most 1 MiB)")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        where = f"line {line}, column {column}"
        _fail_line(f"{label}: {where}: byte 0x{data[exc.start]:02x} is not UTF-8 (allowed: UTF-8 text)")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        where = ""
        if position:
            where = f"line {position[1]}, column {position[2]}: " if position[1] else "end of file: "
        _fail_line(f"{label}: {where}malformed TOML: {_TOML_POSITION.sub('', message)}")
    except RecursionError:
        _fail_line(f"{label}: malformed TOML: arrays or inline tables nested too deeply")
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        _fail_line(f"{label}: malformed TOML: {str(exc)[:200]}")
    _check_nesting(document, label, ())
    return document


def _check_nesting(value: Any, label: str, at: KeyPath) -> None:
    """Refuse values nested past MAX_NESTING, before anything recurses into them."""
    stack: list[tuple[KeyPath, Any]] = [(at, value)]
    while stack:
        path, item = stack.pop()
        if len(path) - len(at) > MAX_NESTING:
            _fail(label, path[: len(at) + MAX_NESTING], f"nested too deeply (allowed: at most {MAX_NESTING} levels)")
        if isinstance(item, dict):
            stack.extend(((*path, str(k)), v) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend(((*path, i), v) for i, v in enumerate(item))


# Tables that are one whole (a ladder of tiers): an extending file replaces them instead of merging.
WHOLE_TABLES: frozenset[KeyPath] = frozenset({("score", "tiers")})


def _merge(base: dict[str, Any], provenance: Provenance, over: dict[str, Any], at: KeyPath, label: str) -> None:
    """Deep merge: tables merge key by key, except `score.tiers`; anything else, arrays of tables
    included, is replaced."""
    for key, value in over.items():
        path = (*at, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict) and path not in WHOLE_TABLES:
            provenance[path] = label
            _merge(base[key], provenance, value, path, label)
        else:
            base[key] = value
            _mark(provenance, path, value, label)


def _mark(provenance: Provenance, path: KeyPath, value: Any, label: str) -> None:
    """Record `label` as the giver of `path` and of every key in `value`, forgetting older givers."""
    for old in [p for p in provenance if p[: len(path)] == path]:
        del provenance[old]
    stack = [(path, value)]
    while stack:
        at, item = stack.pop()
        provenance[at] = label
        if isinstance(item, dict):
            stack.extend(((*at, k), v) for k, v in item.items())


def _set_key(raw: dict[str, Any], provenance: Provenance, key: Any, value: Any) -> None:
    """Apply one override; tables on the way are created, array entries must exist."""
    path = parse_key(key) if isinstance(key, str) else None
    if not path:
        _fail_line(f"--set: {show(key)} is not a key (allowed: {SET_EXAMPLE}, or sanctions[0].size)")
    label = f"--set {format_key(path)}"
    if len(path) > MAX_NESTING:
        _fail_line(f"{label}: nested too deeply (allowed: at most {MAX_NESTING} levels)")
    if path[0] == "extends":
        _fail_line(f"{label}: extends cannot be overridden (allowed: any other key)")
    value = _plain(value)
    _check_nesting(value, label, path)
    node: Any = raw
    for depth, segment in enumerate(path):
        here = path[: depth + 1]
        last = depth == len(path) - 1
        if isinstance(segment, str):
            if not isinstance(node, dict):
                _fail(label, path[:depth], f"{show(node)} is not a table (allowed: keys inside tables)")
            if last:
                node[segment] = value
            elif segment not in node:
                node[segment] = {}
        else:
            if not isinstance(node, list):
                _fail(label, path[:depth], f"{show(node)} is not an array (allowed: an index only after an array)")
            if segment >= len(node):
                allowed = f"an index in [0, {len(node) - 1}]" if node else "no index: the array is empty"
                _fail(label, path[:depth], f"has {len(node)} entries (allowed: {allowed})")
            if last:
                node[segment] = value
        provenance[here] = label
        if not last:
            node = node[segment]
    _mark(provenance, path, value, label)


def _plain(value: Any) -> Any:
    """A copy of an override value, with tuples as arrays and numpy scalars as Python ones."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return copy.copy(value)


def _validate(raw: dict[str, Any], provenance: Provenance, origin: str) -> Scenario:
    """Validate a merged raw dict; the first error becomes one line naming its giver and key."""
    if not isinstance(raw, dict):
        _fail(origin, (), f"expected a table at the top level, got {show(raw)} (allowed: a TOML document)")
    try:
        params = ScenarioParams.model_validate(raw, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path, message = explain(error)
        # A table's own rule (shares that sum to 1) is broken by whoever last changed the table.
        table = tuple(k for k in error["loc"] if k != "[key]")
        _fail(_giver(provenance, table or path, origin), path, message)
    except (RecursionError, OverflowError) as exc:
        _fail(origin, (), f"cannot be validated: {type(exc).__name__} (allowed: values of moderate size and depth)")
    return Scenario(params=params, raw=raw, origin=origin, provenance=provenance)


def _giver(provenance: Mapping[KeyPath, str], path: KeyPath, default: str) -> str:
    """Who gave `path`, or the table around it that is missing the key."""
    for end in range(len(path), -1, -1):
        if path[:end] in provenance:
            return provenance[path[:end]]
    return default


def _fail(label: str, path: KeyPath, message: str) -> NoReturn:
    key = format_key(path)
    if not key or label == f"--set {key}":
        _fail_line(f"{label}: {message}")
    _fail_line(f"{label}: {key}: {message}")


def _fail_line(line: str) -> NoReturn:
    raise ScenarioError(one_line(line))
