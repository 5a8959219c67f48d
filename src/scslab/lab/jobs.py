"""The lab's runs: each on a worker thread, under a server-wide cap with a queue, live snapshots, cancel.

A run is written exactly as `scslab run` writes it: the same `runner.Job`, `runner.simulate` and
`runner.finish` that `api.run` uses, started from an `engine.start` that the lab keeps a hold of,
so that it can read the daily table between days. A cancel is a stop request that the runner
honours between two days, as it honours SIGINT (`runner.StopOnSignals`).
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab import engine, runner
from scslab.api import compare
from scslab.errors import ScslabError
from scslab.report import Comparison, RunData
from scslab.results import Result, breakdowns, summarise
from scslab.scenario import Scenario

STATES = ("queued", "building", "running", "baseline", "writing", "done", "cancelled", "failed")
SNAPSHOT_DAYS = 5  # a live snapshot at least every this many simulated days
SNAPSHOT_SECONDS = 1.0  # and at most this often in wall time (the first and the last always): the browser draws
# six charts per snapshot, which takes it a few hundred milliseconds at a year's length (on the same cores)


class RunQueue:
    """The server-wide cap on concurrent runs: the runs going, and those waiting in order."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ScslabError(f"--max-runs: {slots} (allowed: an integer of at least 1)")
        self.slots = slots
        self.running: list[Any] = []
        self.waiting: list[Any] = []
        self.cond = threading.Condition()

    def wait_turn(self, run: Any, cancelled: Callable[[], bool], on_wait: Callable[[], None]) -> bool:
        """Block until `run` may go (True) or is cancelled while it waits (False)."""
        with self.cond:
            self.waiting.append(run)
            try:
                while not cancelled():
                    if len(self.running) < self.slots and self.waiting[0] is run:
                        self.running.append(run)
                        return True
                    on_wait()
                    self.cond.wait(0.2)
                return False
            finally:
                self.waiting.remove(run)
                self.cond.notify_all()

    def leave(self, run: Any) -> None:
        """`run` ended: its slot goes to the next one waiting."""
        with self.cond:
            if run in self.running:
                self.running.remove(run)
            self.cond.notify_all()

    def position(self, run: Any) -> int | None:
        """1 for the first run waiting, None when `run` is not waiting."""
        with self.cond:
            return self.waiting.index(run) + 1 if run in self.waiting else None

    def counts(self) -> tuple[int, int]:
        """(runs going, runs waiting) over the whole server."""
        with self.cond:
            return len(self.running), len(self.waiting)


@dataclass
class Snapshot:
    """What the page draws of a run so far: its data as a report sees it, and where it is."""

    day: int
    days: int
    data: RunData
    final: bool = False


def live_data(scenario: Scenario, seed: int, at: engine.Midway) -> RunData:
    """The run so far as a RunData: the days done, the breakdowns and summary of today's state."""
    table = at.table
    days = table.days_done
    ts = pd.DataFrame({"day": np.arange(days)} | {k: v[:days].copy() for k, v in table.columns.items()})
    b = breakdowns(at.state)
    run = engine.Run(at.state, table, dict(at.profile), at.elapsed)
    summary = summarise(scenario, seed, run, ts, b)
    return RunData(ts, b, summary, scenario.params.model_dump(mode="json", exclude_none=True))


