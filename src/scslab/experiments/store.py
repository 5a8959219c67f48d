"""An experiment on disk: its manifest, each run's files as it finishes, the catalogue rows, and resume.

Layout under the root (default `runs/`; `--out DIR` puts an experiment's folder at DIR instead):

    catalog.duckdb                     the run catalogue (catalog.py)
    experiments/ID/experiment.json     the manifest: kind, spec, planned runs
    experiments/ID/scenario.toml       the base scenario, resolved
    experiments/ID/runs/000042/        one complete run: timeseries.parquet, breakdowns.parquet, listings.parquet,
                                       summary.json, task.json (the directory appears whole or not at all)

A run is complete when its directory exists; `--resume` runs only the others.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow.parquet as pq

from scslab.atomic import write_json, write_text
from scslab.errors import ScslabError
from scslab.experiments.catalog import Catalog, RunRow, utc_now
from scslab.experiments.executors import BaseScenario, Executor, RunOutput, Task, Work, execute
from scslab.outputs import BREAKDOWNS, timeseries, write_table
from scslab.scenario import Scenario
from scslab.uncertainty import figure_values
from scslab.version import __version__

FLUSH_SECONDS = 0.5
FLUSH_RUNS = 256
RunCallback = Callable[[int, int], None]  # on_run(done, total)


@dataclass
class Record:
    """A complete run: its task, its summary and its directory."""

    task: Task
    summary: dict[str, Any]
    path: Path

    @property
    def figures(self) -> dict[str, float]:
        """Each figure's value (the summary holds their intervals too)."""
        return figure_values(self.summary)

    def timeseries(self) -> pd.DataFrame:
        """The run's daily table, read back from its directory."""
        return pd.read_parquet(self.path / "timeseries.parquet")


class RunsFailedError(ScslabError):
    """Some runs raised; the others are complete and `--resume` retries the failed ones."""


def spec_hash(spec: dict[str, Any]) -> str:
    """A short digest of an experiment's spec: the same command gives the same id."""
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def task_json(task: Task) -> dict[str, Any]:
    """A task as the manifest and `task.json` hold it."""
    overrides = [[k, v] for k, v in task.overrides]
    return {
        "index": task.index,
        "seed": task.seed,
        "overrides": overrides,
        "point": task.point,
        "replicate": task.replicate,
    }


def read_run(path: Path) -> tuple[Task, dict[str, Any]]:
    """The task and summary of a complete run directory; a damaged one is one line naming it."""
    try:
        meta = json.loads((path / "task.json").read_text(encoding="utf-8"))
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
        ints = ("index", "seed", "point", "replicate")
        if not isinstance(meta, dict) or not all(type(meta.get(k)) is int for k in ints):
            raise ValueError("task.json: index, seed, point, replicate must be integers")
        pairs = meta.get("overrides")
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
        ):
            raise ValueError("task.json: overrides must be [key, value] pairs")
        _check_summary(summary)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ScslabError(
            f"{path}: damaged run ({' '.join(str(exc).split())[:120]}) "
            f"(allowed: remove this folder, then --resume runs it again)"
        ) from None
    task = Task(meta["index"], meta["seed"], tuple((k, v) for k, v in pairs), meta["point"], meta["replicate"])
    return task, summary


def _check_summary(summary: Any) -> None:
    """A run's summary.json holds what the catalogue row is made of."""
    if not isinstance(summary, dict) or not isinstance(summary.get("figures"), dict):
        raise ValueError("summary.json: no figures")
    values = [v.get("value") if isinstance(v, dict) else None for v in summary["figures"].values()]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError("summary.json: a figure whose value is not a number")
    kinds: dict[str, Any] = {"scenario": str, "population_size": int, "days": int, "scale": (int, float)}
    if not all(isinstance(summary.get(k), kind) for k, kind in kinds.items()):
        raise ValueError("summary.json: scenario, population_size, days or scale missing or of another type")


