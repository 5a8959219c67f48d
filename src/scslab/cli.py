"""The command line: a thin layer over the Python API."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scslab.errors import ScslabError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="scslab: social credit systems on synthetic populations.")
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one line and exit: no traceback for a bad input."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def headline_table(result: object) -> Table:
    """The headline figures as a rich table."""
    from scslab.results import Result

    assert isinstance(result, Result)
    s = result.summary
    table = Table(title=f"{s['scenario']} · seed {s['seed']} · {s['days']} days · "
                        f"{s['population_size']:,} citizens (1:{s['scale']:,.0f} of {s['real_size']:,})")
    table.add_column("figure")
    table.add_column("simulated", justify="right")
    table.add_column("scaled to real population", justify="right")
    for row in result.headline().itertuples(index=False):
        if "share" in row.figure:
            table.add_row(row.figure, f"{row.simulated:.1%}", "")
        elif "score" in row.figure:
            table.add_row(row.figure, f"{row.simulated:,.1f}", "")
        else:
            table.add_row(row.figure, f"{row.simulated:,.0f}", f"{row.scaled:,.0f}")
    return table


def profile_table(profile: dict[str, float], days: int) -> Table:
    """Time per phase, in total and per simulated day."""
    total = sum(profile.values())
    table = Table(title="Time per phase")
    for col in ("phase", "seconds", "ms per day", "share"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for phase, seconds in profile.items():
        per_day = "" if phase == "population" else f"{1000 * seconds / days:.2f}"
        table.add_row(phase, f"{seconds:.3f}", per_day, f"{seconds / total:.0%}" if total else "")
    table.add_row("total", f"{total:.3f}", "", "")
    return table


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="A preset name or a scenario file.")] = "beijing-2020",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a key: KEY=VALUE (repeatable).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 1,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output directory (default runs/NAME-SEED-TIME).")] = None,
    save_people: Annotated[bool, typer.Option("--save-people", help="Also write people.parquet.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar and no tables.")] = False,
    profile: Annotated[bool, typer.Option("--profile", help="Print the time spent in each phase.")] = False,
) -> None:
    """Run a scenario and write its results."""
    from scslab.api import load_scenario, simulate
    from scslab.scenario import parse_set_option

    try:
        sc = load_scenario(scenario)
        if set_:
            sc = sc.with_overrides(dict(parse_set_option(item) for item in set_))
        target = out_dir or Path("runs") / f"{sc.name}-{seed}-{dt.datetime.now():%Y%m%d-%H%M%S}"
        if target.exists():
            raise ScslabError(f"{target}: output directory already exists (allowed: a new directory)")
        result = simulate(sc, seed=seed, progress=not quiet and sys.stderr.isatty())
        result.save(target, people=save_people)
    except ScslabError as exc:
        fail(str(exc))
        return
    if not quiet:
        out.print(headline_table(result))
        out.print(f"results in [bold]{target}[/]")
    if profile:
        out.print(profile_table(result.profile, sc.params.days))


@app.command()
def scenarios() -> None:
    """List the presets."""
    from scslab.scenario import list_presets

    table = Table(title="Presets")
    table.add_column("name")
    table.add_column("description")
    for name, description in list_presets():
        table.add_row(name, description)
    out.print(table)


def main() -> None:
    """Entry point of the `scslab` command."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
