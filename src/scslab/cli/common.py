"""What every command shares: the app, its consoles, one-line failures, and the options more than
one command takes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from scslab.version import __version__

if TYPE_CHECKING:
    from scslab.scenario import Scenario

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="scslab: social credit systems on synthetic populations."
)
out = Console()
err = Console(stderr=True)


def show_version(value: bool) -> None:
    if value:
        out.print(f"scslab {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def options(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=show_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """scslab: social credit systems on synthetic populations."""


def fail(message: str, code: int = 2) -> None:
    """Print one line and exit: no traceback for a bad input."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def stop_now(message: str, code: int) -> None:
    """After a signal: one line, then exit at once. The checkpoint is already on disk (fsynced) and
    nothing else is open, so the interpreter's teardown (seconds with large arrays) is skipped."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# Options more than one command takes, declared once.
ScenarioArg = Annotated[str, typer.Argument(help="A preset name or a scenario file.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a key of the scenario: KEY=VALUE (repeatable).")
]
ParamOpt = Annotated[
    list[str], typer.Option("--param", help="KEY=START:STOP:STEP, KEY=LOW:HIGH or KEY=V1,V2 (repeatable).")
]
SeedsOpt = Annotated[int, typer.Option(help="Seeds per point.")]
MetricOpt = Annotated[
    list[str] | None, typer.Option("--metric", help="A metric to report (repeatable; default: the headline ones).")
]
RootOpt = Annotated[Path, typer.Option("--root", help="Folder of the experiments and of catalog.duckdb.")]


def with_sets(scenario: Scenario, sets: list[str] | None) -> Scenario:
    """`scenario` with the `--set KEY=VALUE` overrides."""
    from scslab.scenario import parse_set_option

    return scenario.with_overrides(dict(parse_set_option(item) for item in sets)) if sets else scenario
