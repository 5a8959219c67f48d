"""Every command of README.md runs as written, at a small size, in a fresh folder holding the
example files it names (`examples/`). README.md is read when the test runs, so that an edit to a
command is tested as it stands."""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from itertools import pairwise
from pathlib import Path

import typer

from runkit import cli
from scslab.cli import app
from scslab.scenario import list_presets

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Appended to each command that takes --set: 2,000 citizens instead of a preset's hundreds of
# thousands, for 20 days (or up to the last day that a targets file names: `small`).
SMALL = {"population.size": 2000, "days": 20}
# A single run is cheap: a year at 20,000 citizens lists enough people (some wrongfully) for the
# `explain` and `report` commands that read the run.
SMALL_RUN = {"population.size": 20000}
# Commands of README.md that this test does not run, and why.
NOT_RUN = {
    "make run": "the default scenario at full size (220,000 citizens, 365 days) after installing "
    "scslab; `scslab run beijing-2020 ...` below is the same command at a small size",
    "make test": "the whole test suite, this test included",
}
# Exit codes a command documents besides 0.
DOCUMENTED_EXIT = {"audit": {1}}  # "exit 1 if prohibited"
# Options whose value is a file the command writes (it need not ship).
OUTPUT_FLAGS = {"--fitted", "--out"}


def readme_commands() -> list[str]:
    """The command lines of README.md's sh blocks, comments removed, in the README's order."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    lines = [re.split(r"\s+#", line, maxsplit=1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def variants(command: str) -> list[str]:
    """A command with its optional parts (`[--json]`) left out, and, if it has any, with them in."""
    if "[" not in command:
        return [command]
    return [re.sub(r"\s*\[[^\]]*\]", "", command), re.sub(r"\[([^\]]*)\]", r"\1", command)]


def scslab_args(command: str) -> list[str] | None:
    """The arguments after `scslab` (or `.venv/bin/scslab`), or None for another program."""
    words = shlex.split(command)
    return words[1:] if Path(words[0]).name == "scslab" else None


def small(words: list[str], root: Path) -> list[str]:
    """The --set options that make the command `words` small; none if it takes no --set."""
    if not takes_set(words[0]):
        return []
    sizes = dict(SMALL_RUN if words[0] == "run" else SMALL)
    if "--targets" in words:  # a target on day d needs a run of d + 1 days
        targets = tomllib.loads((root / words[words.index("--targets") + 1]).read_text(encoding="utf-8"))
        sizes["days"] = max([sizes["days"], *(t["day"] + 1 for t in targets["targets"] if "day" in t)])
    return [arg for key, value in sizes.items() for arg in ("--set", f"{key}={value}")]


def takes_set(name: str) -> bool:
    """Whether the command `name` has a --set option (it loads a scenario)."""
    group = typer.main.get_command(app)  # a click group (typer's own class of it)
    command = group.commands[name]  # type: ignore[attr-defined]
    return any("--set" in param.opts for param in command.params)


def test_readme_has_the_commands_this_test_knows() -> None:
    commands = readme_commands()
    others = {c for c in commands if scslab_args(c) is None}
    assert others == set(NOT_RUN), "a README command is neither run here nor listed in NOT_RUN with its reason"
    assert sum(scslab_args(c) is not None for c in commands) >= 10


def test_every_file_a_readme_command_names_ships_in_the_repository() -> None:
    presets = {name for name, _ in list_presets()}
    named = [w for c in readme_commands() for before, w in pairwise(["", *shlex.split(c)])
             if w.endswith((".toml", ".json", ".csv")) and before not in OUTPUT_FLAGS]
    assert named, "no README command names a file"
    assert [w for w in named if not (ROOT / w).is_file() and w.removesuffix(".toml") not in presets] == []


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    failures = []
    for command in readme_commands():
        args = scslab_args(command)
        if args is None:
            continue
        for variant in variants(command):
            words = scslab_args(variant) or []
            done = cli(*words, *small(words, tmp_path), cwd=tmp_path, timeout=900)
            if done.returncode not in {0, *DOCUMENTED_EXIT.get(words[0], set())}:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                failures.append(f"{variant} (exit {done.returncode}): {' / '.join(tail)}")
    assert failures == []
    assert (tmp_path / "runs" / "mine" / "report.html").is_file()  # `report runs/mine` found the run