MANIFEST_KINDS: dict[str, Any] = {
    "experiment_id": str, "kind": str, "scenario": str, "origin": (str, type(None)), "n_runs": int, "spec": dict,
    "spec_hash": str, "scslab_version": str, "created_at": str, "tasks": (list, type(None)),
}  # fmt: skip


def read_manifest(path: Path) -> dict[str, Any]:
    """An experiment's experiment.json, each field of the type the writer gives it."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
        for key, kind in MANIFEST_KINDS.items():
            if not isinstance(stored.get(key), kind):
                raise ValueError(f"{key} missing or of another type")
        dt.datetime.fromisoformat(stored["created_at"])
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ScslabError(f"{path}: damaged ({' '.join(str(exc).split())[:120]})") from None
    return stored


@dataclass
class Experiment:
    """An open experiment: write its runs as they finish, skip the complete ones."""

    experiment_id: str
    kind: str
    directory: Path
    catalog: Catalog
    base: BaseScenario
    n_runs: int
    executed: int = 0
    failures: list[tuple[Task, str]] = field(default_factory=list)
    created: bool = False  # made by this call: a refusal removes it (folder and catalogue rows)
    _lock: IO[bytes] | None = field(default=None, repr=False)
    _pending: list[RunRow] = field(default_factory=list, repr=False)
    _flushed: float = field(default_factory=time.monotonic, repr=False)

    @classmethod
    def open(
        cls,
        kind: str,
        scenario: Scenario,
        spec: dict[str, Any],
        n_runs: int,
        root: str | Path = "runs",
        experiment_id: str | None = None,
        resume: bool = False,
        tasks: Sequence[Task] | None = None,
        directory: str | Path | None = None,
        baseline: bool = True,
    ) -> Experiment:
        """Create an experiment in `directory` (default ROOT/experiments/ID) and record it in the catalogue
        under `root` (or, with `resume`, reopen it: its spec must be the same).

        `tasks`, where known in advance, go into the manifest; a calibration's are chosen as it goes.
        """
        base = BaseScenario.of(scenario, baseline)
        spec = {"kind": kind, "scenario": base.toml, **spec, "baseline": baseline}
        digest = spec_hash(spec)
        folder = None if directory is None else Path(directory)  # --out: its name is the id, unless --id gives one
        named = folder is not None
        experiment_id = experiment_id or (folder.name if folder is not None else f"{kind}-{scenario.name}-{digest}")
        if not experiment_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ScslabError(f"--id: {experiment_id!r} (allowed: letters, digits, '-', '_' and '.'; with --out, "
                              "the id is the folder's name unless --id is given)")  # fmt: skip
        directory = folder if folder is not None else Path(root) / "experiments" / experiment_id
        manifest = directory / "experiment.json"
        if resume and not manifest.exists():
            where = f"in {directory}" if named else f"{experiment_id} in {directory.parent}"
            allowed = "the --out of a stopped experiment" if named else "an existing id"
            raise ScslabError(f"--resume: no experiment {where} (allowed: {allowed})")
        if not resume and directory.exists():
            raise ScslabError(
                f"{directory}: experiment {experiment_id} already exists "
                f"(allowed: --resume to finish it, or {'another --out' if named else '--id NAME'} for a new one)"
            )
        exp = cls(experiment_id, kind, directory, Catalog(root), base, n_runs)
        if not resume and exp.catalog.path.exists():
            taken = exp.catalog.query("SELECT directory FROM experiments WHERE experiment_id = ?", [experiment_id])
            if not taken.empty:
                raise ScslabError(
                    f"--id {experiment_id}: {exp.catalog.path} already has it, in {taken['directory'].iloc[0]} "
                    "(allowed: another --id, or --resume to finish that one)"
                )
        if resume:
            exp._take_lock()
            try:
                exp._reopen(digest)
            except BaseException:
                exp._unlock()
                raise
        else:
            exp._create(scenario, spec, digest, tasks)
        try:
            exp._reconcile()
        except BaseException as exc:
            exp.__exit__(type(exc), exc, None)
            raise
        return exp

    def _reopen(self, digest: str) -> None:
        """Check a stopped experiment's manifest and folder against this command, and record it again."""
        stored = read_manifest(self.directory / "experiment.json")
        if not (self.directory / "runs").is_dir():
            raise ScslabError(f"{self.directory / 'runs'}: missing (the experiment folder is damaged)")
        if stored["spec_hash"] != digest:
            raise ScslabError(
                f"--resume: experiment {self.experiment_id} was made with other arguments "
                f"(allowed: the command that started it)"
            )
        self.catalog.add_experiment(self._catalog_row(stored))

    def _create(self, scenario: Scenario, spec: dict[str, Any], digest: str, tasks: Sequence[Task] | None) -> None:
        """Make the folder and take its lock, write the manifest and record the experiment in the catalogue;
        from here on a refusal removes both (`discard`)."""
        try:
            self.directory.mkdir(parents=True)
        except FileExistsError:
            raise ScslabError(f"{self.directory}: experiment {self.experiment_id} already exists") from None
        self.created = True
        try:
            self._take_lock()
            (self.directory / "runs").mkdir()
            self._write_manifest(scenario, spec, digest, tasks)
        except BaseException:
            self.discard()
            raise

    def _write_manifest(self, scenario: Scenario, spec: dict[str, Any], digest: str,
                        tasks: Sequence[Task] | None) -> None:  # fmt: skip
        manifest = {
            "experiment_id": self.experiment_id, "kind": self.kind, "scenario": scenario.name,
            "origin": scenario.origin, "n_runs": self.n_runs,
            "spec": {k: v for k, v in spec.items() if k not in ("kind", "scenario")}, "spec_hash": digest,
            "scslab_version": __version__, "created_at": utc_now().isoformat(),
            "tasks": None if tasks is None else [task_json(t) for t in tasks],
        }  # fmt: skip
        write_text(self.directory / "scenario.toml", self.base.toml)
        write_json(self.directory / "experiment.json", manifest)
        self.catalog.add_experiment(self._catalog_row(manifest))

    def _catalog_row(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The experiment's row of the catalogue, from its manifest."""
        return {
            "experiment_id": self.experiment_id, "kind": self.kind, "scenario": manifest["scenario"],
            "origin": manifest["origin"], "seed": manifest["spec"].get("seed"), "n_runs": self.n_runs,
            "spec": json.dumps(manifest["spec"], sort_keys=True), "directory": self.relative(self.directory),
            "scslab_version": manifest["scslab_version"],
            "created_at": dt.datetime.fromisoformat(manifest["created_at"]),
        }  # fmt: skip

    def relative(self, path: Path) -> str:
        """A path as the catalogue records it: relative to the catalogue's folder."""
        return os.path.relpath(path, self.catalog.path.parent)

    def _take_lock(self) -> None:
        """Hold the experiment's lock while it is open: one process at a time runs it."""
        self._lock = open(self.directory / ".lock", "a+b")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ScslabError(
                f"{self.directory}: experiment {self.experiment_id} is running in another process"
            ) from None
        shutil.rmtree(self.directory / ".partial", ignore_errors=True)

    def _reconcile(self) -> None:
        """Catalogue the complete runs that a stopped experiment wrote but did not record."""
        recorded = self.catalog.run_indexes(self.experiment_id)
        for path in sorted((self.directory / "runs").iterdir()):
            if path.is_dir() and path.name.isdigit() and int(path.name) not in recorded:
                task, summary = read_run(path)
                self._pending.append(self._row(task, summary, path, finished=None))
        self.flush()

    def run_dir(self, index: int) -> Path:
        return self.directory / "runs" / f"{index:06d}"

    def run(
        self, tasks: Sequence[Task], executor: Executor, progress: RunCallback | None = None, work: Work = execute
    ) -> Iterator[Record]:
        """Every task's record: complete runs read back, the others executed and written as they finish."""
        todo = []
        for task in tasks:
            path = self.run_dir(task.index)
            if not path.exists():
                todo.append(task)
                continue
            stored, summary = read_run(path)
            if stored != task:
                raise ScslabError(f"{path}: run {task.index} was made with other parameters (allowed: --id NAME)")
            yield Record(task, summary, path)
        done = len(tasks) - len(todo)
        if progress:
            progress(done, len(tasks))
        try:
            for outcome in executor.run(todo, self.base, work):
                done += 1
                if outcome.output is None:
                    self.failures.append((outcome.task, outcome.error or "failed"))
                else:
                    yield self._store(outcome.task, outcome.output)
                if progress:
                    progress(done, len(tasks))
        finally:
            self.flush()

    def _store(self, task: Task, output: RunOutput) -> Record:
        """Write a finished run's files (atomically) and queue its catalogue rows."""
        partial = self.directory / ".partial"
        partial.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{task.index:06d}-", dir=partial))
        target = self.run_dir(task.index)
        try:
            write_table(output.timeseries, timeseries(), tmp / "timeseries.parquet")
            write_table(output.breakdowns, BREAKDOWNS, tmp / "breakdowns.parquet")
            pq.write_table(output.listings, tmp / "listings.parquet")
            write_json(tmp / "summary.json", output.summary)
            write_json(tmp / "task.json", task_json(task))
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.executed += 1
        self._pending.append(self._row(task, output.summary, target, finished=utc_now()))
        if len(self._pending) >= FLUSH_RUNS or time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()
        return Record(task, output.summary, target)

    def _row(self, task: Task, summary: dict[str, Any], path: Path, finished: Any) -> RunRow:
        if finished is None:
            finished = dt.datetime.fromtimestamp((path / "summary.json").stat().st_mtime, dt.UTC).replace(tzinfo=None)
        return RunRow(
            experiment_id=self.experiment_id, run_index=task.index, point=task.point, replicate=task.replicate,
            seed=task.seed, params={k: float(v) for k, v in task.overrides}, scenario=summary["scenario"],
            population_size=int(summary["population_size"]), days=int(summary["days"]),
            scale=float(summary["scale"]), wall_seconds=float(summary.get("wall_seconds", 0.0)),
            path=self.relative(path), finished_at=finished, metrics=figure_values(summary),
        )  # fmt: skip

    def flush(self) -> None:
        """Write the queued catalogue rows in one transaction."""
        if self._pending:
            self.catalog.add_runs(self._pending)
            self._pending = []
        self._flushed = time.monotonic()

    def check_failures(self) -> None:
        """A one-line error if some runs failed."""
        if self.failures:
            task, error = self.failures[0]
            raise RunsFailedError(
                f"{self.directory}: {len(self.failures)} of {self.n_runs} runs failed, the first (run {task.index}, "
                f"seed {task.seed}) with {error} (allowed: fix the cause, then the same command with --resume)"
            )

    def close(self) -> None:
        """Flush, stamp the experiment if every run is complete, and release its lock."""
        try:
            self.flush()
            if not self.failures and self.complete_runs() >= self.n_runs:
                self.catalog.finish_experiment(self.experiment_id)
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def complete_runs(self) -> int:
        return sum(1 for p in (self.directory / "runs").iterdir() if p.is_dir() and p.name.isdigit())

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        """Close; but an experiment this call created and a bad input then refused leaves nothing behind."""
        refused = isinstance(exc, ScslabError) and not isinstance(exc, RunsFailedError)
        if self.created and refused:
            self.discard()
        else:
            self.close()

    def discard(self) -> None:
        """Remove the experiment: its catalogue rows, then its folder; then let go of its lock."""
        try:
            self._pending = []
            if self.catalog.path.exists():
                self.catalog.remove_experiment(self.experiment_id)
            shutil.rmtree(self.directory, ignore_errors=True)
        finally:
            self._unlock()

    def write_json(self, name: str, data: Any) -> Path:
        """Write one of the experiment's result files."""
        return write_json(self.directory / name, data)
