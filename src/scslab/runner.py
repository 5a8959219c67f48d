"""Runs that survive being killed: checkpoints, `--resume`, `--check`, and SIGINT/SIGTERM.

A run with checkpoints keeps its work in a hidden sibling of its run directory,
`.NAME.checkpoint/` (workdir.py), and writes the run directory itself only at the end,
atomically. `--resume` accepts either folder. Every run holds the lock on its output
(`.NAME.lock`, lock.py) from `begin` to its end, so two runs never write one output.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd

from scslab import engine
from scslab.atomic import fsync_dir, write_error, write_text
from scslab.cases import CaseFile, report_picks
from scslab.checkpoint import load_checkpoint, save_checkpoint
from scslab.errors import ScslabError
from scslab.experiments.baseline import simulate_baseline
from scslab.hardware import available_bytes
from scslab.lock import OutputLock
from scslab.memory import check_trace, estimate_peak_bytes, trace_bytes
from scslab.model.invariants import Checker
from scslab.model.params import compile_params
from scslab.model.trace import TraceSpec, parse_trace
from scslab.preflight import check_output, existing_ancestor
from scslab.report import save_run
from scslab.results import Result
from scslab.scenario import Scenario, load_scenario
from scslab.signals import SIGNAL_NAMES, Stopped
from scslab.uncertainty import add_chilling
from scslab.version import __version__
from scslab.workdir import (
    COMPLETE_FILE,
    JOB_FILE,
    SCENARIO_FILE,
    STATE_FILE,
    WORK_SUFFIX,
    JobRecord,
    clean_leftovers,
    identity,
    is_work_dir,
    read_record,
    read_scenario_text,
    remove_work,
    target_of,
    text_hash,
    work_dir,
)  # fmt: skip

__all__ = ["WORK_SUFFIX", "Job", "StopOnSignals", "Stopped", "begin", "finish", "resume", "simulate",
           "simulate_baseline_of", "work_dir"]  # fmt: skip
REPORT_TRACE_SHARE = 0.1  # the most memory a run spends tracing for its report's Cases, as a share of its peak
CHECKPOINT_BYTES_PER_CITIZEN = 400  # a checkpoint is about 470 bytes per citizen (docs/reliability.md)
PEOPLE_BYTES_PER_CITIZEN = 16


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
    """A run to do or to finish: scenario, seed, output directory and options.

    From `begin` (or `resume`) to the end of `simulate` (if it fails) or of `finish`, the job holds
    the lock on its output directory."""

    scenario: Scenario
    seed: int
    target: Path
    every: int = 0  # days between checkpoints; 0 = none
    check: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # save_run's people, with_baseline, report
    last_checkpoint: int | None = None  # day of the newest checkpoint on disk
    scenario_sha256: str = ""  # of the resolved scenario.toml the run started with
    lock: OutputLock | None = field(default=None, repr=False)
    created: list[Path] = field(default_factory=list, repr=False)  # folders begin() made, to undo on a refusal
    baseline: pd.DataFrame | None = field(default=None, repr=False)  # the baseline's daily table, once run

    @property
    def work(self) -> Path:
        return work_dir(self.target)

    @property
    def trace(self) -> TraceSpec | None:
        """Whom the run traces (its `trace` option)."""
        return parse_trace(self.options.get("trace"))

    def identity(self) -> dict[str, Any]:
        """What its checkpoints carry to identify it."""
        sha = self.scenario_sha256 or text_hash(self.scenario.to_toml())
        return identity(sha, self.seed, self.scenario.params.population.size)

    def release(self) -> None:
        """Let go of the output's lock (a no-op when not held)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def undo(self) -> None:
        """Remove what `begin` created (work folder, then, once the lock is let go, parent folders left empty)."""
        created, self.created = self.created, []
        if self.lock is not None and self.work in created:
            remove_work(self.work)
        self.release()
        for path in reversed(created):
            if path != self.work:
                with suppress(OSError):
                    path.rmdir()  # only if still empty


def begin(job: Job) -> None:
    """Check the output path, take its lock and, for a run with checkpoints, create its work folder with
    everything `--resume` needs. A refusal leaves nothing behind."""
    check_output(job.target, need_bytes=disk_estimate(job))
    check_trace_disk(job)
    job.created = _make_parents(job.target.parent)
    try:
        job.lock = OutputLock(job.target).acquire()
        if job.target.exists():
            raise ScslabError(f"{job.target}: output directory already exists (allowed: a new directory)")
        if job.work.exists():
            raise ScslabError(
                f"{job.work}: a stopped run with checkpoints is there (allowed: scslab run --resume "
                f"{job.target} to finish it, or remove {job.work} first)"
            )
        clean_leftovers(job.target)
        if job.every:
            text = job.scenario.to_toml()
            job.scenario_sha256 = text_hash(text)
            job.work.mkdir()
            job.created.append(job.work)
            write_text(job.work / SCENARIO_FILE, text, durable=True)
            record = JobRecord(job.seed, job.scenario.origin, job.target.name, job.every, job.check,
                               job.options, job.scenario_sha256, __version__, dict(job.scenario.overrides))  # fmt: skip
            write_text(job.work / JOB_FILE, record.to_json(), durable=True)
            fsync_dir(job.work.parent)
    except BaseException as exc:
        job.undo()
        if isinstance(exc, OSError):
            raise write_error(job.work, exc) from None
        raise


