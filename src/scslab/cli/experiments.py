"""Experiment commands (many runs: ensemble, sweep, sensitivity, calibrate) with their shared
options declared once, and the run catalogue."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scslab.cli.common import (
    DEFAULT_SEED,
    CsvOpt,
    JsonOpt,
    MetricOpt,
    NoBaselineOpt,
    ParamOpt,
    QuietOpt,
    RootOpt,
    ScenarioArg,
    SeedOpt,
    SeedsOpt,
    SetOpt,
    TrustOpt,
    WorkersOpt,
    app,
    fail,
    out,
    output_format,
)
from scslab.cli.tables import Format, Sheet, cell, emit, frame_sheet, number
from scslab.errors import ScslabError

MAX_ROWS = 60  # rows a table shows in the terminal (--json and --csv give all of them)

if TYPE_CHECKING:
    from scslab.experiments.common import Options
    from scslab.scenario import Scenario


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
    out: Path | None
    id_: str | None
    resume: bool
    quiet: bool
    as_json: bool
    as_csv: bool
    allow_extends: list[Path] | None
    no_baseline: bool

    @contextmanager
    def session(self) -> Iterator[tuple[Scenario, Options]]:
        """The scenario with its `--set` overrides, and where the experiment runs and writes (with a bar)."""
        from scslab.experiments.console import session

        with session(self.scenario, self.set_, self.executor, self.scheduler, self.workers, self.root, self.id_,
                     self.resume, self.quiet or self.how is not Format.TABLE, self.out,
                     self.allow_extends or (), not self.no_baseline) as opened:  # fmt: skip
            yield opened

    @property
    def how(self) -> Format:
        return output_format(self.as_json, self.as_csv)

    def emit(self, sheets: list[Sheet], path: Path, path_line: str, extra: dict[str, Any] | None = None) -> None:
        """Print the experiment's tables (or JSON, or CSV) and where its files are."""
        emit(sheets, self.how, out, path, path_line, extra=extra, show_tables=not self.quiet)


