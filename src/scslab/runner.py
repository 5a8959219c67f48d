"""Runs that survive being killed: checkpoints, `--resume`, `--check`, and SIGINT/SIGTERM.

A run with checkpoints keeps its work in a hidden sibling of its run directory,
`.NAME.checkpoint/` (the resolved scenario, `run.json`, `state.npz`), and writes the run
directory itself only at the end, atomically. `--resume` accepts either folder.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from scslab import engine
from scslab.atomic import fsync_dir, write_text
from scslab.checkpoint import load_checkpoint, save_checkpoint
from scslab.errors import ScslabError
from scslab.experiments.baseline import simulate_baseline
from scslab.model.invariants import Checker
from scslab.model.params import compile_params
from scslab.report import save_run
from scslab.results import Result
from scslab.scenario import Scenario, load_scenario
from scslab.signals import SIGNAL_NAMES, Stopped

WORK_SUFFIX = ".checkpoint"
STATE_FILE = "state.npz"
JOB_FILE = "run.json"
SCENARIO_FILE = "scenario.toml"


class StopOnSignals:
    """While active, SIGINT and SIGTERM stop the run: at once, at the end of a `deferred()` block, or, inside
    `polled()`, at the next `check()`.

    A handler's exception raised while compiled code calls back into Python comes out as another error
    (numba's dispatcher turns it into a SystemError); `translated()` turns that back into `Stopped`. The
    day loop avoids the question: it runs `polled()` and checks after each day.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self.depth = 0
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNAL_NAMES:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.pending = signum
        if self.depth == 0:
            raise Stopped(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A block a signal must not cut in two (a checkpoint's rename); the stop comes after it."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            raise Stopped(self.pending)

    @contextmanager
    def polled(self) -> Iterator[None]:
        """A block that stops only where it calls `check()` (or at its end)."""
        with self.deferred():
            yield

    def check(self) -> None:
        """Stop now if a signal came."""
        if self.pending is not None:
            raise Stopped(self.pending)

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Turn an error that a signal's exception became on its way through compiled code into `Stopped`."""
        try:
            yield
        except Exception as exc:
            if self.pending is None:
                raise
            raise Stopped(self.pending) from exc


@dataclass
class Job:
    """A run to do or to finish: scenario, seed, output directory and options."""

    scenario: Scenario
    seed: int
    target: Path
    every: int = 0  # days between checkpoints; 0 = none
    check: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # save_run's people, with_baseline, report
    last_checkpoint: int | None = None  # day of the newest checkpoint on disk

    @property
    def work(self) -> Path:
        return work_dir(self.target)


def work_dir(target: Path) -> Path:
    """Where a checkpointed run keeps its work until it is complete."""
    return target.with_name(f".{target.name}{WORK_SUFFIX}")


def begin(job: Job) -> None:
    """Create the work folder of a new checkpointed run, with everything `--resume` needs."""
    if job.target.exists():
        raise ScslabError(f"{job.target}: output directory already exists (allowed: a new directory)")
    try:
        job.work.mkdir(parents=True)
    except FileExistsError:
        raise ScslabError(
            f"{job.work}: a run with checkpoints is already there (allowed: scslab run --resume {job.target})"
        ) from None
    write_text(job.work / SCENARIO_FILE, job.scenario.to_toml(), durable=True)
    record = {"seed": job.seed, "origin": job.scenario.origin, "target": job.target.name, "every": job.every,
              "check": job.check, "options": job.options}  # fmt: skip
    write_text(job.work / JOB_FILE, json.dumps(record, indent=2) + "\n", durable=True)
    fsync_dir(job.work.parent)


def resume(run_dir: Path) -> tuple[Job, engine.Midway | None]:
    """The job saved for `run_dir` (the run directory or its work folder) and its last checkpoint."""
    work = run_dir if run_dir.name.endswith(WORK_SUFFIX) and run_dir.name.startswith(".") else work_dir(run_dir)
    if not (work / JOB_FILE).is_file():
        if run_dir.is_dir() and (run_dir / "summary.json").is_file():
            raise ScslabError(f"{run_dir}: this run is already complete (allowed: a run stopped before its end)")
        raise ScslabError(f"{run_dir}: no checkpointed run here (allowed: a run started with --checkpoint-every)")
    try:
        record = json.loads((work / JOB_FILE).read_text(encoding="utf-8"))
        seed, origin, name = int(record["seed"]), str(record["origin"]), str(record["target"])
        every, check, options = int(record["every"]), bool(record["check"]), dict(record["options"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScslabError(f"{work / JOB_FILE}: damaged ({type(exc).__name__})") from None
    scenario = dataclasses.replace(load_scenario(work / SCENARIO_FILE), origin=origin)
    target = work.with_name(name)
    if target.exists():
        shutil.rmtree(work, ignore_errors=True)
        raise ScslabError(f"{target}: this run is already complete (allowed: a run stopped before its end)")
    job = Job(scenario, seed, target, every, check, options)
    state_file = work / STATE_FILE
    if not state_file.exists():
        return job, None
    progress = load_checkpoint(state_file, compile_params(scenario.params))
    job.last_checkpoint = progress.day
    return job, progress


def simulate(
    job: Job,
    progress: engine.Midway | None,
    guard: StopOnSignals,
    on_day: Callable[[int, int], None] | None = None,
) -> Result:
    """Run (or go on with) `job`: check invariants and write checkpoints after the days asked for; a signal
    stops the day loop between days."""
    sc = job.scenario
    at = progress or engine.start(sc.params, job.seed, sc.origin)
    checker = Checker(at.state) if job.check else None
    days = sc.params.days

    def after_day(at: engine.Midway) -> None:
        if checker is not None:
            checker(at.state, at.table, at.day - 1)
        if job.every and (at.day % job.every == 0 or at.day == days):
            with guard.deferred():
                save_checkpoint(job.work / STATE_FILE, at, {"seed": job.seed, "scenario": sc.name})
                job.last_checkpoint = at.day
        guard.check()

    with guard.polled():
        run = engine.run(sc.params, job.seed, on_day, sc.origin, resume=at, after_day=after_day)
    return Result.from_run(sc, job.seed, run)


def finish(job: Job, result: Result) -> Path:
    """Write the run directory (atomically; with the baseline run first if asked), then drop the work folder."""
    options = dict(job.options)
    baseline = simulate_baseline(result.scenario, result.seed) if options.pop("with_baseline", False) else None
    path = save_run(result, job.target, baseline=baseline, **options)
    if job.every:
        shutil.rmtree(job.work, ignore_errors=True)
    return path
