"""The command line: a thin layer over the Python API.

Each command imports what it runs when it runs (start-up speed: `scslab --help` and the usage errors do
not load numba, pandas and plotly); none of these imports avoids a cycle (pyproject.toml's layers).
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scslab.errors import ScslabError
from scslab.version import __version__

if TYPE_CHECKING:
    from scslab.experiments.common import Options
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


def headline_table(result: object) -> Table:
    """The headline figures as a rich table."""
    from scslab.model.metrics import catalogue
    from scslab.results import Result

    assert isinstance(result, Result)
    s = result.summary
    table = Table(
        title=f"{s['scenario']} · seed {s['seed']} · {s['days']} days · "
        f"{s['population_size']:,} citizens (1:{s['scale']:,.0f} of {s['real_size']:,})"
    )
    table.add_column("figure")
    table.add_column("simulated", justify="right")
    table.add_column("scaled to real population", justify="right")
    metrics = catalogue()
    for row in result.headline().itertuples(index=False):
        m = metrics[row.metric]
        table.add_row(row.figure, m.format.format(row.simulated), m.format.format(row.scaled) if m.scales else "")
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
                     "--checkpoint-every": checkpoint_every > 0, "--check": check,
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
                             progress=show)  # fmt: skip
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
) -> None:
    """Write report.html into a run directory."""
    from scslab import api

    try:
        path = api.write_report(run_dir, with_baseline=baseline)
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


@dataclass(frozen=True)
class ExperimentArgs:
    """The options every experiment command takes, declared once (EXPERIMENT_OPTIONS)."""

    scenario: str
    set_: list[str] | None
    seed: int
    executor: str
    scheduler: str | None
    workers: int | None
    root: Path
    id_: str | None
    resume: bool
    quiet: bool

    @contextmanager
    def session(self) -> Iterator[tuple[Scenario, Options]]:
        """The scenario with its `--set` overrides, and where the experiment runs and writes (with a bar)."""
        from scslab.experiments.console import session

        with session(self.scenario, self.set_, self.executor, self.scheduler, self.workers, self.root, self.id_,
                     self.resume, self.quiet) as opened:  # fmt: skip
            yield opened


def _option(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


EXPERIMENT_OPTIONS = (  # the scenario argument first, then the options after each command's own
    _option("scenario", ScenarioArg),
    _option("set_", SetOpt, None),
    _option("seed", Annotated[int, typer.Option(
        "--seed", min=0, help="Experiment seed: every run's seed is spawned from it.")], 0),
    _option("executor", Annotated[str, typer.Option("--executor", help="local (a process pool) or dask.")], "local"),
    _option("scheduler", Annotated[str | None, typer.Option(
        "--scheduler", help="A dask scheduler, tcp://HOST:PORT (default: a LocalCluster).")], None),
    _option("workers", Annotated[int | None, typer.Option(
        "--workers", help="Workers (default: the cores; 0: in this process, local only).")], None),
    _option("root", RootOpt, Path("runs")),
    _option("id_", Annotated[str | None, typer.Option(
        "--id", help="The experiment's id (default: KIND-SCENARIO-HASH).")], None),
    _option("resume", Annotated[bool, typer.Option(
        "--resume", help="Finish an interrupted experiment: run only what is missing.")], False),
    _option("quiet", Annotated[bool, typer.Option("--quiet", help="No progress bar.")], False),
)  # fmt: skip


def experiment_command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register `body(args, **own)` as command `name`: its own options, then EXPERIMENT_OPTIONS as `args`; a bad
    input is one line and exit code 2."""

    def register(body: Callable[..., None]) -> Callable[..., None]:
        own = list(inspect.signature(body, eval_str=True).parameters.values())[1:]
        shared = [p.name for p in EXPERIMENT_OPTIONS]

        def command(**kwargs: Any) -> None:
            args = ExperimentArgs(**{key: kwargs.pop(key) for key in shared})
            try:
                body(args, **kwargs)
            except ScslabError as exc:
                fail(str(exc))

        params = [EXPERIMENT_OPTIONS[0], *(p.replace(kind=p.KEYWORD_ONLY) for p in own), *EXPERIMENT_OPTIONS[1:]]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__doc__ = body.__doc__
        app.command(name)(command)
        return body

    return register


