"""The run catalogue: a DuckDB file (`runs/catalog.duckdb`) with tables experiments, runs and metrics.

DuckDB lets one process at a time open a file for writing, so every access holds a lock
file (`catalog.duckdb.lock`: exclusive to write, shared to read) for one short
transaction. A run's row and its metrics are written in one transaction: readers see
complete runs only.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import ScslabError

CATALOG_NAME = "catalog.duckdb"
LOCK_WAIT_SECONDS = 120.0
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS experiments (
        experiment_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, scenario VARCHAR NOT NULL, origin VARCHAR,
        seed BIGINT, n_runs INTEGER, spec VARCHAR, directory VARCHAR, scslab_version VARCHAR,
        created_at TIMESTAMP, finished_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS runs (
        experiment_id VARCHAR NOT NULL, run_index INTEGER NOT NULL, point INTEGER, replicate INTEGER,
        seed BIGINT, params MAP(VARCHAR, DOUBLE), scenario VARCHAR, population_size BIGINT, days INTEGER,
        scale DOUBLE, wall_seconds DOUBLE, path VARCHAR, finished_at TIMESTAMP,
        PRIMARY KEY (experiment_id, run_index))""",
    """CREATE TABLE IF NOT EXISTS metrics (
        experiment_id VARCHAR NOT NULL, run_index INTEGER NOT NULL, metric VARCHAR NOT NULL, value DOUBLE,
        PRIMARY KEY (experiment_id, run_index, metric))""",
)
RUN_COLUMNS = (
    "experiment_id", "run_index", "point", "replicate", "seed", "param_keys", "param_values", "scenario",
    "population_size", "days", "scale", "wall_seconds", "path", "finished_at",
)  # fmt: skip


def utc_now() -> dt.datetime:
    """Now in UTC, without a zone (the catalogue's TIMESTAMPs are UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class RunRow:
    """A finished run as the catalogue holds it: its row of `runs` and its rows of `metrics`."""

    experiment_id: str
    run_index: int
    point: int
    replicate: int
    seed: int
    params: dict[str, float]
    scenario: str
    population_size: int
    days: int
    scale: float
    wall_seconds: float
    path: str
    finished_at: dt.datetime
    metrics: dict[str, float] = field(repr=False, default_factory=dict)

    def values(self) -> tuple[Any, ...]:
        return (
            self.experiment_id, self.run_index, self.point, self.replicate, self.seed, list(self.params),
            [float(v) for v in self.params.values()], self.scenario, self.population_size, self.days, self.scale,
            self.wall_seconds, self.path, self.finished_at,
        )  # fmt: skip


class Catalog:
    """The catalogue file under `root`, opened for one transaction at a time."""

    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / CATALOG_NAME
        self.lock_path = self.path.with_name(CATALOG_NAME + ".lock")

    @contextmanager
    def connect(self, write: bool = False) -> Iterator[Any]:
        """A DuckDB connection, holding the lock file (exclusive to write, shared to read)."""
        import duckdb

        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise ScslabError(f"{self.path}: no run catalogue here (allowed: the --root of an experiment)")
        with open(self.lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            try:
                con = self._open(duckdb, write)
                try:
                    if write:
                        for statement in SCHEMA:
                            con.execute(statement)
                    yield con
                finally:
                    con.close()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open(self, duckdb: Any, write: bool) -> Any:
        """Connect, waiting while a program outside scslab holds the file."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=not write)
            except duckdb.IOException as exc:
                if time.monotonic() > deadline:
                    reason = " ".join(str(exc).split())[:200]
                    raise ScslabError(f"{self.path}: cannot be opened ({reason})") from None
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    def add_experiment(self, row: dict[str, Any]) -> None:
        """Record an experiment (kept as it is if already there, as on --resume)."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.connect(write=True) as con:
            con.execute(f"INSERT OR IGNORE INTO experiments ({columns}) VALUES ({marks})", list(row.values()))

    def finish_experiment(self, experiment_id: str) -> None:
        """Stamp an experiment whose runs are all complete."""
        with self.connect(write=True) as con:
            con.execute("UPDATE experiments SET finished_at = ? WHERE experiment_id = ?", [utc_now(), experiment_id])

    def remove_experiment(self, experiment_id: str) -> None:
        """Delete an experiment's rows (its metrics, runs and itself), in one transaction."""
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            for table in ("metrics", "runs", "experiments"):
                con.execute(f"DELETE FROM {table} WHERE experiment_id = ?", [experiment_id])
            con.execute("COMMIT")

    def add_runs(self, rows: Sequence[RunRow]) -> None:
        """Record finished runs and their metrics, in one transaction."""
        if not rows:
            return
        runs = pd.DataFrame([r.values() for r in rows], columns=list(RUN_COLUMNS))
        metrics = pd.DataFrame(
            [(r.experiment_id, r.run_index, k, float(v)) for r in rows for k, v in r.metrics.items()],
            columns=["experiment_id", "run_index", "metric", "value"],
        )
        with self.connect(write=True) as con:
            con.register("new_runs", runs)
            con.register("new_metrics", metrics)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT OR IGNORE INTO runs SELECT experiment_id, run_index, point, replicate, seed, "
                    "map(param_keys::VARCHAR[], param_values::DOUBLE[]), scenario, population_size, days, scale, "
                    "wall_seconds, path, finished_at FROM new_runs"
                )
                con.execute(
                    "INSERT OR IGNORE INTO metrics SELECT experiment_id, run_index, metric, value FROM new_metrics"
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def run_indexes(self, experiment_id: str) -> set[int]:
        """Indexes of the runs of an experiment that the catalogue holds."""
        if not self.path.exists():
            return set()
        frame = self.query("SELECT run_index FROM runs WHERE experiment_id = ?", [experiment_id])
        return set(frame["run_index"].astype(int))

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The result of a read-only SQL query, as a DataFrame."""
        import duckdb

        with self.connect(write=False) as con:
            try:
                return con.execute(sql, list(params)).df()
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ScslabError(f"{self.path}: query failed: {first}") from None

    def experiments(self) -> pd.DataFrame:
        """Each experiment with its count of complete runs, newest first."""
        return self.query(
            "SELECT e.experiment_id, e.kind, e.scenario, count(r.run_index) AS runs_done, e.n_runs, "
            "e.created_at, e.finished_at, e.directory FROM experiments e "
            "LEFT JOIN runs r USING (experiment_id) GROUP BY ALL ORDER BY e.created_at DESC, e.experiment_id"
        )
