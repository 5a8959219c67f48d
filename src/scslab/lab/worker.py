"""The lab's worker processes: each runs one lab run at a time, away from the server's process.

A run in the server's process would share its interpreter lock with the server and with the thread
that draws the charts, so the page and the run would slow each other. A worker is started ahead
(with Python's `spawn`, so that it shares nothing with the server's threads), loads the model's
compiled kernels once, and then runs what it is sent, as `scslab run` runs it: the same `runner.Job`,
`runner.begin`, `runner.simulate` and `runner.finish`.

What goes through its pipe, from the server: ``("run", Order)``, ``("cancel",)``, ``("quit",)``; from the
worker: ``("ready",)``, ``("state", state, message)``, ``("day", day)``, ``("snapshot", day, RunData)``,
and one of ``("done", message, RunPeople)``, ``("cancelled", message)``, ``("failed", message)``.
A cancel is honoured between two days; the server kills a worker that does not honour it within
`CANCEL_SECONDS` (one building its population, or writing its folder) and removes what it left.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab import engine, runner
from scslab.errors import ScslabError
from scslab.lab.listed import RunPeople
from scslab.lock import OutputLock
from scslab.report import RunData
from scslab.results import breakdowns, summarise
from scslab.scenario import Scenario, load_scenario
from scslab.workdir import clean_leftovers

SNAPSHOT_DAYS = 5  # a live snapshot at least every this many simulated days
SNAPSHOT_SECONDS = 1.0  # and at most this often in wall time (the first and the last always): the browser draws
# six charts per snapshot, which takes it a few hundred milliseconds at a year's length (on the same cores)
DAY_SECONDS = 0.05  # the day reached is sent at most this often
CANCEL_SECONDS = 1.0  # a worker that has not stopped this long after a cancel is killed
NICE = 10  # a worker's scheduling priority below the server's: the page's clicks come before the run's days


@dataclass(frozen=True)
class Order:
    """A run for a worker to do."""

    scenario: Scenario
    seed: int
    target: Path
    baseline: bool


def live_data(scenario: Scenario, seed: int, at: engine.Midway) -> RunData:
    """The run so far as a RunData: the days done, the breakdowns and summary of today's state."""
    table = at.table
    days = table.days_done
    ts = pd.DataFrame({"day": np.arange(days)} | {k: v[:days].copy() for k, v in table.columns.items()})
    b = breakdowns(at.state)
    run = engine.Run(at.state, table, dict(at.profile), at.elapsed)
    summary = summarise(scenario, seed, run, ts, b)
    return RunData(ts, b, summary, scenario.params.model_dump(mode="json", exclude_none=True))


class Reporter:
    """The worker's side of one run: it sends the days and snapshots, and turns a cancel into a stop request."""

    def __init__(self, conn: Connection, order: Order, guard: runner.StopOnSignals) -> None:
        self.conn, self.order, self.guard = conn, order, guard
        self.at: engine.Midway | None = None
        self.snapped_day, self.snapped, self.sent = 0, 0.0, 0.0

    def state(self, state: str, message: str = "") -> None:
        self.conn.send(("state", state, message))

    def listen(self) -> None:
        """Note a cancel sent meanwhile (or the server gone: the pipe closed)."""
        try:
            while self.conn.poll():
                if self.conn.recv()[0] == "cancel":
                    self.guard.pending = int(signal.SIGINT)
        except (EOFError, OSError):
            self.guard.pending = int(signal.SIGTERM)

    def day(self, day: int, days: int) -> None:
        """After each day of the run: a snapshot now and then, the day reached more often."""
        self.listen()
        now = time.perf_counter()
        if self.at is not None and (day == days or (day - self.snapped_day >= SNAPSHOT_DAYS
                                                    and now - self.snapped >= SNAPSHOT_SECONDS)):  # fmt: skip
            data = live_data(self.order.scenario, self.order.seed, self.at)
            self.conn.send(("snapshot", day, data))
            self.snapped_day, self.snapped = day, time.perf_counter()
        elif now - self.sent >= DAY_SECONDS:
            self.conn.send(("day", day))
            self.sent = now

    def baseline_day(self, day: int, days: int) -> None:
        self.listen()


