"""The fitted scenario: a TOML file that `extends` the original and sets only what differs from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from scslab.errors import ScenarioError, ScslabError
from scslab.experiments.design import Point
from scslab.scenario import Scenario, load_scenario


@dataclass(frozen=True)
class Original:
    """The scenario a fit started from, as a preset name or a file path, and its merged TOML."""

    preset: str | None
    path: Path | None
    raw: dict[str, Any]

    def extends(self, folder: Path) -> str:
        """What `extends` must say in a file in `folder` to name this scenario."""
        if self.preset is not None:
            return self.preset
        assert self.path is not None
        return os.path.relpath(self.path.resolve(), folder.resolve())


def original_reference(scenario: Scenario) -> Original:
    """The preset or file that `scenario` was loaded from (it must still load)."""
    origin = scenario.origin
    preset = origin.removeprefix("preset ") if origin.startswith("preset ") else None
    try:
        original = load_scenario(preset if preset is not None else Path(origin))
    except ScenarioError as exc:
        raise ScslabError(f"{origin}: the original of the scenario cannot be loaded to extend it ({exc})") from None
    return Original(preset, None if preset is not None else Path(origin), original.raw)


def difference(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The keys of `new` whose values differ from `base` (tables compared key by key, arrays whole)."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        old = base.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = difference(old, value)
            if inner:
                out[key] = inner
        elif key not in base or old != value:
            out[key] = value
    return out


def write_fitted(scenario: Scenario, best: Point, original: Original, path: Path, header: list[str]) -> Path:
    """Write the fitted scenario to `path` (atomically), checked to load as `scenario` with `best` set."""
    fitted = scenario.with_overrides(best)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"extends": original.extends(path.parent), **difference(original.raw, fitted.raw)}
    lines = [f"# {line}" for line in header]
    lines += ["# Fitted keys: " + ", ".join(f"{k} = {v!r}" for k, v in best.items()), ""]
    text = "\n".join(lines) + tomli_w.dumps(document)
    tmp = path.with_name(f".{path.name}.tmp.toml")
    tmp.write_text(text, encoding="utf-8")
    try:
        if load_scenario(tmp).params != fitted.params:
            raise ScslabError(f"{path}: the fitted scenario does not reload as fitted (allowed: report this bug)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
