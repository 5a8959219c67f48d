"""Commands over single runs: run a scenario, list the presets, write a run's report, compare two
scenarios over the same seeds."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from scslab.cli.common import (
    DEFAULT_SEED,
    CsvOpt,
    JsonOpt,
    NoBaselineOpt,
    QuietOpt,
    SeedOpt,
    SetOpt,
    TrustOpt,
    WorkersOpt,
    app,
    fail,
    load,
    out,
    output_format,
    stop_now,
)
from scslab.cli.tables import Format, Sheet, emit, fitted, frame_sheet, headline_table, profile_table
from scslab.errors import ScslabError


@app.command()
def run(
    ctx: typer.Context,
    scenario: Annotated[
        str | None, typer.Argument(help="A preset name or a scenario file.", show_default="beijing-2020")
    ] = None,
    set_: SetOpt = None,
    seed: SeedOpt = DEFAULT_SEED,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="The output folder (default: runs/ and the scenario's name, seed and time); the run is "
        "recorded in the catalogue of the folder above it.")] = None,
    save_people: Annotated[bool, typer.Option("--save-people", help="Also write people.parquet.")] = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    profile: Annotated[bool, typer.Option("--profile", help="Print the time spent in each phase.")] = False,
    report: Annotated[
        bool | None, typer.Option("--report/--no-report", help="Also write report.html.", show_default="report")
    ] = None,
    no_baseline: Annotated[
        bool, typer.Option("--no-baseline", help="Skip the run without surveillance (same seed) that measures the "
                           "chilling effect.")
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=0, metavar="DAYS", help="Save the full state every DAYS days.")
    ] = 0,
    resume: Annotated[
        Path | None, typer.Option("--resume", metavar="RUN_DIR", help="Go on with a run stopped after a checkpoint.")
    ] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Check the model's invariants after every day (a broken one stops the run).")] = False,
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
    allow_extends: TrustOpt = None,
) -> None:
    """Run a scenario and write its results."""
    from scslab import api

    how = output_format(as_json, as_csv)
    show = not quiet and how is Format.TABLE and sys.stderr.isatty()
    try:
        if resume is not None:
            given = [flag_name(p) for p in ctx.command.params
                     if p.name not in ("resume", "quiet", "profile", "as_json", "as_csv") and given_here(ctx, p.name)]
            if given:
                raise ScslabError(
                    f"--resume: not with {', '.join(given)} (allowed: --resume RUN_DIR with --quiet, --profile, "
                    f"--json or --csv; the run goes on with the scenario, seed and options it was started with)"
                )
            target = api.run_folder(resume)
            result = api.resume(resume, progress=show, catalog=target.parent)
        else:
            sc = load(scenario or "beijing-2020", set_, allow_extends)
            target = out_dir or api.default_dir(sc, seed)
            result = api.run(sc, seed, target, people=save_people, baseline=not no_baseline,
                             report=report is not False,
                             checkpoint_every=checkpoint_every, check=check, progress=show,
                             catalog=target.parent, trace=trace)  # fmt: skip
    except api.Interrupted as stop:
        saved = stop.last_checkpoint
        where = "no checkpoint" if saved is None else (
            f"last checkpoint: day {saved}; resume with: scslab run --resume {stop.run_dir}")  # fmt: skip
        stop_now(f"stopped by {stop} ({where})", stop.exit_code)
    except ScslabError as exc:
        fail(str(exc), exc.exit_code)
        return
    sheets = [headline_table(result)]
    if profile:
        sheets.append(profile_table(result.profile, result.scenario.params.days))
    notes = [f"invariants held on all {result.scenario.params.days:,} days"] if check else []
    extra = {"invariants_checked": check}
    emit(sheets, how, out, target, notes=notes, extra=extra, show_tables=not quiet)
    if quiet and profile and how is Format.TABLE:
        out.print(fitted(sheets[-1], out))


def given_here(ctx: typer.Context, name: str | None) -> bool:
    """Whether the command line gave the parameter `name` (not its default)."""
    source = ctx.get_parameter_source(name or "")
    return source is not None and source.name == "COMMANDLINE"  # by name: typer bundles its own click


def flag_name(param: Any) -> str:
    """A parameter as the command line spells it: --flag, --on/--off, or the argument's name."""
    if not param.opts[0].startswith("-"):
        return str(param.name).upper()
    secondary = getattr(param, "secondary_opts", None)
    return f"{param.opts[0]}/{secondary[0]}" if secondary else str(param.opts[0])