def perform(conn: Connection, order: Order) -> RunPeople:
    """Run `order` and write its folder, telling the server as it goes; the listed people at the end."""
    sc, guard = order.scenario, runner.StopOnSignals()
    tell = Reporter(conn, order, guard)
    job = runner.Job(sc, order.seed, order.target, 0, False,
                     {"people": False, "with_baseline": order.baseline, "report": True})  # fmt: skip
    tell.state("building", "building the synthetic population")
    runner.begin(job)
    try:  # traced as `scslab run` traces for its report's cases (everyone listed, where memory allows)
        tell.at = engine.start(sc.params, order.seed, sc.origin, trace=runner.report_trace(job))
        tell.listen()
        guard.check()
    except BaseException:
        job.undo()
        raise
    tell.state("running")
    result = runner.simulate(job, tell.at, guard, tell.day, baseline_first=False)
    if order.baseline:
        tell.state("baseline", "running the same city without surveillance (the baseline)")
        runner.simulate_baseline_of(job, guard, tell.baseline_day)
    tell.state("writing", "writing the run's folder")
    state = result.state
    assert state is not None  # (a run just made holds its state)
    kept = state.trace
    runner.finish(job, result)  # (drops the report's trace, which writes no file)
    state.trace = kept
    return RunPeople.of(result, order.target)


def serve_runs(conn: Connection) -> None:
    """A worker's life: warm up, then do each run it is sent until told to quit (or the server is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal is the server's to handle
    os.nice(NICE)
    warm_up()
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "quit":
            return
        if message[0] == "run":  # (a cancel that came after its run ended is dropped here)
            conn.send(answer(conn, message[1]))


def answer(conn: Connection, order: Order) -> tuple[Any, ...]:
    """How a run ended, as the last message about it."""
    try:
        people = perform(conn, order)
        return ("done", f"written to {order.target}", people)
    except runner.Stopped:
        return ("cancelled", "cancelled; nothing was written")
    except ScslabError as exc:
        return ("failed", str(exc))
    except Exception as exc:  # a bug: one line on the page, the traceback on the server's terminal
        traceback.print_exc()
        return ("failed", f"internal error: {type(exc).__name__}: {exc}")


def warm_up() -> None:
    """Load the model's compiled kernels and the writers' modules: a tiny run, written and removed."""
    sc = load_scenario("beijing-2020").with_overrides({"population.size": 300, "days": 3})
    with tempfile.TemporaryDirectory(prefix="scslab-lab-warm-") as tmp:
        job = runner.Job(sc, 1, Path(tmp) / "run", 0, False, {"people": False, "with_baseline": True, "report": True})
        runner.finish(job, runner.simulate(job, None, runner.StopOnSignals()))


class Worker:
    """The server's handle on one worker process."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve_runs, args=(child,), name="scslab-lab-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the worker has warmed up (False if it died, or the timeout passed)."""
        if not self.ready and self.conn.poll(timeout):
            try:
                self.ready = self.conn.recv() == ("ready",)
            except (EOFError, OSError):
                return False
        return self.ready

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class Workers:
    """The warm workers of a server: one taken per run, given back after it (a killed one is replaced)."""

    def __init__(self) -> None:
        self.idle: list[Worker] = []
        self.lock = threading.Lock()

    def warm(self, n: int = 1) -> None:
        """Start workers ahead, so that a Run goes at once."""
        with self.lock:
            self.idle += [Worker() for _ in range(max(0, n - len(self.idle)))]

    def take(self) -> Worker:
        with self.lock:
            worker = self.idle.pop(0) if self.idle else Worker()
        if not worker.wait_ready(120):
            worker.kill()
            raise ScslabError("the lab's worker process did not start (see the server's terminal)")
        return worker

    def give_back(self, worker: Worker) -> None:
        with self.lock:
            self.idle.append(worker)

    def replace(self, worker: Worker) -> None:
        """Kill `worker` and start a fresh one in its place."""
        worker.kill()
        self.give_back(Worker())

    def close(self) -> None:
        with self.lock:
            for worker in self.idle:
                worker.kill()
            self.idle.clear()


def remove_killed(target: Path) -> None:
    """Remove what a killed worker left of its run: staging files, a folder written whole, the lock file."""
    lock = OutputLock(target).acquire()  # (the dead worker's lock went with it)
    try:
        clean_leftovers(target)
        if target.exists():
            shutil.rmtree(target)
    finally:
        lock.release()