@dataclass
class LiveRun:
    """One run of the lab, from the queue to its folder (or to its cancel)."""

    scenario: Scenario
    seed: int
    target: Path
    baseline: bool = True
    on_update: Callable[[LiveRun], None] = field(default=lambda run: None, repr=False)
    state: str = "queued"
    message: str = ""
    day: int = 0
    snapshot: Snapshot | None = None
    result: Result | None = field(default=None, repr=False)
    started: float = 0.0  # perf_counter when Run was pressed
    first_snapshot_at: float | None = None  # seconds from start to the first snapshot
    thread: threading.Thread | None = field(default=None, repr=False)
    guard: runner.StopOnSignals = field(default_factory=runner.StopOnSignals, repr=False)
    _last_snapshot: float = field(default=0.0, repr=False)
    _at: engine.Midway | None = field(default=None, repr=False)

    @property
    def days(self) -> int:
        return self.scenario.params.days

    @property
    def active(self) -> bool:
        return self.state in ("queued", "building", "running", "baseline", "writing")

    def start(self, queue: RunQueue) -> LiveRun:
        """Queue the run and go on a worker thread (a daemon: a closing server does not wait for it)."""
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._work, args=(queue,), name=f"lab-run-{self.target.name}",
                                       daemon=True)  # fmt: skip
        self.thread.start()
        return self

    def cancel(self) -> None:
        """Stop the run between two days (or before it starts); nothing of it is left under the root."""
        self.guard.pending = int(signal.SIGINT)

    @property
    def cancelled(self) -> bool:
        return self.guard.pending is not None

    def _set(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.on_update(self)

    def _work(self, queue: RunQueue) -> None:
        try:
            if not queue.wait_turn(self, lambda: self.cancelled, lambda: self.on_update(self)):
                self._set("cancelled", "cancelled while waiting in the queue")
                return
            self._run()
        except runner.Stopped:
            self._set("cancelled", f"cancelled on day {self.day} of {self.days}; nothing was written")
        except ScslabError as exc:
            self._set("failed", str(exc))
        except Exception as exc:  # a bug: one line on the page, the traceback on the server's terminal
            traceback.print_exc()
            self._set("failed", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            queue.leave(self)

    def _run(self) -> None:
        sc = self.scenario
        # the baseline runs after the live run (in `runner.finish`), not before it as `runner.simulate` would:
        # the page's first chart must not wait for it (the files are the same either way)
        options = {"people": False, "with_baseline": False, "report": True}
        job = runner.Job(sc, self.seed, self.target, 0, False, options)
        self._set("building", "building the synthetic population")
        runner.begin(job)
        try:  # traced as `scslab run` traces for its report's cases (everyone listed, where memory allows)
            self._at = engine.start(sc.params, self.seed, sc.origin, trace=runner.report_trace(job))
        except BaseException:
            job.undo()
            raise
        self.guard.check()
        self._set("running")
        result = runner.simulate(job, self._at, self.guard, self._on_day)
        job.options["with_baseline"] = self.baseline
        self.result = result
        words = "running the same city without surveillance (the baseline)" if self.baseline else "writing"
        self._set("baseline" if self.baseline else "writing", words)
        state = result.state
        assert state is not None  # (a run just made holds its state)
        kept = state.trace
        runner.finish(job, result)  # (drops the report's trace, which writes no file)
        state.trace = kept  # the People page opens the listed people's cases from it
        self.snapshot = Snapshot(self.days, self.days, RunData.from_dir(self.target), final=True)
        self._set("done", f"written to {self.target}")

    def _on_day(self, day: int, days: int) -> None:
        self.day = day
        now = time.perf_counter()
        last = self.snapshot.day if self.snapshot else 0
        if day == days or (day - last >= SNAPSHOT_DAYS and now - self._last_snapshot >= SNAPSHOT_SECONDS):
            self._snap(final=False)
        else:
            self.on_update(self)

    def _snap(self, final: bool) -> None:
        assert self._at is not None
        self.snapshot = Snapshot(self._at.table.days_done, self.days, live_data(self.scenario, self.seed, self._at),
                                 final)  # fmt: skip
        self._last_snapshot = time.perf_counter()
        if self.first_snapshot_at is None and self.snapshot.day > 0:
            self.first_snapshot_at = self._last_snapshot - self.started
        self.on_update(self)


class CancelledError(Exception):
    """A comparison cancelled from the page (raised from its per-run callback)."""


@dataclass
class CompareRun:
    """A comparison of two designs over K seeds with common random numbers (`api.compare`), on a worker thread."""

    a: Scenario
    b: Scenario
    seeds: int
    overrides: dict[str, Any]
    on_update: Callable[[CompareRun], None] = field(default=lambda run: None, repr=False)
    state: str = "queued"
    message: str = ""
    done: int = 0
    comparison: Comparison | None = None
    thread: threading.Thread | None = field(default=None, repr=False)
    _cancel: bool = field(default=False, repr=False)

    @property
    def total(self) -> int:
        return 2 * self.seeds

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def cancel(self) -> None:
        self._cancel = True

    def start(self, queue: RunQueue) -> CompareRun:
        self.thread = threading.Thread(target=self._work, args=(queue,), name="lab-compare", daemon=True)
        self.thread.start()
        return self

    def _set(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.on_update(self)

    def _on_run(self, done: int, total: int) -> None:
        self.done = done
        self.on_update(self)
        if self._cancel:
            raise CancelledError

    def _work(self, queue: RunQueue) -> None:
        try:
            if not queue.wait_turn(self, lambda: self._cancel, lambda: self.on_update(self)):
                self._set("cancelled", "cancelled while waiting in the queue")
                return
            self._set("running")
            self.comparison = compare(self.a, self.b, seeds=self.seeds, overrides=self.overrides, crn=True,
                                      on_run=self._on_run)  # fmt: skip
            self._set("done", f"{self.seeds} seeds, common random numbers")
        except CancelledError:
            self._set("cancelled", f"cancelled after {self.done} of {self.total} runs")
        except ScslabError as exc:
            self._set("failed", str(exc))
        except Exception as exc:
            traceback.print_exc()
            self._set("failed", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            queue.leave(self)
