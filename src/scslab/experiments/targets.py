"""Calibration targets from a TOML file: a metric, optionally a day, a value and a tolerance.

[parameters]                           # optional: ranges to fit, as --param KEY=LOW:HIGH
"events.criticism.rate" = [0.0001, 0.002]

[[targets]]
metric = "blacklisted"                 # a figure of Result.summary["figures"]
day = 364                              # optional, 0-based: the figure had the run ended that day
value = 90_000
tolerance = 5_000
real = true                            # optional: value and tolerance count real people
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scslab.errors import ScslabError
from scslab.experiments.metrics import SUMMARY_ONLY, check_metrics, is_count
from scslab.inputs import read_regular
from scslab.scenario import Scenario

MAX_TARGETS_BYTES = 1 << 20
TARGET_KEYS = ("metric", "value", "tolerance", "day", "real")
EXAMPLE = '[[targets]] with metric = "blacklisted", value = 900, tolerance = 50'


@dataclass(frozen=True)
class Target:
    """A reported figure to fit: `metric` (on `day`, or at the end) should be `value` within `tolerance`."""

    metric: str
    value: float
    tolerance: float
    day: int | None = None
    real: bool = False

    @property
    def label(self) -> str:
        return self.metric if self.day is None else f"{self.metric}@{self.day}"


def load_targets(path: str | Path, scenario: Scenario) -> tuple[list[Target], list[str]]:
    """The targets of a file, and its parameters as `KEY=LOW:HIGH` specs."""
    label = str(path)
    document = _read(Path(path), label)
    for key in document:
        if key not in ("targets", "parameters"):
            raise ScslabError(f"{label}: {key}: unknown key (allowed: targets, parameters)")
    raw = document.get("targets")
    if not isinstance(raw, list) or not raw:
        raise ScslabError(f"{label}: targets: missing or empty (allowed: one or more {EXAMPLE})")
    targets = [_target(item, f"{label}: targets[{i}]", scenario) for i, item in enumerate(raw)]
    labels = [t.label for t in targets]
    for i, name in enumerate(labels):
        if name in labels[:i]:
            raise ScslabError(f"{label}: targets[{i}]: {name} is a target twice (allowed: each metric and day once)")
    return targets, _parameters(document.get("parameters", {}), label)


def check_target(target: Target, scenario: Scenario, where: str) -> Target:
    """`target` if it names a figure of `scenario`, a day in the run, and a positive tolerance."""
    check_metrics([target.metric], scenario, f"{where}.metric")
    if not math.isfinite(target.value):
        raise ScslabError(f"{where}.value: {target.value} (allowed: a finite number)")
    if not (math.isfinite(target.tolerance) and target.tolerance > 0):
        raise ScslabError(f"{where}.tolerance: {target.tolerance} (allowed: a positive number)")
    days = scenario.params.days
    if target.day is not None:
        if not 0 <= target.day < days:
            raise ScslabError(f"{where}.day: {target.day} (allowed: a day in [0, {days - 1}], or no day for the end)")
        if target.metric in SUMMARY_ONLY:
            raise ScslabError(f"{where}.day: {target.metric} has no daily value (allowed: no day for this metric)")
    if target.real and not is_count(target.metric):
        raise ScslabError(f"{where}.real: {target.metric} is not a count (allowed: real = false for this metric)")
    return target


def _read(path: Path, label: str) -> dict[str, Any]:
    data = read_regular(path, label, MAX_TARGETS_BYTES, "a targets TOML file")
    if len(data) > MAX_TARGETS_BYTES:
        raise ScslabError(f"{label}: larger than 1 MiB (allowed: a targets TOML file of at most 1 MiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScslabError(f"{label}: cannot be read: {' '.join(str(exc).split())}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScslabError(f"{label}: malformed TOML: {' '.join(str(exc).split())}") from None


def _target(item: Any, where: str, scenario: Scenario) -> Target:
    if not isinstance(item, dict):
        raise ScslabError(f"{where}: not a table (allowed: {EXAMPLE})")
    for key in item:
        if key not in TARGET_KEYS:
            raise ScslabError(f"{where}.{key}: unknown key (allowed: {', '.join(TARGET_KEYS)})")
    for key in ("metric", "value", "tolerance"):
        if key not in item:
            raise ScslabError(f"{where}.{key}: missing (allowed: {EXAMPLE})")
    if not isinstance(item["metric"], str):
        raise ScslabError(f'{where}.metric: not a string (allowed: a metric name such as "blacklisted")')
    day = item.get("day")
    if day is not None and (isinstance(day, bool) or not isinstance(day, int)):
        raise ScslabError(f"{where}.day: {day!r} (allowed: an integer day, 0-based)")
    real = item.get("real", False)
    if not isinstance(real, bool):
        raise ScslabError(f"{where}.real: {real!r} (allowed: true or false)")
    target = Target(item["metric"], _number(item["value"], f"{where}.value"),
                    _number(item["tolerance"], f"{where}.tolerance"), day, real)  # fmt: skip
    return check_target(target, scenario, where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScslabError(f"{where}: {value!r} is not a number (allowed: a number)")
    return float(value)


def _parameters(table: Any, label: str) -> list[str]:
    """`[parameters]` as `KEY=LOW:HIGH` specs: each value an array of two numbers or a "LOW:HIGH" string."""
    if not isinstance(table, dict):
        raise ScslabError(f"{label}: parameters: not a table (allowed: KEY = two numbers, low and high)")
    specs = []
    for key, value in table.items():
        if isinstance(value, str):
            specs.append(f"{key}={value}")
        elif isinstance(value, list) and len(value) == 2:
            low, high = (_number(v, f"{label}: parameters.{key}") for v in value)
            specs.append(f"{key}={low!r}:{high!r}")
        else:
            raise ScslabError(
                f'{label}: parameters.{key}: {value!r} (allowed: an array of two numbers, low and high, or "LOW:HIGH")'
            )
    return specs