@app.command()
def scenarios(
    example: Annotated[
        bool, typer.Option("--example", help="Print the commented example scenario (every key) instead.")
    ] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List the presets."""
    from scslab.scenario import example_text, list_presets

    if example:
        typer.echo(example_text(), nl=False)  # plain text: rich would read [tables] as markup
        return
    records = [{"name": name, "description": description} for name, description in list_presets()]
    emit([Sheet("presets", "Presets", records)], output_format(as_json, as_csv), out)


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
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="The output folder for report.html (default: the run's folder).")
    ] = None,
) -> None:
    """Write report.html into a run directory (or into --out)."""
    from scslab import api

    try:
        path = api.write_report(run_dir, with_baseline=baseline, cases=cases, out=out_dir)
    except ScslabError as exc:
        fail(str(exc))
        return
    out.print(f"report in [bold]{path}[/]")


@app.command("compare")
def compare_command(
    a: Annotated[str, typer.Argument(help="Scenario A: a preset name or a scenario file.")],
    b: Annotated[str, typer.Argument(help="Scenario B: a preset name or a scenario file.")],
    seeds: Annotated[int, typer.Option("--seeds", help="Number of seeds (SEED, SEED+1, ...).")] = 10,
    seed: SeedOpt = DEFAULT_SEED,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a key in both: KEY=VALUE.")] = None,
    crn: Annotated[bool, typer.Option("--crn/--no-crn", help="Common random numbers (docs/model.md, 9).")] = True,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="The output folder (default: runs/compare-, A, B and the time).")
    ] = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    allow_extends: TrustOpt = None,
    no_baseline: NoBaselineOpt = False,
) -> None:
    """Run two scenarios over the same seeds and write compare.html."""
    from scslab import api
    from scslab.preflight import check_output
    from scslab.progress_bars import runs_bar
    from scslab.report import COMPARE_FILE, write_compare
    from scslab.scenario import parse_set_option

    how = output_format(as_json, as_csv)
    try:
        pair = load(a, None, allow_extends), load(b, None, allow_extends)
        overrides = dict(parse_set_option(item) for item in set_ or [])
        target = out_dir or Path("runs") / f"compare-{pair[0].name}-{pair[1].name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
        if target.exists():
            raise ScslabError(f"{target}: output directory already exists (allowed: a new directory)")
        check_output(target)
        with runs_bar(not quiet and how is Format.TABLE and sys.stderr.isatty(), total=2 * seeds) as on_run:
            comparison = api.compare(*pair, seeds=seeds, overrides=overrides, crn=crn, first_seed=seed,
                                     on_run=on_run, workers=workers, baseline=not no_baseline)  # fmt: skip
        write_compare(comparison, target)
    except ScslabError as exc:
        fail(str(exc))
        return
    emit([compare_sheet(comparison)], how, out, target / COMPARE_FILE, "comparison in", show_tables=not quiet)


def compare_sheet(comparison: object) -> Sheet:
    """The comparison's table: each headline figure's A, B, B − A, its 95% interval, and B − A scaled."""
    from scslab.report.compare import Comparison, metric_rows

    assert isinstance(comparison, Comparison)
    frame = comparison.table()
    title = (f"B − A over {len(comparison.seeds)} seeds (A: {comparison.a.name}, B: {comparison.b.name}, "
             f"crn {comparison.crn})")  # fmt: skip
    sheet = frame_sheet(frame, "figures", title)
    sheet.view = [("figure", False), ("A", True), ("B", True), ("B − A", True), ("95% interval", True),
                  ("scaled", True)]  # fmt: skip
    sheet.text = [list(row) for row in metric_rows(comparison)]
    return sheet