def _option(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


EXPERIMENT_OPTIONS = (  # the scenario argument first, then the options after each command's own
    _option("scenario", ScenarioArg),
    _option("set_", SetOpt, None),
    _option("seed", SeedOpt, DEFAULT_SEED),
    _option("executor", Annotated[str, typer.Option("--executor", help="local (a process pool) or dask.")], "local"),
    _option("scheduler", Annotated[str | None, typer.Option(
        "--scheduler", help="A dask scheduler, tcp://HOST:PORT (default: a LocalCluster).")], None),
    _option("workers", WorkersOpt, None),
    _option("root", RootOpt, Path("runs")),
    _option("out", Annotated[Path | None, typer.Option(
        "--out", help="The experiment's folder (default ROOT/experiments/ID); its name is the id unless --id "
        "gives one.")], None),
    _option("id_", Annotated[str | None, typer.Option(
        "--id", help="The experiment's id (default: KIND-SCENARIO-HASH).")], None),
    _option("resume", Annotated[bool, typer.Option(
        "--resume", help="Finish an interrupted experiment: run only what is missing.")], False),
    _option("quiet", QuietOpt, False),
    _option("as_json", JsonOpt, False),
    _option("as_csv", CsvOpt, False),
    _option("allow_extends", TrustOpt, None),
    _option("no_baseline", NoBaselineOpt, False),
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
    args: ExperimentArgs, seeds: Annotated[int, typer.Option("--seeds", help="Number of runs (seeds).")] = 100,
    metric: MetricOpt = None,
) -> None:  # fmt: skip
    """Many seeds of one scenario: daily 10/50/90% bands and the headline metrics with their intervals."""
    from scslab.experiments import HEADLINE_METRICS, ensemble
    from scslab.experiments.console import intervals_view

    with args.session() as (sc, opts):
        res = ensemble(sc, seeds, seed=args.seed, metrics=metric or HEADLINE_METRICS, options=opts)
    title = f"{res.experiment_id}: {res.runs} runs ({res.executed} now)"
    sheet = frame_sheet(res.intervals, "intervals", title)
    view = frame_sheet(intervals_view(res.intervals, res.scale), "intervals", title)
    sheet.view, sheet.text = view.view, view.text
    extra = {"experiment_id": res.experiment_id, "runs": res.runs, "executed": res.executed}
    args.emit([sheet], res.directory, "report.html, bands and intervals in", extra)


@experiment_command("sweep")
def sweep_command(
    args: ExperimentArgs, param: ParamOpt, design: Annotated[str, typer.Option(help="grid or lhs.")] = "grid",
    n: Annotated[int, typer.Option("--n", help="Points of an lhs design.")] = 10, seeds: SeedsOpt = 1,
    metric: MetricOpt = None,
) -> None:  # fmt: skip
    """Each headline metric against each parameter, over a grid or a Latin hypercube."""
    from scslab.experiments import HEADLINE_METRICS, sweep

    with args.session() as (sc, opts):
        res = sweep(sc, param, design=design, n=n, seeds=seeds, seed=args.seed, metrics=metric or HEADLINE_METRICS,
                    options=opts)  # fmt: skip
    sheets = [
        frame_sheet(res.points, "points", f"{res.experiment_id}: mean over {seeds} seed(s) per point", MAX_ROWS),
        frame_sheet(res.correlations, "correlations", "Spearman rank correlation of each metric with each parameter"),
    ]
    args.emit(sheets, res.directory, "report.html, points.parquet and correlations.parquet in",
              {"experiment_id": res.experiment_id})  # fmt: skip


@experiment_command("sensitivity")
def sensitivity_command(
    args: ExperimentArgs, param: ParamOpt, method: Annotated[str, typer.Option(help="sobol or morris.")] = "sobol",
    n: Annotated[int, typer.Option("--n", help="Base samples (sobol: a power of 2) or trajectories (morris).")] = 64,
    seeds: SeedsOpt = 1, metric: MetricOpt = None,
) -> None:  # fmt: skip
    """Which parameter matters for each metric: Sobol S1 and ST, or Morris mu* and sigma, with 95% intervals."""
    from scslab.experiments import HEADLINE_METRICS, sensitivity

    with args.session() as (sc, opts):
        res = sensitivity(sc, param, method=method, n=n, seeds=seeds, seed=args.seed,
                          metrics=metric or HEADLINE_METRICS, options=opts)  # fmt: skip
    title = f"{res.experiment_id}: {res.method} over {res.runs} runs (conf: 95% ±)"
    args.emit([frame_sheet(res.indices, "indices", title, MAX_ROWS)], res.directory,
              "report.html and indices.parquet in",
              {"experiment_id": res.experiment_id})  # fmt: skip


@experiment_command("calibrate")
def calibrate_command(
    args: ExperimentArgs, targets: Annotated[Path, typer.Option("--targets", help="The targets TOML file.")],
    param: Annotated[list[str] | None, typer.Option("--param", help="KEY=LOW:HIGH to fit (repeatable).")] = None,
    trials: Annotated[int, typer.Option(help="Optuna trials.")] = 50, seeds: SeedsOpt = 1,
    batch: Annotated[int, typer.Option(help="Trials run at once (the fit depends on it, not on workers).")] = 4,
    fitted: Annotated[Path | None, typer.Option(
        "--fitted", help="Where to write the fitted scenario file (default: fitted.toml in the experiment's folder).")
    ] = None,
) -> None:  # fmt: skip
    """Fit parameters to target figures (optuna TPE) and write the fitted scenario, which extends the original."""
    from scslab.experiments import calibrate

    with args.session() as (sc, opts):
        res = calibrate(sc, targets, param or [], trials=trials, seeds=seeds, batch=batch, seed=args.seed,
                        out=fitted, options=opts)  # fmt: skip
    title = f"{res.experiment_id}: best of {trials} trials, loss {number(res.best_loss)}"
    best = {k: float(v) for k, v in res.best.items()}
    args.emit([frame_sheet(res.targets, "targets", title)], res.fitted_path, "fitted scenario in",
              {"experiment_id": res.experiment_id, "experiment": str(res.directory), "best": best,
               "best_loss": res.best_loss}, )  # fmt: skip
    if args.how is Format.TABLE and not args.quiet:
        out.print("fitted: " + ", ".join(f"{k} = {number(v, 6)}" for k, v in best.items()), highlight=False)


@app.command("runs")
def runs_command(
    root: Annotated[Path, typer.Option(
        "--root", help="The catalogue's folder (catalog.duckdb): an experiment's --root, or the folder above a run's "
        "--out.")] = Path("runs"),
    experiment: Annotated[str | None, typer.Option(
        "--experiment", help="List this experiment's runs (a single run's id is its folder name).")] = None,
    sql: Annotated[str | None, typer.Option("--sql", help="A read-only SQL query on the catalogue.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show at most.")] = 60,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The run catalogue: experiments and single runs, one experiment's runs, or an SQL query's result."""
    from scslab.experiments.console import runs_frame

    how = output_format(as_json, as_csv)
    try:
        frame, title = runs_frame(root, experiment, sql, limit)
    except ScslabError as exc:
        fail(str(exc))
        return
    sheet = frame_sheet(frame, "rows", title, limit)
    if experiment is None and sql is None:  # the terminal's listing: the columns that tell them apart
        sheet.view = [("id", False), ("kind", False), ("scenario", False), ("runs", True), ("created (UTC)", False),
                      ("finished", False)]  # fmt: skip
        sheet.text = [[r["experiment_id"], r["kind"], r["scenario"], f"{r['runs_done']:,}/{r['n_runs']:,}",
                       cell(r["created_at"]), "yes" if cell(r["finished_at"]) != "—" else "no"]
                      for r in sheet.records[:limit]]  # fmt: skip
    emit([sheet], how, out)
