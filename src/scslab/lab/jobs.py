"""The lab's runs: each in a worker process, under a server-wide cap with a queue, live snapshots, cancel.

A run is written exactly as `scslab run` writes it: a worker process (`lab.worker`) runs the same
`runner.Job`, `runner.simulate` and `runner.finish` that `api.run` uses, and sends its snapshots
between days. A thread of the server follows each run: it waits for the run's turn in the queue,
hands the run to a warm worker, and passes on what the worker says. A cancel is a stop request that
the worker honours between two days, as `scslab run` honours SIGINT; a worker that does not honour
it within a second is killed, and what it left is removed.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scslab.api import compare
from scslab.errors import ScslabError
from scslab.lab.listed import RunPeople
from scslab.lab.worker import CANCEL_SECONDS, Order, Workers, remove_killed
from scslab.report import Comparison, RunData
from scslab.scenario import Scenario

STATES = ("queued", "building", "running", "baseline", "writing", "done", "cancelled", "failed")


class RunQueue:
    """The server-wide cap on concurrent runs: the runs going, and those waiting in order; and the warm
    worker processes the runs go in."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ScslabError(f"--max-runs: {slots} (allowed: an integer of at least 1)")
        self.slots = slots
        self.running: list[Any] = []
        self.waiting: list[Any] = []
        self.cond = threading.Condition()
        self.workers = Workers()

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
    people: RunPeople | None = field(default=None, repr=False)  # the People page's, once done
    started: float = 0.0  # perf_counter when Run was pressed
    first_snapshot_at: float | None = None  # seconds from start to the first snapshot
    cancel_seconds: float = CANCEL_SECONDS  # a worker that has not stopped this long after a cancel is killed
    thread: threading.Thread | None = field(default=None, repr=False)
    cancel_at: float | None = field(default=None, repr=False)  # perf_counter of the cancel

    @property
    def days(self) -> int:
        return self.scenario.params.days

    @property
    def active(self) -> bool:
        return self.state in ("queued", "building", "running", "baseline", "writing")

    def start(self, queue: RunQueue) -> LiveRun:
        """Queue the run, followed by a thread of its own (a daemon: a closing server does not wait for it)."""
        self.started = time.perf_counter()
        self.thread = threading.Thread(target=self._work, args=(queue,), name=f"lab-run-{self.target.name}",
                                       daemon=True)  # fmt: skip
        self.thread.start()
        return self

    def cancel(self) -> None:
        """Stop the run between two days (or before it starts); nothing of it is left under the root."""
        if self.cancel_at is None:
            self.cancel_at = time.perf_counter()

    @property
    def cancelled(self) -> bool:
        return self.cancel_at is not None

    def _set(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.on_update(self)

    def _work(self, queue: RunQueue) -> None:
        try:
            if not queue.wait_turn(self, lambda: self.cancelled, lambda: self.on_update(self)):
                self._set("cancelled", "cancelled while waiting in the queue")
                return
            self._set("building", "starting")
            self._follow(queue.workers)
        except ScslabError as exc:
            self._set("failed", str(exc))
        except Exception as exc:  # a bug: one line on the page, the traceback on the server's terminal
            traceback.print_exc()
            self._set("failed", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            queue.leave(self)

    def _follow(self, workers: Workers) -> None:
        """Hand the run to a worker and pass on what it says, until the run ends."""
        worker = workers.take()
        worker.conn.send(("run", Order(self.scenario, self.seed, self.target, self.baseline)))
        told = False
        while True:
            if self.cancel_at is not None and not told:
                worker.conn.send(("cancel",))
                told = True
            if self.cancel_at is not None and time.perf_counter() - self.cancel_at > self.cancel_seconds:
                workers.replace(worker)
                remove_killed(self.target)
                self._set("cancelled", f"cancelled on day {self.day} of {self.days}; nothing was written")
                return
            try:
                message = worker.conn.recv() if worker.conn.poll(0.05) else None
            except (EOFError, OSError):  # (it died)
                message = None
            if message is None:
                if not worker.process.is_alive():
                    code = worker.process.exitcode
                    workers.replace(worker)
                    remove_killed(self.target)
                    raise ScslabError(f"the run's worker process ended (exit code {code}); nothing was written")
                continue
            if self._hear(message):
                workers.give_back(worker)
                return

    def _hear(self, message: tuple[Any, ...]) -> bool:
        """Take in one message of the worker; True when it is the run's last."""
        kind = message[0]
        if kind == "state":
            self._set(message[1], message[2])
        elif kind == "day":
            self.day = message[1]
            self.on_update(self)
        elif kind == "snapshot":
            self.day = message[1]
            self.snapshot = Snapshot(message[1], self.days, message[2])
            if self.first_snapshot_at is None:
                self.first_snapshot_at = time.perf_counter() - self.started
            self.on_update(self)
        elif kind == "done":
            self.people = message[2]
            self.snapshot = Snapshot(self.days, self.days, RunData.from_dir(self.target), final=True)
            self._set("done", message[1])
        elif kind == "cancelled":
            self._set("cancelled", f"cancelled on day {self.day} of {self.days}; nothing was written")
        elif kind == "failed":
            self._set("failed", message[1])
        return kind in ("done", "cancelled", "failed")


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
