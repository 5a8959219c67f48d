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

from scslab.cli.tables import Format
from scslab.version import __version__

if TYPE_CHECKING:
    from scslab.scenario import Scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="scslab: social credit systems on synthetic populations.",
    context_settings={"help_option_names": ["-h", "--help"]},  # the subcommands inherit it
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
DEFAULT_SEED = 1
ScenarioArg = Annotated[str, typer.Argument(help="A preset name or a scenario file.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a key of the scenario: KEY=VALUE (repeatable).")
]
SeedOpt = Annotated[int, typer.Option(
    "--seed", min=0, help="The random seed; where several runs are made, the first of seeds SEED, SEED+1, ...")]
TrustOpt = Annotated[list[Path] | None, typer.Option(
    "--allow-extends", metavar="DIR", help="Let the scenario's `extends` read files in DIR (repeatable).")]
NoBaselineOpt = Annotated[bool, typer.Option(
    "--no-baseline", help="Skip the run without surveillance (same seed) that measures the chilling effect.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no tables; still the results path.")]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON object instead: the results path and the table's rows.")]
CsvOpt = Annotated[bool, typer.Option(
    "--csv", help="Print the (first) table as CSV instead; the results path goes to stderr.")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=0, help="Worker processes (default: the cores; 0: in this process).")]
ParamOpt = Annotated[
    list[str], typer.Option("--param", help="KEY=START:STOP:STEP, KEY=LOW:HIGH or KEY=V1,V2 (repeatable).")
]
SeedsOpt = Annotated[int, typer.Option("--seeds", help="Seeds per point.")]
MetricOpt = Annotated[
    list[str] | None, typer.Option("--metric", help="A metric to report (repeatable; default: the headline ones).")
]
RootOpt = Annotated[Path, typer.Option(
    "--root", help="The catalogue's folder: catalog.duckdb, and experiments/ID/ unless --out names the folder.")]


def output_format(as_json: bool, as_csv: bool) -> Format:
    """The format `--json` / `--csv` ask for (a table when neither); both at once is a usage error."""
    if as_json and as_csv:
        fail("--json and --csv: not both (allowed: one of them, or neither for a table)")
    return Format.JSON if as_json else Format.CSV if as_csv else Format.TABLE


def load(scenario: str, sets: list[str] | None, trusted: list[Path] | None) -> Scenario:
    """A preset or scenario file (its `extends` may read the `--allow-extends` folders) with its `--set`s."""
    from scslab.api import load_scenario

    return with_sets(load_scenario(scenario, trusted=trusted or ()), sets)


def with_sets(scenario: Scenario, sets: list[str] | None) -> Scenario:
    """`scenario` with the `--set KEY=VALUE` overrides."""
    from scslab.scenario import parse_set_option

    return scenario.with_overrides(dict(parse_set_option(item) for item in sets)) if sets else scenario
