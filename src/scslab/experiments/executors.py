"""Where runs execute: in this process, a local process pool, or a dask.distributed cluster.

What crosses a process boundary is small: a `Task` (a seed and a few overrides) and the
base scenario's TOML text; a worker sends back the run's daily table, breakdowns and
summary, never its state. A worker that dies is retried; a run that raises is reported.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from scslab.errors import ScslabError
from scslab.results import simulate
from scslab.scenario import Scenario, load_scenario
from scslab.signals import ignore_interrupts
from scslab.uncertainty import add_chilling

RETRIES = 3


@dataclass(frozen=True)
class Task:
    """One run: its index in the experiment, its seed, and the overrides of its design point."""

    index: int
    seed: int
    overrides: tuple[tuple[str, int | float], ...] = ()
    point: int = 0
    replicate: int = 0


@dataclass(frozen=True)
class BaseScenario:
    """The experiment's scenario as resolved TOML text, where it came from, and whether each run also runs its
    baseline without surveillance (for the chilling effect)."""

    toml: str
    origin: str
    overrides: str = "{}"  # the scenario's --set keys as JSON text (hashable), for each run's summary.json
    baseline: bool = True

    @classmethod
    def of(cls, scenario: Scenario, baseline: bool = True) -> BaseScenario:
        return cls(scenario.to_toml(), scenario.origin, json.dumps(dict(scenario.overrides), default=str), baseline)


@dataclass
class RunOutput:
    """What a worker sends back: the run's daily table, breakdowns, summary and listing episodes."""

    index: int
    timeseries: pd.DataFrame
    breakdowns: pd.DataFrame
    summary: dict[str, Any]
    listings: pa.Table  # listings.parquet's table (`model.listings.SCHEMA`)


@dataclass
class Outcome:
    """A task's end: its output, or why it failed."""

    task: Task
    output: RunOutput | None = None
    error: str | None = None


Work = Callable[[Task, BaseScenario], RunOutput]


@lru_cache(maxsize=4)
def load_base(base: BaseScenario) -> Scenario:
    """The Scenario of a base's TOML text (cached: a worker parses each base once)."""
    with tempfile.TemporaryDirectory(prefix="scslab-") as tmp:
        path = Path(tmp) / "scenario.toml"
        path.write_text(base.toml, encoding="utf-8")
        scenario = load_scenario(path)
    return dataclasses.replace(scenario, origin=base.origin, overrides=json.loads(base.overrides))


def execute(task: Task, base: BaseScenario) -> RunOutput:
    """Run one task (in a worker): the base scenario with the task's overrides and seed."""
    scenario = load_base(base)
    if task.overrides:
        scenario = scenario.with_overrides(dict(task.overrides))
    result = simulate(scenario, task.seed)
    if base.baseline:
        from scslab.experiments.baseline import simulate_baseline  # a sibling module, imported where used

        add_chilling(result.summary, result.timeseries, simulate_baseline(scenario, task.seed), scenario.params)
    return RunOutput(task.index, result.timeseries, result.breakdowns, result.summary, result.listings_table())


def _failure(task: Task, exc: BaseException) -> Outcome:
    """A run that raised: a bad input stops the experiment, anything else is that run's failure."""
    if isinstance(exc, ScslabError):
        raise exc
    message = " ".join(str(exc).split()) or type(exc).__name__
    return Outcome(task, error=f"{type(exc).__name__}: {message}")


