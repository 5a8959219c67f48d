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
    """The scenario a fit started from, as a preset name or a file path, and its merged TOML (None if it no
    longer loads on its own)."""

    preset: str | None
    path: Path | None
    raw: dict[str, Any] | None

    def extends(self, folder: Path) -> str | None:
        """What `extends` must say in a file in `folder` to name this scenario (None: it cannot be named)."""
        if self.preset is not None:
            return self.preset
        if self.path is None or self.raw is None:
            return None
        return os.path.relpath(self.path.resolve(), folder.resolve())


def original_reference(scenario: Scenario) -> Original:
    """The preset or file that `scenario` was loaded from, as it loads now."""
    origin = scenario.origin
    preset = origin.removeprefix("preset ") if origin.startswith("preset ") else None
    try:
        original = load_scenario(preset if preset is not None else Path(origin))
    except ScslabError:  # e.g. it needed --allow-extends, or was moved: the fitted file will not extend it
        return Original(None, None, None)
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
    """Write the fitted scenario to `path` (atomically), checked to load as `scenario` with `best` set.

    The file `extends` the original and sets what differs, if the loader lets a file in its folder
    extend the original (a preset always; a file only in that folder or below); otherwise it holds
    every key itself, so that it loads wherever the original lies.
    """
    fitted = scenario.with_overrides(best)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" for line in header]
    lines += ["# Fitted keys: " + ", ".join(f"{k} = {v!r}" for k, v in best.items()), ""]
    ref = original.extends(path.parent)
    whole = "# Every key is here: `extends` may not reach the original from this folder.\n"
    attempts = [] if ref is None or original.raw is None else [
        {"extends": ref, **difference(original.raw, fitted.raw)}
    ]  # fmt: skip
    attempts.append(fitted.raw)
    tmp = path.with_name(f".{path.name}.tmp.toml")
    try:
        for document in attempts:
            note = "" if "extends" in document else whole
            tmp.write_text("\n".join(lines) + note + tomli_w.dumps(document), encoding="utf-8")
            if _reloads_as(tmp, fitted):
                os.replace(tmp, path)
                return path
        raise ScslabError(f"{path}: the fitted scenario does not reload as fitted (allowed: report this bug)")
    finally:
        tmp.unlink(missing_ok=True)


def _reloads_as(path: Path, fitted: Scenario) -> bool:
    try:
        return load_scenario(path).params == fitted.params
    except ScenarioError:
        return False
