"""The work folder of a run with checkpoints, `.NAME.checkpoint/`: what it holds and how it is checked.

    scenario.toml   the fully resolved scenario (its SHA-256 identifies the run)
    run.json        seed, origin, output name, options, the scenario's SHA-256, the scslab version
    state.npz       the newest checkpoint (checkpoint.py), or absent before the first one
    complete        written just before the run directory is renamed into place: a work folder
                    with this file and a run directory beside it is the leftover of a complete run

Every field of `run.json` is checked for its type; a work folder whose scenario.toml was edited,
or whose checkpoint belongs to another run, is refused in one line.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scslab.atomic import remove_leftovers
from scslab.errors import ScslabError
from scslab.version import __version__

WORK_SUFFIX = ".checkpoint"
STATE_FILE = "state.npz"
JOB_FILE = "run.json"
SCENARIO_FILE = "scenario.toml"
COMPLETE_FILE = "complete"
OPTION_KEYS = ("people", "with_baseline", "report")
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_JOB_BYTES = 64 * 1024


def work_dir(target: Path) -> Path:
    """Where a checkpointed run keeps its work until it is complete."""
    return target.with_name(f".{target.name}{WORK_SUFFIX}")


def is_work_dir(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(WORK_SUFFIX) and len(path.name) > len(WORK_SUFFIX) + 1


def target_of(work: Path) -> Path:
    """The run directory a work folder becomes."""
    return work.with_name(work.name[1 : -len(WORK_SUFFIX)])


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class JobRecord:
    """`run.json`, checked."""

    seed: int
    origin: str
    target: str
    every: int
    check: bool
    options: dict[str, bool]
    scenario_sha256: str
    version: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"


def read_record(work: Path) -> JobRecord:
    """The checked `run.json` of `work`: one line naming the file and the field when anything is wrong."""
    path = work / JOB_FILE
    try:
        if path.stat().st_size > MAX_JOB_BYTES:
            raise ScslabError(f"{path}: damaged (larger than {MAX_JOB_BYTES} bytes)")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ScslabError(f"{path}: damaged ({type(exc).__name__})") from None
    fields = set(JobRecord.__dataclass_fields__)
    if not isinstance(raw, dict) or set(raw) != fields:
        found = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ScslabError(f"{path}: damaged (keys {str(found)[:80]}; allowed: {', '.join(sorted(fields))})")
    kinds = {"seed": int, "origin": str, "target": str, "every": int, "check": bool, "options": dict,
             "scenario_sha256": str, "version": str}  # fmt: skip
    for key, kind in kinds.items():
        value = raw[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ScslabError(f"{path}: damaged ({key} is {type(value).__name__}; allowed: {kind.__name__})")
    if raw["seed"] < 0 or raw["every"] < 0:
        raise ScslabError(f"{path}: damaged (seed and every must be at least 0)")
    if raw["target"] != target_of(work).name:
        raise ScslabError(f"{path}: damaged (target {raw['target'][:60]!r}; allowed: {target_of(work).name!r})")
    options = raw["options"]
    flags = {k: v for k, v in options.items() if k != "trace"}
    if not set(options) <= {*OPTION_KEYS, "trace"} or not all(isinstance(v, bool) for v in flags.values()):
        raise ScslabError(f"{path}: damaged (options; allowed: {', '.join(OPTION_KEYS)}, each true or false, "
                          f"and trace)")  # fmt: skip
    whom = options.get("trace", "")
    if not isinstance(whom, str) and not (isinstance(whom, list) and all(type(i) is int and i >= 0 for i in whom)):
        raise ScslabError(f"{path}: damaged (options.trace; allowed: a trace as --trace takes it, or citizen ids)")
    if not HEX64.fullmatch(raw["scenario_sha256"]):
        raise ScslabError(f"{path}: damaged (scenario_sha256 is not a SHA-256)")
    if raw["version"] != __version__:
        raise ScslabError(
            f"{path}: written by scslab {raw['version'][:20]!r}, this is {__version__} "
            f"(allowed: resume with the version that started the run)"
        )
    return JobRecord(**raw)


def read_scenario_text(work: Path, record: JobRecord) -> str:
    """`scenario.toml` of `work`, refused if it is not the text the run started with."""
    path = work / SCENARIO_FILE
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScslabError(f"{path}: damaged ({type(exc).__name__})") from None
    if text_hash(text) != record.scenario_sha256:
        raise ScslabError(
            f"{path}: changed since the run started (its SHA-256 differs from {JOB_FILE}'s; "
            f"allowed: the scenario the run started with, or a new run)"
        )
    return text


def clean_leftovers(target: Path) -> None:
    """Remove the temporary files that a killed run of `target` left; only while holding its lock."""
    remove_leftovers(target)
    work = work_dir(target)
    if work.is_dir():
        for name in (STATE_FILE, JOB_FILE, SCENARIO_FILE, COMPLETE_FILE):
            remove_leftovers(work / name)


def remove_work(work: Path) -> None:
    """Drop a work folder (only its owner does this: the run that completes it, or one that created it and
    failed before its first checkpoint)."""
    shutil.rmtree(work, ignore_errors=True)


def identity(scenario_sha256: str, seed: int, population: int) -> dict[str, Any]:
    """What a checkpoint's `meta` carries to identify its run."""
    return {"scenario_sha256": scenario_sha256, "seed": seed, "population": population}
