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

from scslab.cli.common import MetricOpt, ParamOpt, RootOpt, ScenarioArg, SeedsOpt, SetOpt, app, fail, out
from scslab.errors import ScslabError

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
    out.print(frame_table(intervals_view(res.intervals, res.scale),
                          f"{res.experiment_id}: {res.runs} runs ({res.executed} now)"))  # fmt: skip
    out.print(f"report.html, bands and intervals in [bold]{res.directory}[/]")


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
    out.print(f"report.html, points.parquet and correlations.parquet in [bold]{res.directory}[/]")


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
    out.print(f"report.html and indices.parquet in [bold]{res.directory}[/]")


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
    out.print(f"fitted scenario in [bold]{res.fitted_path}[/], report.html in [bold]{res.directory}[/]")


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