@dataclass
class LocalExecutor:
    """A process pool over this machine's cores; `workers=0` runs in this process (for debugging)."""

    workers: int | None = None
    retries: int = RETRIES
    _pool: ProcessPoolExecutor | None = field(default=None, init=False, repr=False)

    @property
    def size(self) -> int:
        return self.workers if self.workers is not None else (os.cpu_count() or 1)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(now=kind is not None and not issubclass(kind, Exception))

    def close(self, now: bool = False) -> None:
        """Shut the pool down; `now` (a stop: Ctrl-C, SIGTERM) ends the runs under way instead of waiting."""
        if self._pool is not None:
            if now:
                for worker in list((getattr(self._pool, "_processes", None) or {}).values()):
                    worker.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        return ProcessPoolExecutor(
            max_workers=self.size, mp_context=multiprocessing.get_context("spawn"), initializer=ignore_interrupts
        )

    def run(self, tasks: Iterable[Task], base: BaseScenario, work: Work = execute) -> Iterator[Outcome]:
        """Each task's outcome, as runs finish."""
        if self.size == 0:
            for task in tasks:
                try:
                    yield Outcome(task, work(task, base))
                except Exception as exc:
                    yield _failure(task, exc)
            return
        pending = deque(tasks)
        attempts: dict[int, int] = {}
        inflight: dict[Future[RunOutput], Task] = {}
        while pending or inflight:
            if self._pool is None:
                self._pool = self._new_pool()
            while pending and len(inflight) < 2 * self.size:
                task = pending.popleft()
                inflight[self._pool.submit(work, task, base)] = task
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                wait(inflight)  # a dead worker breaks the pool: every unfinished run fails with it
                done = set(inflight)
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            for future in done:
                task = inflight.pop(future)
                problem = future.exception()
                if isinstance(problem, BrokenProcessPool):
                    attempts[task.index] = attempts.get(task.index, 0) + 1
                    if attempts[task.index] <= self.retries:
                        pending.appendleft(task)
                    else:
                        yield Outcome(task, error=f"its worker died {attempts[task.index]} times")
                elif problem is not None:
                    yield _failure(task, problem)
                else:
                    yield Outcome(task, future.result())


@dataclass
class DaskExecutor:
    """A dask.distributed cluster at `scheduler`, or a LocalCluster of `workers` started here."""

    scheduler: str | None = None
    workers: int | None = None
    processes: bool = True
    retries: int = RETRIES
    _client: Any = field(default=None, init=False, repr=False)
    _cluster: Any = field(default=None, init=False, repr=False)

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def client(self) -> Any:
        """The connected client, started on first use."""
        if self._client is not None:
            return self._client
        import logging

        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self._client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                reason = " ".join(str(exc).split())[:200]
                raise ScslabError(f"--scheduler {self.scheduler}: cannot connect ({reason})") from None
        else:
            self._cluster = LocalCluster(
                n_workers=self.workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=self.processes,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        return self._client

    def run(self, tasks: Iterable[Task], base: BaseScenario, work: Work = execute) -> Iterator[Outcome]:
        """Each task's outcome, as runs finish; a run whose worker dies is resubmitted."""
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        pending = deque(tasks)
        if not pending:
            return
        client = self.client()
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        shared = client.scatter(base, broadcast=True, hash=False)
        attempts: dict[int, int] = {}
        inflight: dict[str, Task] = {}
        stream = as_completed()

        def submit() -> None:
            while pending and len(inflight) < 2 * max(1, threads):
                task = pending.popleft()
                future = client.submit(work, task, shared, pure=False)
                inflight[future.key] = task
                stream.add(future)

        submit()
        for future in stream:
            task = inflight.pop(future.key)
            try:
                output = future.result()
            except KilledWorker:
                attempts[task.index] = attempts.get(task.index, 0) + 1
                if attempts[task.index] <= self.retries:
                    pending.appendleft(task)
                else:
                    yield Outcome(task, error=f"its workers died {attempts[task.index]} times")
            except Exception as exc:
                yield _failure(task, exc)
            else:
                yield Outcome(task, output)
            finally:
                future.release()
            submit()


Executor = LocalExecutor | DaskExecutor


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor that `--executor`, `--workers` and `--scheduler` name."""
    if workers is not None and workers < 0:
        raise ScslabError(f"--workers: {workers} (allowed: 0 to run in this process, or a positive count)")
    if kind == "local":
        if scheduler:
            raise ScslabError(
                "--scheduler: only with --executor dask (allowed: --executor dask --scheduler tcp://HOST:PORT)"
            )
        return LocalExecutor(workers)
    if kind == "dask":
        if workers == 0:
            raise ScslabError("--workers: 0 with --executor dask (allowed: a positive count)")
        return DaskExecutor(scheduler, workers)
    raise ScslabError(f"--executor: {kind!r} (allowed: local, dask)")