@experiment_command("ensemble")
def ensemble_command(
    args: ExperimentArgs, seeds: Annotated[int, typer.Option(help="Number of runs (seeds).")] = 100,
    metric: MetricOpt = None,
) -> None:  # fmt: skip
    """Many seeds of one scenario: daily 10/50/90% bands and the headline metrics with their intervals."""
    from scslab.experiments import HEADLINE_METRICS, ensemble
    from scslab.experiments.console import frame_table, intervals_view

    with args.session() as (sc, opts):
        res = ensemble(sc, seeds, seed=args.seed, metrics=metric or HEADLINE_METRICS, options=opts)
    out.print(frame_table(intervals_view(res.intervals), f"{res.experiment_id}: {res.runs} runs ({res.executed} now)"))
    out.print(f"bands and intervals in [bold]{res.directory}[/]")


@experiment_command("sweep")
def sweep_command(
    args: ExperimentArgs, param: ParamOpt, design: Annotated[str, typer.Option(help="grid or lhs.")] = "grid",
    n: Annotated[int, typer.Option("--n", help="Points of an lhs design.")] = 10, seeds: SeedsOpt = 1,
    metric: MetricOpt = None,
) -> None:  # fmt: skip
    """Each headline metric against each parameter, over a grid or a Latin hypercube."""
    from scslab.experiments import HEADLINE_METRICS, sweep
    from scslab.experiments.console import frame_table

    with args.session() as (sc, opts):
        res = sweep(sc, param, design=design, n=n, seeds=seeds, seed=args.seed, metrics=metric or HEADLINE_METRICS,
                    options=opts)  # fmt: skip
    out.print(frame_table(res.points, f"{res.experiment_id}: mean over {seeds} seed(s) per point"))
    out.print(frame_table(res.correlations, "Spearman rank correlation of each metric with each parameter"))
    out.print(f"points.parquet and correlations.parquet in [bold]{res.directory}[/]")


@experiment_command("sensitivity")
def sensitivity_command(
    args: ExperimentArgs, param: ParamOpt, method: Annotated[str, typer.Option(help="sobol or morris.")] = "sobol",
    n: Annotated[int, typer.Option("--n", help="Base samples (sobol: a power of 2) or trajectories (morris).")] = 64,
    seeds: SeedsOpt = 1, metric: MetricOpt = None,
) -> None:  # fmt: skip
    """Which parameter matters for each metric: Sobol S1 and ST, or Morris mu* and sigma, with 95% intervals."""
    from scslab.experiments import HEADLINE_METRICS, sensitivity
    from scslab.experiments.console import frame_table

    with args.session() as (sc, opts):
        res = sensitivity(sc, param, method=method, n=n, seeds=seeds, seed=args.seed,
                          metrics=metric or HEADLINE_METRICS, options=opts)  # fmt: skip
    out.print(frame_table(res.indices, f"{res.experiment_id}: {res.method} over {res.runs} runs (conf: 95% ±)"))
    out.print(f"indices.parquet in [bold]{res.directory}[/]")


@experiment_command("calibrate")
def calibrate_command(
    args: ExperimentArgs, targets: Annotated[Path, typer.Option("--targets", help="The targets TOML file.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="KEY=LOW:HIGH to fit (repeatable).")] = None,
    trials: Annotated[int, typer.Option(help="Optuna trials.")] = 50, seeds: SeedsOpt = 1,
    batch: Annotated[int, typer.Option(help="Trials run at once (the fit depends on it, not on workers).")] = 4,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="The fitted scenario file (default: in the experiment).")
    ] = None,
) -> None:  # fmt: skip
    """Fit parameters to target figures (optuna TPE) and write the fitted scenario, which extends the original."""
    from scslab.experiments import calibrate
    from scslab.experiments.console import frame_table

    with args.session() as (sc, opts):
        res = calibrate(sc, targets, param or [], trials=trials, seeds=seeds, batch=batch, seed=args.seed,
                        out=out_file, options=opts)  # fmt: skip
    out.print(frame_table(res.targets, f"{res.experiment_id}: best of {trials} trials, loss {res.best_loss:.4g}"))
    out.print("fitted: " + ", ".join(f"{k} = {v:.6g}" for k, v in res.best.items()))
    out.print(f"fitted scenario in [bold]{res.fitted_path}[/]")


