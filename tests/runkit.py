"""scslab as a user runs it: the `scslab` command in a subprocess, and a small Beijing run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import scslab

SCSLAB = [sys.executable, "-m", "scslab.cli"]
# A small Beijing run: seconds, with every mechanism of the preset at work.
SMALL = {"population.size": 3000, "days": 40}


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`scslab *args` run in `cwd`, its output captured as text."""
    return subprocess.run([*SCSLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def set_options(overrides: Mapping[str, object]) -> list[str]:
    """`overrides` as the command line's `--set key=value` options."""
    return [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]


def small(preset: str = "beijing-2020") -> scslab.Scenario:
    """`preset` at the size of `SMALL`."""
    return scslab.load_scenario(preset).with_overrides(SMALL)
