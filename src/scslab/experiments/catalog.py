"""The run catalogue: a DuckDB file (`runs/catalog.duckdb`) with tables experiments, runs and metrics.

Experiments record themselves in the catalogue of their `--root`; a single `scslab run` records itself
in the catalogue of its output's parent folder (`runs/` by default), as an experiment of kind `run` whose
id is the run folder's name and which holds that one run.

DuckDB lets one process at a time open a file for writing, so every access holds a lock
file (`catalog.duckdb.lock`: exclusive to write, shared to read) for one short
transaction. A run's row and its metrics are written in one transaction: readers see
complete runs only. Waiting for the lock ends after LOCK_WAIT_SECONDS with a message, and a
user's query (`scslab runs --sql`) is stopped after QUERY_SECONDS, so no reader holds the
lock for long.

A user's query runs on a read-only connection that cannot touch other files (no COPY TO,
read_csv, ATTACH, INSTALL or LOAD), whose settings are locked, and whose result is cut
after `limit` rows without computing the rest.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import ScslabError
from scslab.inputs import require_regular
from scslab.signals import deferred

CATALOG_NAME = "catalog.duckdb"
LOCK_WAIT_SECONDS = 120.0
DUCKDB_HEADERS = 3 * 4096  # a DuckDB file: three 4 KiB headers, then its blocks
QUERY_SECONDS = 60.0  # a user's query is stopped after this: less than LOCK_WAIT_SECONDS, so writers get in
# A user's query cannot reach other files, extensions, or the settings (DuckDB's names).
SANDBOX = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "temp_directory": "",  # nothing spills to disk beside the catalogue
    "lock_configuration": True,
}
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
        self.checked = False  # whether the file was found whole (not truncated)

    @contextmanager
    def connect(self, write: bool = False, sandbox: bool = False) -> Iterator[Any]:
        """A DuckDB connection, holding the lock file (exclusive to write, shared to read)."""
        import duckdb

        require_regular(self.path, str(self.path), "a run catalogue written by scslab")
        require_regular(self.lock_path, str(self.lock_path), "the catalogue's lock file")
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise ScslabError(
                f"{self.path}: no run catalogue here (allowed: the --root of an experiment, or the folder above "
                "a run's --out)"
            )
        with deferred(), open(self.lock_path, "a+b") as lock:  # DuckDB would turn a stop into its own error
            self._lock(lock, write)
            try:
                con = self._open(duckdb, write, sandbox)
                try:
                    if write:
                        for statement in SCHEMA:
                            con.execute(statement)
                    yield con
                finally:
                    con.close()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _lock(self, lock: Any, write: bool) -> None:
        """Take the lock file, waiting at most LOCK_WAIT_SECONDS."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.01
        while True:
            try:
                fcntl.flock(lock, (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ScslabError(
                        f"{self.path}: the catalogue stayed locked by another scslab process for "
                        f"{LOCK_WAIT_SECONDS:g} s (allowed: try again once the experiment or query holding "
                        f"{self.lock_path.name} ends)"
                    ) from None
                time.sleep(delay)
                delay = min(0.5, delay * 2)

    def _open(self, duckdb: Any, write: bool, sandbox: bool = False) -> Any:
        """Connect, waiting while a program outside scslab holds the file; a damaged file fails at once."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.05
        config = dict(SANDBOX) if sandbox and not write else {}
        while True:
            try:
                if not self.checked and self._settled():  # once per process: a file is not truncated in use
                    with duckdb.connect(str(self.path), read_only=True) as check:
                        self._check_length(check)
                    self.checked = True
                return duckdb.connect(str(self.path), read_only=not write, config=config)
            except duckdb.Error as exc:
                reason = " ".join(str(exc).split())[:200]
                if "lock" not in reason.lower():
                    raise self.damaged(reason) from None
                if time.monotonic() > deadline:
                    raise ScslabError(f"{self.path}: cannot be opened ({reason})") from None
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    def _settled(self) -> bool:
        """Whether the file on disk is the whole catalogue (it exists, and no write-ahead log adds to it)."""
        return self.path.exists() and not self.path.with_name(CATALOG_NAME + ".wal").exists()

    def _check_length(self, con: Any) -> None:
        """Refuse a truncated file: DuckDB reads blocks only when a query needs them, so it would open."""
        tables = [row[0] for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]  # fmt: skip
        if not tables:
            return
        blocks = " UNION ALL ".join(
            f"SELECT block_id FROM pragma_storage_info('{name}') WHERE persistent"
            for name in tables
            if name.isidentifier()
        )
        last = con.execute(f"SELECT max(block_id) FROM ({blocks})").fetchone()[0]
        block_size = con.execute(
            "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchone()[0]
        size = self.path.stat().st_size
        if last is not None and size < DUCKDB_HEADERS + (int(last) + 1) * int(block_size):
            raise self.damaged(f"{size:,} bytes, but it uses block {int(last)} of {int(block_size):,} bytes: truncated")

    def damaged(self, reason: str) -> ScslabError:
        return ScslabError(
            f"{self.path}: not a readable run catalogue ({reason}) (allowed: a catalogue written by scslab; "
            "move the damaged one away and the next experiment starts a new one)"
        )

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

    def check(self) -> None:
        """A one-line error now if a catalogue is here but cannot be read (damaged, or not a catalogue)."""
        if self.path.exists() or self.path.is_symlink():
            with self.connect(write=False):
                pass

    def add_single_run(self, run_dir: Path, summary: dict[str, Any], origin: str | None) -> str:
        """Record a finished single run (its folder `run_dir`, under this catalogue's folder) and its figures,
        in one transaction, replacing an earlier run recorded under the same id; returns the id."""
        run_id = run_dir.name
        now = utc_now()
        path = os.path.relpath(run_dir, self.path.parent)
        experiment = {
            "experiment_id": run_id, "kind": "run", "scenario": summary["scenario"], "origin": origin,
            "seed": summary["seed"], "n_runs": 1, "spec": json.dumps({"seed": summary["seed"]}), "directory": path,
            "scslab_version": summary.get("scslab_version"), "created_at": now, "finished_at": now,
        }  # fmt: skip
        row = RunRow(run_id, 0, 0, 0, int(summary["seed"]), {}, summary["scenario"], int(summary["population_size"]),
                     int(summary["days"]), float(summary["scale"]), float(summary.get("wall_seconds") or 0.0), path,
                     now, figure_values(summary))  # fmt: skip
        with self.connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table in ("metrics", "runs", "experiments"):
                    con.execute(f"DELETE FROM {table} WHERE experiment_id = ?", [run_id])
                columns = ", ".join(experiment)
                con.execute(f"INSERT INTO experiments ({columns}) VALUES ({', '.join('?' for _ in experiment)})",
                            list(experiment.values()))  # fmt: skip
                con.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, map([]::VARCHAR[], []::DOUBLE[]), ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, 0, 0, 0, row.seed, row.scenario, row.population_size, row.days, row.scale,
                     row.wall_seconds, path, now],
                )  # fmt: skip
                con.executemany("INSERT INTO metrics VALUES (?, 0, ?, ?)",
                                [[run_id, k, v] for k, v in row.metrics.items()])  # fmt: skip
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return run_id

    def run_indexes(self, experiment_id: str) -> set[int]:
        """Indexes of the runs of an experiment that the catalogue holds."""
        if not self.path.exists():
            return set()
        frame = self.query("SELECT run_index FROM runs WHERE experiment_id = ?", [experiment_id])
        return set(frame["run_index"].astype(int))

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """The result of one of scslab's own queries, as a DataFrame."""
        import duckdb

        with self.connect(write=False) as con:
            try:
                return con.execute(sql, list(params)).df()
            except duckdb.Error as exc:
                raise ScslabError(f"{self.path}: query failed: {_first_line(exc)}") from None

    def user_query(self, sql: str, limit: int) -> tuple[pd.DataFrame, bool]:
        """A user's query, read-only and sandboxed: its first `limit` rows, and whether rows were cut.

        Only the rows shown are computed (the limit is pushed into the query); a query still
        running after QUERY_SECONDS is stopped.
        """
        import duckdb

        if limit < 1:
            raise ScslabError(f"--limit: {limit} (allowed: at least 1)")
        with self.connect(write=False, sandbox=True) as con:
            timer = threading.Timer(QUERY_SECONDS, con.interrupt)
            timer.daemon = True
            timer.start()
            try:
                relation = con.sql(sql)
                frame = pd.DataFrame() if relation is None else relation.limit(limit + 1).df()
            except duckdb.InterruptException:
                raise ScslabError(
                    f"--sql: stopped after {QUERY_SECONDS:g} s (allowed: a query that ends sooner, e.g. with "
                    "a narrower WHERE)"
                ) from None
            except duckdb.Error as exc:
                raise ScslabError(f"--sql: refused or failed: {_first_line(exc)}") from None
            finally:
                timer.cancel()
        return frame.head(limit), len(frame) > limit

    def experiments(self) -> pd.DataFrame:
        """Each experiment with its count of complete runs, newest first."""
        return self.query(
            "SELECT e.experiment_id, e.kind, e.scenario, count(r.run_index) AS runs_done, e.n_runs, "
            "e.created_at, e.finished_at, e.directory FROM experiments e "
            "LEFT JOIN runs r USING (experiment_id) GROUP BY ALL ORDER BY e.created_at DESC, e.experiment_id"
        )


def figure_values(summary: dict[str, Any]) -> dict[str, float]:
    """A summary's figures as numbers (a figure may be a number, or an object holding it as "value")."""
    values = {}
    for key, figure in summary.get("figures", {}).items():
        value = figure.get("value") if isinstance(figure, dict) else figure
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[key] = float(value)
    return values


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