@app.command("runs")
def runs_command(
    root: RootOpt = Path("runs"),
    experiment: Annotated[str | None, typer.Option("--experiment", help="List this experiment's runs.")] = None,
    sql: Annotated[str | None, typer.Option("--sql", help="A read-only SQL query on the catalogue.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show at most.")] = 60,
) -> None:
    """The run catalogue: experiments, one experiment's runs, or an SQL query's result."""
    from scslab.experiments.console import frame_table, runs_frame

    try:
        frame, title = runs_frame(root, experiment, sql, limit)
    except ScslabError as exc:
        fail(str(exc))
        return
    out.print(frame_table(frame, title, limit))


def audit_table(report: object) -> Table:
    """One row per rule: (a) a score over time, (i) context, (ii) proportion, and the verdict."""
    from scslab.audit import AuditReport

    assert isinstance(report, AuditReport)
    table = Table(title=f"{report.scenario} · {report.article}")
    for col in ("rule", "sanction", "(a) score", "(i) unrelated data", "(ii) disproportionate", "meets it"):
        table.add_column(col, no_wrap=col in ("rule", "(a) score", "meets it"))
    for f in report.findings:
        table.add_row(
            f.rule,
            f"{f.effect}\n{f.trigger}",
            "yes" if f.scores_over_time else "no",
            f"{len(f.unrelated)} of {len(f.data)} records" if f.unrelated else "no",
            f"{len(f.disproportionate)} reason(s)" if f.disproportionate else "no",
            "[bold red]yes[/]" if f.prohibited else "[green]no[/]",
        )
    return table


@app.command()
def audit(
    scenario: ScenarioArg,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Audit a scenario's sanctions against EU AI Act Article 5(1)(c); exit 1 if any rule meets it."""
    from scslab.api import load_scenario
    from scslab.audit import audit as audit_scenario

    try:
        sc = with_sets(load_scenario(scenario), set_)
    except ScslabError as exc:
        fail(str(exc))
        return
    report = audit_scenario(sc)
    if as_json:
        typer.echo(report.to_json())
        raise typer.Exit(0 if report.passes else 1)
    out.print(audit_table(report))
    for f in report.findings:
        verdict = "[bold red]meets the pattern[/]" if f.prohibited else "[green]does not meet it[/]"
        out.print(f"\n[bold]{f.rule}[/] {f.effect} ({f.trigger}), in {f.context}, {f.severity}: {verdict}")
        data = "; ".join(f"{u.name} ({u.path}) {u.context}" for u in f.data) or "none"
        offences = ", ".join(f"{u.name} {u.gravity}" for u in f.data if u.gravity != "merit") or "none"
        lines = [
            f"(a) {f.scoring}",
            f"(i) data: {data}; applied in {f.context}",
            *(f"(i) unrelated: {r}" for r in f.unrelated),
            f"(ii) {f.severity} against: {offences}",
            *(f"(ii) disproportionate: {r}" for r in f.disproportionate),
        ]
        for line in [*lines, *(f"note: {n}" for n in f.notes)]:
            out.print(f"  {line}", highlight=False)
    for note in report.not_audited:
        out.print(f"not audited: {note}", highlight=False)
    out.print(f"\n{report.rule_of_thumb}", highlight=False)
    verdict = "no rule meets" if report.passes else f"{len(report.prohibited)} rule(s) meet"
    out.print(f"[bold]{verdict} the prohibited pattern of {report.article}[/]")
    raise typer.Exit(0 if report.passes else 1)


def main() -> None:
    """Entry point of the `scslab` command: usage errors too are one line and exit code 2."""
    from scslab.signals import Stopped, raising_on_signals

    try:
        with raising_on_signals():
            code = app(standalone_mode=False)
    except Stopped as stop:  # outside a run's own handling: start-up, experiments, reports
        err.print(f"[bold red]error:[/] {escape(stop.line)}", highlight=False, soft_wrap=True)
        sys.exit(stop.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # the usage errors of typer's bundled click
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            out.print(message, highlight=False)
            sys.exit(2)
        ctx = getattr(exc, "ctx", None)
        where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        line = " ".join(f"{message}{where}".split())
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
