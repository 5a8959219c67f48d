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

import pytest
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
    "make lab": "starts the lab's web server, which runs until stopped; tests/test_lab.py starts it and drives it "
    "in a browser",
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


MINE = "runs/mine"  # the folder one README command writes and later ones read


def variants_run() -> list[str]:
    """Every variant of every scslab command of README.md, in the README's order."""
    return [v for c in readme_commands() if scslab_args(c) is not None for v in variants(c)]


def run_variant(variant: str, root: Path) -> str | None:
    """Run one command variant in `root`; a failure's description, or None."""
    words = scslab_args(variant) or []
    done = cli(*words, *small(words, root), cwd=root, timeout=900)
    if done.returncode in {0, *DOCUMENTED_EXIT.get(words[0], set())}:
        return None
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return f"{variant} (exit {done.returncode}): {' / '.join(tail)}"


@pytest.fixture(scope="module")
def mine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `runs/mine`, written by the README command that writes it."""
    root = tmp_path_factory.mktemp("mine")
    shutil.copytree(ROOT / "examples", root / "examples")
    (writer,) = [v for v in variants_run() if f"--out {MINE}" in v]
    assert run_variant(writer, root) is None
    return root


@pytest.mark.parametrize("variant", variants_run())
def test_every_readme_command_runs_as_written(variant: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Each command in a fresh folder with the example files; one that reads `runs/mine` (or `runs`, the
    catalogue that run is recorded in) gets a copy of the folder that the README's own command wrote (so the
    commands run in parallel)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    reads_mine = (MINE in variant and f"--out {MINE}" not in variant) or variant.split()[1] == "runs"  # (its catalogue)
    if reads_mine:
        shutil.copytree(request.getfixturevalue("mine") / "runs", tmp_path / "runs")
    assert run_variant(variant, tmp_path) is None
    if variant.split()[1:3] == ["report", MINE]:
        assert (tmp_path / MINE / "report.html").is_file()
