"""The Python API that notebooks and the CLI use: a run in memory or written to its folder, resumed, drawn.

    import scslab
    res = scslab.run("beijing-2020", seed=7, out="runs/mine", checkpoint_every=30)
    res = scslab.resume("runs/mine")          # after a stop: goes on from the last checkpoint
    res = scslab.load_run("runs/mine")        # a saved run reopened: tables, summary, plots
    scslab.plot(res)["blacklist"].write_image("blacklist.png")   # or .svg, .pdf (the notebook extra)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, overload

from scslab import replay, runner
from scslab.cases import CaseFile
from scslab.engine import Midway
from scslab.errors import ScslabError
from scslab.experiments.baseline import simulate_baseline
from scslab.experiments.catalog import Catalog
from scslab.experiments.comparison import compare
from scslab.memory import check_memory
from scslab.model.trace import check_ids, parse_trace
from scslab.progress_bars import day_bar
from scslab.report import RunData, build_figures
from scslab.report import write_report as write_report_file
from scslab.results import Result, TraceLike
from scslab.results import simulate as simulate_result
from scslab.scenario import Scenario
from scslab.scenario import load_scenario as load
from scslab.uncertainty import add_chilling

__all__ = ["Interrupted", "compare", "default_dir", "explain", "explain_run", "load_run", "load_scenario", "plot",
           "resume", "run", "run_folder", "save_figures", "simulate", "write_report"]  # fmt: skip

ShowProgress = bool | Callable[[int, int], None]  # True: a bar; a callable: called as progress(day, days)


class Interrupted(runner.Stopped):
    """`run` or `resume` stopped by SIGINT or SIGTERM: its folder, and the day of its last checkpoint (if any)."""

    def __init__(self, signum: int, run_dir: Path, last_checkpoint: int | None) -> None:
        super().__init__(signum)
        self.run_dir = run_dir
        self.last_checkpoint = last_checkpoint


def load_scenario(name_or_path: str | Path, trusted: Sequence[str | Path] = ()) -> Scenario:
    """A preset by name (`"beijing-2020"`) or a scenario file by path; `extends` may read files in `trusted`."""
    return load(name_or_path, trusted)


def load_run(run_dir: str | Path) -> Result:
    """A saved run folder reopened as a `Result`: its scenario, tables (timeseries, breakdowns, listings, and
    people if saved) and summary, so that `headline()`, `plot` and `write_report` work; not its full state."""
    return Result.from_dir(run_dir)


def _scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def simulate(
    scenario: Scenario | str | Path, seed: int = 1, progress: ShowProgress = False, trace: TraceLike = None
) -> Result:
    """Run `scenario` once with `seed`, in memory; `trace` (`"listed"`, `"all"`, `"panel:N"`, `"ids:FILE"` or
    citizen ids) records those citizens' charges and sanctions (`Result.charges`, `Result.sanctions`)."""
    sc = _scenario(scenario)
    spec = parse_trace(trace)
    if spec is not None:
        check_ids(spec, sc.params.population.size)
        check_memory(sc.params, sc.origin, trace=spec)
    with day_bar(sc.name, sc.params.days, 0, enabled=progress is True) as bar:
        return simulate_result(sc, seed, progress if callable(progress) else bar, trace=spec)


def default_dir(scenario: Scenario, seed: int) -> Path:
    """Where `run` writes when not told: runs/NAME-SEED-TIME."""
    return Path("runs") / f"{scenario.name}-{seed}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def run(
    scenario: Scenario | str | Path,
    seed: int = 1,
    out: str | Path | None = None,
    *,
    people: bool = False,
    baseline: bool = True,
    report: bool = True,
    checkpoint_every: int = 0,
    check: bool = False,
    progress: ShowProgress = False,
    catalog: str | Path | None = None,
    trace: TraceLike = None,
) -> Result:
    """Run `scenario` once and write its folder `out` (default: `default_dir`) as `scslab run` does.

    `people` adds people.parquet, `baseline` (on by default) the same run without surveillance and the chilling
    effect measured against it, `report` report.html;
    `checkpoint_every` saves the full state every that many days (then `resume` finishes a stopped run);
    `check` checks the model's invariants after every day; `catalog`, a folder, records the finished run in
    its run catalogue (`scslab run` gives the folder above `out`), which is checked before the run starts;
    `trace` (`"listed"`, `"all"`, `"panel:N"`, `"ids:FILE"` or citizen ids) adds trace.parquet and
    sanctions.parquet for those citizens.
    """
    sc = _scenario(scenario)
    target = Path(out) if out is not None else default_dir(sc, seed)
    if target.exists():
        raise ScslabError(f"{target}: output directory already exists (allowed: a new directory)")
    if checkpoint_every < 0:
        raise ScslabError(f"checkpoint_every: {checkpoint_every} (allowed: 0 for none, or a number of days)")
    spec = parse_trace(trace)
    check_ids(spec, sc.params.population.size)
    if people or spec is not None:
        check_memory(sc.params, sc.origin, people=people, trace=spec)
    if catalog is not None:
        Catalog(catalog).check()
    options: dict[str, Any] = {"people": people, "with_baseline": baseline, "report": report}
    if spec is not None:  # (ids are kept themselves, not their file: a resumed run traces the same citizens)
        options["trace"] = list(spec.ids) if spec.kind == "ids" else spec.text
    job = runner.Job(sc, seed, target, checkpoint_every, check, options)
    if checkpoint_every:
        runner.begin(job)
    return _go_on(job, None, progress, catalog)


