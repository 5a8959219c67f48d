"""What every experiment shares: where it runs and writes (`Options`), and its run loop."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scslab.errors import ScslabError
from scslab.experiments.executors import Executor, Task, Work, execute, make_executor
from scslab.experiments.store import Experiment, RunCallback
from scslab.scenario import Scenario, load_scenario


@dataclass
class Options:
    """Where an experiment runs and writes: the executor, the root folder, its id, resume, progress."""

    executor: Executor | str | None = None  # an executor, "local", "dask", or None for the local pool
    root: str | Path = "runs"
    experiment_id: str | None = None
    resume: bool = False
    progress: RunCallback | None = None
    work: Work = execute  # what a worker runs for a task (tests swap in one that crashes)


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    """A Scenario, loading a preset name or a file path."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def check_count(value: int, option: str, least: int = 1) -> int:
    """`value` if it is at least `least`, else a one-line error."""
    if value < least:
        raise ScslabError(f"{option}: {value} (allowed: at least {least})")
    return value


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
    """An open experiment, closed (catalogue flushed, lock released) on leaving."""
    exp = Experiment.open(
        kind, scenario, spec, n_runs, options.root, options.experiment_id, options.resume, tasks=tasks
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
        out[row[record.task.index]] = [record.figures[m] for m in metrics]
    exp.check_failures()
    return out


def seed_tasks(points: Sequence[dict[str, Any]], seeds: Sequence[int]) -> list[Task]:
    """One task per (point, replicate): index = point * replicates + replicate, replicate r with seed r."""
    return [
        Task(p * len(seeds) + r, seed, tuple(sorted(point.items())), p, r)
        for p, point in enumerate(points)
        for r, seed in enumerate(seeds)
    ]