def _make_parents(folder: Path) -> list[Path]:
    """Create `folder` and the folders above it that are missing; the ones created, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    try:
        for path in reversed(missing):
            path.mkdir()
    except OSError as exc:
        raise write_error(missing[0], exc) from None
    return list(reversed(missing))


def disk_estimate(job: Job) -> int:
    """A low estimate of the bytes a run writes at its peak: two checkpoints during a write, people.parquet
    (the trace's files are checked apart, `check_trace_disk`)."""
    n = job.scenario.params.population.size
    return (2 * CHECKPOINT_BYTES_PER_CITIZEN * n if job.every else 0) + (PEOPLE_BYTES_PER_CITIZEN * n if
            job.options.get("people") else 0)  # fmt: skip


def check_trace_disk(job: Job) -> None:
    """A one-line refusal when the trace's files (and their copies in checkpoints) would not fit on the
    output's disk beside the rest of the run, naming the trace that would."""
    spec = job.trace
    if spec is None:
        return
    params = job.scenario.params
    memory, disk = trace_bytes(params, spec)
    need = disk + (2 * memory if job.every else 0)  # (two checkpoints while one is written hold the rows)
    free = shutil.disk_usage(existing_ancestor(job.target)).free - disk_estimate(job)
    check_trace(spec, need, free, "disk", params)


def resume(run_dir: Path) -> tuple[Job, engine.Midway | None]:
    """The job saved for `run_dir` (the run directory or its work folder) and its last checkpoint, checked
    against each other; the job holds the output's lock."""
    work = run_dir if is_work_dir(run_dir) else work_dir(run_dir)
    target = target_of(work)
    if not (work / JOB_FILE).is_file():
        _not_resumable(target)
    lock = OutputLock(target).acquire()
    try:
        return _resume_locked(work, target, lock)
    except BaseException:
        lock.release()
        raise


def _not_resumable(target: Path) -> None:
    if target.is_dir() and (target / "summary.json").is_file():
        raise ScslabError(f"{target}: this run is already complete (allowed: a run stopped before its end)")
    raise ScslabError(f"{target}: no checkpointed run here (allowed: a run started with --checkpoint-every)")


def _resume_locked(work: Path, target: Path, lock: OutputLock) -> tuple[Job, engine.Midway | None]:
    if not (work / JOB_FILE).is_file():  # another process completed it while we waited for nothing
        _not_resumable(target)
    clean_leftovers(target)
    if target.exists():
        if (work / COMPLETE_FILE).is_file():  # killed between publishing the run directory and dropping this
            remove_work(work)
            raise ScslabError(f"{target}: this run is already complete (allowed: a run stopped before its end)")
        raise ScslabError(
            f"{target}: a directory is there beside the checkpoint {work} that should become it "
            f"(allowed: move one of them away)"
        )
    (work / COMPLETE_FILE).unlink(missing_ok=True)
    record = read_record(work)
    read_scenario_text(work, record)
    scenario = dataclasses.replace(load_scenario(work / SCENARIO_FILE), origin=record.origin,
                                   overrides=record.overrides)  # fmt: skip
    job = Job(scenario, record.seed, target, record.every, record.check, dict(record.options),
              scenario_sha256=record.scenario_sha256, lock=lock)  # fmt: skip
    check_output(target)
    state_file = work / STATE_FILE
    if not state_file.exists():
        return job, None
    expect = {"version": __version__, **job.identity()}
    progress = load_checkpoint(state_file, compile_params(scenario.params), expect=expect)
    if progress.day > scenario.params.days:
        raise ScslabError(f"{state_file}: checkpoint of day {progress.day}, past the run's {scenario.params.days}")
    job.last_checkpoint = progress.day
    return job, progress


def simulate(
    job: Job,
    progress: engine.Midway | None,
    guard: StopOnSignals,
    on_day: Callable[[int, int], None] | None = None,
    baseline_first: bool = True,
) -> Result:
    """Run (or go on with) `job`: check invariants and write checkpoints after the days asked for; a signal
    stops the day loop between days. A job not begun is begun here. If the run does not get to its end,
    the lock is let go, and a work folder this process created with no checkpoint yet is removed.

    A job `with_baseline` runs its baseline first (then the two runs' states are never in memory together),
    unless `baseline_first` is False: then `simulate_baseline_of` runs it after (the lab, whose first chart
    must not wait for it), or `finish` does. The files are the same either way."""
    if job.lock is None:
        begin(job)
    sc = job.scenario
    days = sc.params.days
    meta = job.identity()

    def after_day(at: engine.Midway) -> None:
        if checker is not None:
            checker(at.state, at.table, at.day - 1)
        if job.every and (at.day % job.every == 0 or at.day == days):
            with guard.deferred():
                save_checkpoint(job.work / STATE_FILE, at, meta)
                job.last_checkpoint = at.day
        guard.check()

    try:
        if baseline_first and job.options.get("with_baseline") and job.baseline is None:
            job.baseline = simulate_baseline(sc, job.seed)  # a signal stops it at once
        at = progress or engine.start(sc.params, job.seed, sc.origin, trace=job.trace or report_trace(job))
        checker = Checker(at.state) if job.check else None
        with guard.polled():
            run = engine.run(sc.params, job.seed, on_day, sc.origin, resume=at, after_day=after_day)
        return Result.from_run(sc, job.seed, run)
    except BaseException as exc:
        _stop(job)
        if isinstance(exc, ScslabError) and job.last_checkpoint is not None:
            raise type(exc)(f"{exc}; {_kept(job)}") from None
        raise


def simulate_baseline_of(job: Job, guard: StopOnSignals, on_day: Callable[[int, int], None] | None = None) -> None:
    """Run the baseline of a job `with_baseline` whose run is done (`simulate(..., baseline_first=False)`);
    a stop request is honoured between its days, and then undoes the job as a stopped `simulate` does."""
    if not job.options.get("with_baseline") or job.baseline is not None:
        return

    def day(done: int, days: int) -> None:
        if on_day is not None:
            on_day(done, days)
        guard.check()

    try:
        with guard.polled():
            job.baseline = simulate_baseline(job.scenario, job.seed, day)
    except BaseException:
        _stop(job)
        raise


def report_trace(job: Job) -> TraceSpec | None:
    """What a run that writes its report but traces nobody traces for the report's Cases section: everyone ever
    listed, when that takes at most REPORT_TRACE_SHARE of the run's memory and fits (else None: the section
    names the command that explains anyone). No trace file is written for it (`finish`)."""
    if job.trace is not None or not job.options.get("report", False):
        return None
    params, spec = job.scenario.params, TraceSpec("listed", text="listed")
    peak = estimate_peak_bytes(params, bool(job.options.get("people")))
    need = trace_bytes(params, spec)[0]
    return spec if need <= REPORT_TRACE_SHARE * peak and peak + need <= 0.9 * available_bytes() else None


def report_cases(result: Result) -> tuple[list[CaseFile], bool]:
    """The report's cases (`cases.report_picks`) from the run's own trace, and whether any pick was left out
    because the run did not trace it."""
    picks = report_picks(result.listings, result.seed)
    cases = [result.case(c) for c in picks if result.has_case(c)]
    return cases, len(cases) < len(picks)


def _stop(job: Job) -> None:
    """A run that ends before its results: keep a checkpoint if there is one, else undo `begin`."""
    if job.last_checkpoint is None:
        job.undo()  # only what begin() created: a resumed job's work folder is kept
    job.release()


def _kept(job: Job) -> str:
    return f"the checkpoint of day {job.last_checkpoint} is kept (resume with: scslab run --resume {job.target})"


def finish(job: Job, result: Result) -> Path:
    """Write the run directory (atomically; with the baseline if asked, which `simulate` ran before the run),
    then drop the work folder; let go of the lock."""
    options = dict(job.options)
    options.pop("trace", None)  # (the result knows whether it traced)
    if options.get("report", True):
        options["cases"], options["cases_left_out"] = report_cases(result)
    if job.trace is None and result.traced:  # traced for the report only: no trace files
        result.drop_trace()
    baseline = None
    if options.pop("with_baseline", False):
        baseline = job.baseline if job.baseline is not None else simulate_baseline(result.scenario, result.seed)
    if baseline is not None:
        add_chilling(result.summary, result.timeseries, baseline, result.scenario.params)
    try:
        if job.every:
            write_text(job.work / COMPLETE_FILE, job.target.name + "\n", durable=True)
        try:
            path = save_run(result, job.target, baseline=baseline, **options)
        except BaseException as exc:
            if job.every and not job.target.exists():  # else the run directory is out, whole: keep the mark
                (job.work / COMPLETE_FILE).unlink(missing_ok=True)
                if isinstance(exc, ScslabError) and job.last_checkpoint is not None:
                    raise type(exc)(f"{exc}; {_kept(job)}") from None
            raise
        if job.every:
            remove_work(job.work)
            fsync_dir(job.work.parent)
        return path
    finally:
        job.release()