def run_folder(run_dir: str | Path) -> Path:
    """The run folder that `resume(run_dir)` writes: `run_dir` itself, or the folder of a work folder."""
    path = Path(run_dir)
    if path.name.startswith(".") and path.name.endswith(runner.WORK_SUFFIX):
        return path.with_name(path.name[1 : -len(runner.WORK_SUFFIX)])
    return path


def resume(run_dir: str | Path, progress: ShowProgress = False, catalog: str | Path | None = None) -> Result:
    """Finish a run that `run` (with `checkpoint_every`) started and that stopped: from its last checkpoint, with
    its scenario, seed and options; `run_dir` is its folder or its work folder. `catalog` as for `run`."""
    if catalog is not None:
        Catalog(catalog).check()
    job, at = runner.resume(Path(run_dir))
    return _go_on(job, at, progress, catalog)


def _go_on(job: runner.Job, at: Midway | None, progress: ShowProgress, catalog: str | Path | None) -> Result:
    """Run `job` from `at` (None: day 0) and write its folder, then record it in `catalog` (a folder, if given);
    SIGINT and SIGTERM stop it between days."""
    sc = job.scenario
    with runner.StopOnSignals() as guard:
        try:
            with guard.translated():
                with day_bar(sc.name, sc.params.days, at.day if at else 0, progress is True) as bar:
                    result = runner.simulate(job, at, guard, progress if callable(progress) else bar)
                runner.finish(job, result)
        except runner.Stopped as stop:
            raise Interrupted(stop.signum, job.target, job.last_checkpoint) from None
    if catalog is not None:
        try:
            Catalog(catalog).add_single_run(job.target, result.summary, sc.origin)
        except ScslabError as exc:
            raise ScslabError(f"{job.target}: the run is complete but not in the catalogue: {exc}") from None
    return result


def plot(result: Result, with_baseline: bool = False) -> dict[str, Any]:
    """The report's plotly figures by name; `with_baseline` also runs the scenario without surveillance."""
    baseline = simulate_baseline(result.scenario, result.seed) if with_baseline else None
    if baseline is not None and "chilling_effect" not in result.summary["figures"]:
        add_chilling(result.summary, result.timeseries, baseline, result.scenario.params)
    return build_figures(RunData.from_result(result, baseline))


IMAGE_FORMATS = ("png", "svg", "pdf")


def save_figures(result: Result, directory: str | Path, format: str = "png", with_baseline: bool = False,
                 width: int = 1000, height: int = 560) -> list[Path]:  # fmt: skip
    """Write each of the report's figures as a static image, `directory/NAME.FORMAT` (plotly's kaleido and a
    Chrome or Chromium already on the machine: `pip install scslab[notebook]`; no browser is downloaded)."""
    if format not in IMAGE_FORMATS:
        raise ScslabError(f"format: {format!r} (allowed: {', '.join(IMAGE_FORMATS)})")
    import plotly.io as pio

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    figures = plot(result, with_baseline)
    paths = [target / f"{name}.{format}" for name in figures]
    pio.write_images(list(figures.values()), paths, format=format, width=width, height=height)  # one browser
    return paths


def write_report(run_dir: str | Path, with_baseline: bool = False, cases: bool = True,
                 out: str | Path | None = None) -> Path:  # fmt: skip
    """Write report.html into a run folder (or into the folder `out`); `with_baseline` first runs and stores the
    baseline if it is missing; `cases` fills its Cases section from the folder's trace.parquet, or else by a
    replay (`explain_run`)."""
    root = Path(run_dir)
    data = RunData.from_dir(root)
    baseline = None
    if with_baseline and data.baseline is None:
        baseline = simulate_baseline(load_scenario(root / "scenario.toml"), int(data.summary["seed"]))
    found, left_out = replay.folder_cases(root) if cases else ([], False)
    return write_report_file(root, baseline, found, left_out, out)


def explain_run(
    run_dir: str | Path, citizens: Sequence[int] = (), *, kind: str | None = None, n: int = 1,
    progress: ShowProgress = False,
) -> replay.Explained:
    """Replay the run in `run_dir` with `citizens` (and `n` citizens of `kind`, see `scslab.cases.KINDS`) traced;
    refused unless the replay reproduces the run's tables byte for byte. Their case files, and what was checked."""
    run = replay.open_run(run_dir)
    sc = run.scenario
    with day_bar(f"replay {sc.name}", sc.params.days, 0, enabled=progress is True) as bar:
        return replay.explain(run, citizens, kind=kind, n=n, on_day=progress if callable(progress) else bar)


@overload
def explain(run_dir: str | Path, citizens: int) -> CaseFile: ...
@overload
def explain(run_dir: str | Path, citizens: Sequence[int]) -> list[CaseFile]: ...
def explain(run_dir: str | Path, citizens: int | Sequence[int]) -> CaseFile | list[CaseFile]:
    """The case file of a citizen (or a list, for a sequence of ids) of the finished run in `run_dir`, by a
    replay checked byte for byte against the run (`explain_run`)."""
    if isinstance(citizens, Integral | int):
        return explain_run(run_dir, [int(citizens)]).cases[0]
    return list(explain_run(run_dir, [int(c) for c in citizens]).cases)
