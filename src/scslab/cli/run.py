"""Commands over single runs: run a scenario, list the presets, write a run's report, compare two
scenarios over the same seeds."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scslab.cli.common import SetOpt, app, fail, out, stop_now, with_sets
from scslab.cli.tables import headline_table, profile_table
from scslab.errors import ScslabError


@app.command()
def run(
    scenario: Annotated[
        str | None, typer.Argument(help="A preset name or a scenario file.", show_default="beijing-2020")
    ] = None,
    set_: SetOpt = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.", show_default="1")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default runs/NAME-SEED-TIME).")
    ] = None,
    save_people: Annotated[bool, typer.Option("--save-people", help="Also write people.parquet.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar and no tables.")] = False,
    profile: Annotated[bool, typer.Option("--profile", help="Print the time spent in each phase.")] = False,
    report: Annotated[
        bool | None, typer.Option("--report/--no-report", help="Also write report.html.", show_default="report")
    ] = None,
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Also run it without surveillance (same seed), for the report.")
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=0, metavar="DAYS", help="Save the full state every DAYS days.")
    ] = 0,
    resume: Annotated[
        Path | None, typer.Option("--resume", metavar="RUN_DIR", help="Go on with a run stopped after a checkpoint.")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Check the model's invariants after every day.")] = False,
    trace: Annotated[
        str | None,
        typer.Option(
            "--trace",
            metavar="WHOM",
            help="Also write trace.parquet and sanctions.parquet: every charge and sanction of listed (everyone "
            "ever listed), all, panel:N (N citizens drawn from the seed) or ids:FILE (one id a line, or a CSV or "
            "Parquet file with a citizen column).",
        ),
    ] = None,
    allow_extends: Annotated[
        list[Path] | None, typer.Option("--allow-extends", metavar="DIR", help="Let `extends` read files in DIR.")
    ] = None,
) -> None:
    """Run a scenario and write its results."""
    from scslab import api

    show = not quiet and sys.stderr.isatty()
    try:
        if resume is not None:
            given = {"SCENARIO": scenario is not None, "--set": bool(set_), "--seed": seed is not None,
                     "--out": out_dir is not None, "--save-people": save_people,
                     "--report/--no-report": report is not None, "--baseline": baseline,
                     "--checkpoint-every": checkpoint_every > 0, "--check": check, "--trace": trace is not None,
                     "--allow-extends": bool(allow_extends)}  # fmt: skip
            if extra := [name for name, on in given.items() if on]:
                raise ScslabError(
                    f"--resume: not with {', '.join(extra)} (allowed: --resume RUN_DIR with --quiet or --profile; "
                    f"the run goes on with the scenario, seed and options it was started with)"
                )
            target = api.run_folder(resume)
            result = api.resume(resume, progress=show)
        else:
            sc = with_sets(api.load_scenario(scenario or "beijing-2020", trusted=allow_extends or ()), set_)
            target = out_dir or api.default_dir(sc, 1 if seed is None else seed)
            result = api.run(sc, 1 if seed is None else seed, target, people=save_people, baseline=baseline,
                             report=report is not False, checkpoint_every=checkpoint_every, check=check,
                             progress=show, trace=trace)  # fmt: skip
    except api.Interrupted as stop:
        saved = stop.last_checkpoint
        where = "no checkpoint" if saved is None else (
            f"last checkpoint: day {saved}; resume with: scslab run --resume {stop.run_dir}")  # fmt: skip
        stop_now(f"stopped by {stop} ({where})", stop.exit_code)
    except ScslabError as exc:
        fail(str(exc), exc.exit_code)
        return
    if not quiet:
        out.print(headline_table(result))
        out.print(f"results in [bold]{target}[/]")
    if profile:
        out.print(profile_table(result.profile, result.scenario.params.days))


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


@app.command("report")
def report_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `scslab run`.")],
    baseline: Annotated[
        bool, typer.Option("--baseline", help="First run the scenario without surveillance, if not stored.")
    ] = False,
    cases: Annotated[
        bool,
        typer.Option("--cases/--no-cases", help="The Cases section: from the run's trace.parquet, or by a replay."),
    ] = True,
) -> None:
    """Write report.html into a run directory."""
    from scslab import api

    try:
        path = api.write_report(run_dir, with_baseline=baseline, cases=cases)
    except ScslabError as exc:
        fail(str(exc))
        return
    out.print(f"report in [bold]{path}[/]")


@app.command("compare")
def compare_command(
    a: Annotated[str, typer.Argument(help="Scenario A: a preset name or a scenario file.")],
    b: Annotated[str, typer.Argument(help="Scenario B: a preset name or a scenario file.")],
    seeds: Annotated[int, typer.Option(help="Number of seeds.")] = 10,
    first_seed: Annotated[int, typer.Option(help="The first seed; the others follow it.")] = 1,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a key in both: KEY=VALUE.")] = None,
    crn: Annotated[bool, typer.Option("--crn/--no-crn", help="Common random numbers (MODEL.md 9).")] = True,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default runs/compare-A-B-TIME).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar and no table.")] = False,
) -> None:
    """Run two scenarios over the same seeds and write compare.html."""
    from scslab import api
    from scslab.progress_bars import runs_bar
    from scslab.report import COMPARE_FILE, write_compare
    from scslab.report.compare import metric_rows
    from scslab.scenario import parse_set_option

    try:
        pair = api.load_scenario(a), api.load_scenario(b)
        overrides = dict(parse_set_option(item) for item in set_ or [])
        target = out_dir or Path("runs") / f"compare-{pair[0].name}-{pair[1].name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
        if target.exists():
            raise ScslabError(f"{target}: output directory already exists (allowed: a new directory)")
        with runs_bar(not quiet and sys.stderr.isatty(), total=2 * seeds) as on_run:
            comparison = api.compare(*pair, seeds=seeds, overrides=overrides, crn=crn, first_seed=first_seed,
                                     on_run=on_run)  # fmt: skip
        write_compare(comparison, target)
    except ScslabError as exc:
        fail(str(exc))
        return
    if not quiet:
        table = Table(title=f"B − A over {seeds} seeds (A: {pair[0].name}, B: {pair[1].name}, crn {crn})")
        for col in ("figure", "A", "B", "B − A", "95% interval", "scaled"):
            table.add_column(col, justify="left" if col == "figure" else "right")
        for row in metric_rows(comparison):
            table.add_row(*row)
        out.print(table)
    out.print(f"comparison in [bold]{target / COMPARE_FILE}[/]")
