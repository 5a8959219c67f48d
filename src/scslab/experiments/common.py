"""What every experiment shares: where it runs and writes (`Options`), and its run loop."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab.display import frame_table
from scslab.errors import ScslabError
from scslab.experiments.executors import Executor, Task, Work, execute, make_executor
from scslab.experiments.store import Experiment, RunCallback
from scslab.memory import table_columns
from scslab.scenario import Scenario, load_scenario


class Shown:
    """How an experiment's result shows in a notebook: a one-line repr and its main table (`main`)."""

    experiment_id: str
    directory: Path
    runs: int
    executed: int

    def main(self) -> tuple[str, pd.DataFrame]:
        """What the main table shows, and the table."""
        raise NotImplementedError

    def __repr__(self) -> str:
        what, frame = self.main()
        return (f"<{type(self).__name__} {self.experiment_id}: {self.runs:,} runs ({self.executed:,} executed now), "
                f"{what}: {len(frame):,} rows; in {self.directory}>")  # fmt: skip

    def _repr_html_(self) -> str:
        what, frame = self.main()
        title = f"{type(self).__name__} {self.experiment_id}: {what}"
        return frame_table(title, frame, f"{self.runs:,} runs ({self.executed:,} executed now) in {self.directory}")


@dataclass
class Options:
    """Where an experiment runs and writes: the executor, the root folder (its catalogue), its folder (default
    ROOT/experiments/ID), its id, resume, progress."""

    executor: Executor | str | None = None  # an executor, "local", "dask", or None for the local pool
    root: str | Path = "runs"
    experiment_id: str | None = None
    resume: bool = False
    progress: RunCallback | None = None
    work: Work = execute  # what a worker runs for a task (tests swap in one that crashes)
    directory: str | Path | None = None
    baseline: bool = True  # each run also without surveillance, for the chilling effect


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    """A Scenario, loading a preset name or a file path."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


# Runs one experiment may hold (each is a folder of a few files and a catalogue row a metric; the
# parent keeps a task and a row of figures for each). Sizes beyond it are refused before anything starts.
MAX_RUNS = 1_000_000
# A stored run's files besides its daily table (breakdowns, summary, task), rounded up.
RUN_FILE_BYTES = 64 * 1024
# What each experiment's size is made of, for the one-line refusal.
RUN_OPTIONS = {"ensemble": "--seeds", "sweep": "design points x --seeds", "sensitivity": "--n x --seeds",
               "calibrate": "--trials x --seeds"}  # fmt: skip


def check_count(value: int, option: str, least: int = 1, most: int = MAX_RUNS) -> int:
    """`value` if it lies in [`least`, `most`], else a one-line error."""
    if value < least:
        raise ScslabError(f"{option}: {value} (allowed: at least {least})")
    if value > most:
        raise ScslabError(f"{option}: {value:,} (allowed: at most {most:,})")
    return value


def check_run_count(n_runs: int, option: str) -> int:
    """`n_runs` if one experiment can hold that many runs (`MAX_RUNS`), else a one-line error."""
    if n_runs > MAX_RUNS:
        raise ScslabError(f"{option}: {n_runs:,} runs (allowed: at most {MAX_RUNS:,} runs in one experiment)")
    return n_runs


def check_disk(n_runs: int, scenario: Scenario, root: str | Path, option: str) -> None:
    """A one-line error when `n_runs` stored runs of `scenario` would not fit on the disk under `root`."""
    check_run_count(n_runs, option)
    per_run = RUN_FILE_BYTES + 8 * scenario.params.days * (table_columns(scenario.params) + 1)
    need = n_runs * per_run
    where = Path(root).resolve()
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if need > free:
        raise ScslabError(
            f"{option}: {n_runs:,} runs need about {need / 2**30:.1f} GiB under {root} but {free / 2**30:.1f} GiB "
            f"is free (allowed here: at most {free // per_run:,} runs)"
        )


@contextmanager
def using(executor: Executor | str | None) -> Iterator[Executor]:
    """The executor to run on; one made here is shut down on leaving."""
    if executor is None or isinstance(executor, str):
        made = make_executor(executor or "local")
        with made:
            yield made
    else:
        yield executor


@contextmanager
def experiment(
    kind: str,
    scenario: Scenario,
    spec: dict[str, Any],
    n_runs: int,
    options: Options,
    tasks: Sequence[Task] | None = None,
) -> Iterator[Experiment]:
    """An open experiment, closed (catalogue flushed, lock released) on leaving; refused in one line
    before anything is written when its runs would not fit on the disk."""
    check_disk(n_runs, scenario, options.directory or options.root, RUN_OPTIONS.get(kind, "runs"))
    exp = Experiment.open(
        kind, scenario, spec, n_runs, options.root, options.experiment_id, options.resume, tasks=tasks,
        directory=options.directory,
        baseline=options.baseline,
    )
    with exp:
        yield exp


def run_matrix(
    exp: Experiment, tasks: Sequence[Task], executor: Executor, options: Options, metrics: Sequence[str]
) -> np.ndarray:
    """Run `tasks` and gather the `metrics` of each, one row per task index (NaN where a run failed)."""
    out = np.full((len(tasks), len(metrics)), np.nan)
    row = {task.index: i for i, task in enumerate(tasks)}
    for record in exp.run(tasks, executor, options.progress, options.work):
        figures = record.figures
        out[row[record.task.index]] = [figures.get(m, np.nan) for m in metrics]  # NaN: a run without a baseline
    exp.check_failures()
    return out


def seed_tasks(points: Sequence[dict[str, Any]], seeds: Sequence[int]) -> list[Task]:
    """One task per (point, replicate): index = point * replicates + replicate, replicate r with seed r."""
    check_run_count(len(points) * len(seeds), "design points x --seeds")
    return [
        Task(p * len(seeds) + r, seed, tuple(sorted(point.items())), p, r)
        for p, point in enumerate(points)
        for r, seed in enumerate(seeds)
    ]
