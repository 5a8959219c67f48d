"""Reliability of runs and checkpoints (issue 14, classes 1-3 and 6-8): data loss, checkpoint identity,
damaged files, file-system errors, nothing half-written, concurrent runs.

docs/reliability.md maps each guarantee to the test here that proves it. The runs are tiny (300
citizens, 4 days) and in process, so that every write step and many damaged files can be tried.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab import atomic, checkpoint, engine, lock, preflight, runner
from scslab.archive import write_archive
from scslab.checkpoint import read_meta
from scslab.errors import ResourceError, ScslabError
from scslab.scenario import load_scenario

SC = load_scenario("beijing-2020").with_overrides({"population.size": 300, "days": 4})
OPTIONS = {"people": True, "report": False}
TABLES = ("timeseries.parquet", "breakdowns.parquet", "people.parquet", "scenario.toml")
TIMINGS = ("wall_seconds", "profile_seconds")
SCSLAB = [sys.executable, "-m", "scslab.cli"]


def run_to_end(target: Path, every: int = 2, seed: int = 1, sc: Any = SC) -> Path:
    """A whole run into `target`, as `scslab run --save-people --no-report` does it."""
    job = runner.Job(sc, seed, target, every=every, options=dict(OPTIONS))
    with runner.StopOnSignals() as guard:
        return runner.finish(job, runner.simulate(job, None, guard))


def resume_to_end(target: Path) -> Path:
    job, at = runner.resume(target)
    with runner.StopOnSignals() as guard:
        return runner.finish(job, runner.simulate(job, at, guard))


def stop_after(target: Path, day: int, every: int = 2, seed: int = 1, sc: Any = SC) -> runner.Job:
    """A run with checkpoints stopped (as by SIGTERM) in the day loop once `day` days are done."""
    job = runner.Job(sc, seed, target, every=every, options=dict(OPTIONS))

    def on_day(done: int, _: int) -> None:
        if done >= day:
            raise runner.Stopped(signal.SIGTERM)

    with runner.StopOnSignals() as guard, pytest.raises(runner.Stopped):
        runner.simulate(job, None, guard, on_day)
    assert job.last_checkpoint is not None and job.lock is None
    return job


def summary(path: Path) -> dict[str, Any]:
    data = json.loads((path / "summary.json").read_text())
    return {k: v for k, v in data.items() if k not in TIMINGS}


def assert_same_run(a: Path, b: Path) -> None:
    """Every table byte for byte, and the summary apart from its timings."""
    for name in TABLES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert summary(a) == summary(b)


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and "\r" not in text, text
    return text


def litter(folder: Path) -> list[str]:
    """Temporary files and lock files under `folder`: what a clean end never leaves."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith((".tmp", ".lock")))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run every other run of SC with seed 1 must equal."""
    return run_to_end(tmp_path_factory.mktemp("ref") / "ref", every=0)


# ---------------------------------------------------------------- 1. data loss


def test_a_plain_run_refuses_the_out_of_a_stopped_run(tmp_path: Path, reference: Path) -> None:
    """A stopped run's checkpoint survives a plain run into its --out; --resume then finishes it."""
    out = tmp_path / "out"
    stop_after(out, 3)
    before = (runner.work_dir(out) / "state.npz").read_bytes()
    for every in (0, 2):
        with pytest.raises(ScslabError, match="a stopped run with checkpoints is there") as err:
            run_to_end(out, every=every)
        assert "--resume" in one_line(err.value)
    assert (runner.work_dir(out) / "state.npz").read_bytes() == before and not out.exists()
    assert_same_run(resume_to_end(out), reference)
    assert not runner.work_dir(out).exists() and litter(tmp_path) == []


def test_resume_removes_a_checkpoint_only_for_the_run_that_completed_it(tmp_path: Path, reference: Path) -> None:
    """A directory beside a checkpoint is not taken as the run's completion: nothing is removed. A work folder
    marked complete (killed between publishing the run and dropping its checkpoint) is cleaned."""
    out = tmp_path / "out"
    stop_after(out, 3)
    work = runner.work_dir(out)
    out.mkdir()
    (out / "summary.json").write_text("{}")
    with pytest.raises(ScslabError, match="beside the checkpoint") as err:
        runner.resume(out)
    one_line(err.value)
    assert (work / "state.npz").is_file() and (out / "summary.json").is_file()
    shutil.rmtree(out)
    assert_same_run(resume_to_end(out), reference)
    stop_after(tmp_path / "b", 3)
    shutil.copytree(out, tmp_path / "b")
    (runner.work_dir(tmp_path / "b") / "complete").write_text("b\n")
    with pytest.raises(ScslabError, match="already complete"):
        runner.resume(tmp_path / "b")
    assert not runner.work_dir(tmp_path / "b").exists()


# ---------------------------------------------------------------- 2. checkpoint identity


def _other_scenario(work: Path, tmp: Path) -> None:
    other = SC.with_overrides({"events.criticism.rate": SC.params.events["criticism"].rate * 2})
    stop_after(tmp / "other", 3, sc=other)
    shutil.copy(runner.work_dir(tmp / "other") / "state.npz", work / "state.npz")


def _other_seed(work: Path, tmp: Path) -> None:
    stop_after(tmp / "other", 3, seed=2)
    shutil.copy(runner.work_dir(tmp / "other") / "state.npz", work / "state.npz")


def _edited_scenario(work: Path, tmp: Path) -> None:
    text = (work / "scenario.toml").read_text()
    (work / "scenario.toml").write_text(text.replace("days = 4", "days = 3"))


def _other_version(work: Path, tmp: Path) -> None:
    record = json.loads((work / "run.json").read_text())
    (work / "run.json").write_text(json.dumps({**record, "version": "0.0.1"}))


def _checkpoint_of_another_version(work: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "__version__", "0.0.1")
    stop_after(tmp / "other", 3)
    monkeypatch.undo()
    shutil.copy(runner.work_dir(tmp / "other") / "state.npz", work / "state.npz")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_other_scenario, "scenario_sha256"),
        (_other_seed, "seed is"),
        (_edited_scenario, "changed since the run started"),
        (_other_version, "written by scslab '0.0.1'"),
        (_checkpoint_of_another_version, "version is '0.0.1'"),
    ],
)
def test_a_checkpoint_is_refused_by_another_run(
    change: Callable[..., None], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint from another scenario, seed or version, or an edited scenario.toml: one line, and the
    work folder is kept as it is."""
    out = tmp_path / "out"
    stop_after(out, 3)
    work = runner.work_dir(out)
    if change is _checkpoint_of_another_version:
        change(work, tmp_path, monkeypatch)
    else:
        change(work, tmp_path)
    before = {p.name: p.read_bytes() for p in work.iterdir()}
    with pytest.raises(ScslabError) as err:
        runner.resume(out)
    assert says in one_line(err.value)
    assert {p.name: p.read_bytes() for p in work.iterdir()} == before
    assert litter(tmp_path) == []


def test_the_checkpoint_carries_its_identity(tmp_path: Path) -> None:
    """The manifest names scenario hash, seed, population, version and day, and every array's dtype and shape."""
    job = stop_after(tmp_path / "out", 3)
    meta = read_meta(job.work / "state.npz")
    assert meta["meta"] == job.identity() and meta["version"] == checkpoint.__version__
    assert meta["day"] == job.last_checkpoint and meta["meta"]["population"] == 300
    with np.load(job.work / "state.npz", allow_pickle=False) as data:
        for name, entry in meta["arrays"].items():
            assert [data[name].dtype.str, list(data[name].shape)] == [entry["dtype"], entry["shape"]]


# ---------------------------------------------------------------- 3. damaged files


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine stopped run (checkpoint of day 2 of 4), to copy and damage."""
    out = tmp_path_factory.mktemp("stopped") / "out"
    stop_after(out, 3)
    return runner.work_dir(out)


def fresh_copy(stopped: Path, folder: Path) -> Path:
    """A copy of the stopped run in `folder`; its output path."""
    shutil.copytree(stopped, folder / stopped.name)
    return folder / "out"


DAMAGE = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=4)),
    st.tuples(st.just("tail"), st.lists(st.tuples(st.integers(1, 4096), st.integers(1, 255)), min_size=1, max_size=3)),
    st.tuples(st.just("cut"), st.floats(0, 1)),
)


def damaged(data: bytes, damage: tuple[str, Any]) -> bytes:
    """`data` with bytes changed (anywhere, or in the last 4 KiB: the manifest and the zip directory) or cut."""
    kind, how = damage
    out = bytearray(data)
    if kind == "cut":
        return bytes(out[: int(how * (len(out) - 1))])
    for where, xor in how:
        at = int(where * (len(out) - 1)) if kind == "flip" else len(out) - where
        out[at] ^= xor
    return bytes(out)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(damage=DAMAGE)
def test_a_damaged_checkpoint_is_one_line_or_the_identical_run(
    damage: tuple[str, Any], stopped: Path, reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Bytes flipped anywhere in state.npz, or the file cut short: resume refuses in one line (and keeps the
    file), or finishes with the tables of an unbroken run."""
    out = fresh_copy(stopped, tmp_path_factory.mktemp("d"))
    state = runner.work_dir(out) / "state.npz"
    state.write_bytes(damaged(state.read_bytes(), damage))
    try:
        done = resume_to_end(out)
    except ScslabError as exc:
        assert str(state) in one_line(exc)
        assert state.exists() and not out.exists()
    else:
        assert_same_run(done, reference)
    assert litter(out.parent) == []


def _manifest_with(stopped: Path, change: Callable[[dict[str, Any]], None], folder: Path) -> Path:
    """A copy of the stopped run whose manifest is changed and sealed again with a valid digest (hostile)."""
    out = fresh_copy(stopped, folder)
    state = runner.work_dir(out) / "state.npz"
    with np.load(state, allow_pickle=False) as data:
        manifest = json.loads(bytes(data["__manifest__"]))
        arrays = {k: data[k] for k in data.files if not k.startswith("__")}
    manifest.pop("arrays")
    change(manifest)
    write_archive(state, arrays, manifest)
    return out


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(day="4"),
        lambda m: m.update(day=-1),
        lambda m: m.update(elapsed=None),
        lambda m: m.update(profile=[1, 2]),
        lambda m: m.update(rng={"behaviour": {"bit_generator": "MT19937"}}),
        lambda m: m.update(tree={"state": 1, "table": 2}),
        lambda m: m["tree"]["state"].update(object="subprocess.Popen"),
        lambda m: m["tree"]["state"]["fields"].pop(next(iter(m["tree"]["state"]["fields"]))),
        lambda m: m["tree"]["state"].update(id="1"),
        lambda m: m.pop("meta"),
        lambda m: m.update(format="scslab-checkpoint/1"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_one_line(
    change: Callable[[dict[str, Any]], None], stopped: Path, tmp_path: Path
) -> None:
    """A manifest with a wrong type, a missing key or a foreign class, even with a valid digest: one line."""
    out = _manifest_with(stopped, change, tmp_path)
    with pytest.raises(ScslabError) as err:
        runner.resume(out)
    assert "state.npz" in one_line(err.value)
    assert litter(tmp_path) == []


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=st.sampled_from(["seed", "origin", "target", "every", "check", "options", "scenario_sha256", "version",
                            None]), value=JSON)  # fmt: skip
def test_a_damaged_run_json_is_one_line(
    key: str | None, value: Any, stopped: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """run.json with any key set to any JSON value (or replaced by one): one line, or a valid record."""
    out = fresh_copy(stopped, tmp_path_factory.mktemp("j"))
    path = runner.work_dir(out) / "run.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps(value if key is None else {**record, key: value}))
    try:
        job, _ = runner.resume(out)
    except ScslabError as exc:
        assert "run.json" in one_line(exc) or "state.npz" in str(exc)
    else:
        job.release()
        assert key in ("options", "check", "every", "origin") or value == record.get(key or "")  # free to vary


def test_an_empty_or_truncated_checkpoint_through_the_cli(stopped: Path, tmp_path: Path) -> None:
    """The real command: exit 2 and one line (an empty file was once reported as "interrupted")."""
    out = fresh_copy(stopped, tmp_path)
    state = runner.work_dir(out) / "state.npz"
    for data in (b"", state.read_bytes()[:1000]):
        state.write_bytes(data)
        res = subprocess.run([*SCSLAB, "run", "--resume", str(out), "--quiet"], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "damaged checkpoint" in lines[0], res.stderr


def test_a_damaged_experiment_folder_on_resume_is_one_line(tmp_path: Path) -> None:
    from scslab.experiments import Options, ensemble
    from scslab.experiments.executors import LocalExecutor

    options = Options(executor=LocalExecutor(0), root=tmp_path, experiment_id="e")
    ensemble(SC, 2, options=options)
    directory = tmp_path / "experiments" / "e"
    good = {p: p.read_bytes() for p in directory.rglob("*.json")}
    resumed = Options(executor=LocalExecutor(0), root=tmp_path, experiment_id="e", resume=True)
    for path in good:
        hostile = {**json.loads(good[path]), "spec_hash": 1, "index": "0", "figures": [], "created_at": "x"}
        for text in ("", "[]", "{", "\x00", json.dumps(hostile)):
            path.write_text(text)
            with pytest.raises(ScslabError) as err:
                ensemble(SC, 2, options=resumed)
            assert str(path.parent) in one_line(err.value)
        path.write_bytes(good[path])
    assert ensemble(SC, 2, options=resumed).executed == 0


# ---------------------------------------------------------------- 6. file-system errors, before the run


@contextmanager
def no_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if a run starts: the refusal must come first."""

    def started(*_: object, **__: object) -> None:
        raise AssertionError("the run started before the output path was checked")

    with monkeypatch.context() as patch:
        patch.setattr(engine, "start", started)
        yield


def test_output_paths_are_checked_before_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a file, a name too long once the temporary suffix is added, a pseudo-filesystem, a folder that is
    not writable, a full disk: one line before any work, and nothing created."""
    (tmp_path / "file").write_text("x")
    cases = {
        "which is a file": tmp_path / "file" / "sub" / "out",
        "too long once a temporary suffix": tmp_path / ("x" * 240),
        "pseudo-filesystem": Path("/proc/self/out"),
    }
    for says, out in cases.items():
        for every in (0, 2):
            with no_run(monkeypatch), pytest.raises(ScslabError, match=says) as err:
                run_to_end(out, every=every)
            one_line(err.value)
    with monkeypatch.context() as patch:
        patch.setattr(preflight.os, "access", lambda *_: False)
        with no_run(monkeypatch), pytest.raises(ScslabError, match="is not writable"):
            run_to_end(tmp_path / "new" / "out")
    with monkeypatch.context() as patch:
        patch.setattr(preflight.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
        with no_run(monkeypatch), pytest.raises(ResourceError, match="MB on disk"):
            run_to_end(tmp_path / "new" / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# ---------------------------------------------------------------- 6 and 7. write errors and crashes, every step


class Fault(BaseException):
    """A simulated kill: nothing catches it, and with `crash` the staging files stay as a kill leaves them."""


@contextmanager
def failing_step(monkeypatch: pytest.MonkeyPatch, k: int, error: BaseException) -> Iterator[list[str]]:
    """Make the k-th write step (open for writing, write, fsync, mkdir, os.replace, Parquet write) raise; k = 0
    counts them."""
    steps: list[str] = []
    real_open, real_replace, real_fsync, real_mkdir = builtins.open, os.replace, os.fsync, os.mkdir
    real_parquet = pd.DataFrame.to_parquet

    def step(name: str) -> None:
        steps.append(name)
        if len(steps) == k:
            raise error

    def opening(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if any(c in mode for c in "wax+"):
            step(f"open {Path(str(file)).name}")
            handle = real_open(file, mode, *args, **kw)
            return _Writes(handle, step)
        return real_open(file, mode, *args, **kw)

    def replacing(src: Any, dst: Any) -> None:
        step(f"replace {Path(str(dst)).name}")
        real_replace(src, dst)

    def syncing(fd: int) -> None:
        step("fsync")
        real_fsync(fd)

    def making(path: Any, mode: int = 0o777, **kw: Any) -> None:
        step(f"mkdir {Path(str(path)).name}")
        real_mkdir(path, mode, **kw)

    def parquet(frame: pd.DataFrame, path: Any, *args: Any, **kw: Any) -> Any:
        step(f"parquet {Path(str(path)).name}")
        return real_parquet(frame, path, *args, **kw)

    with monkeypatch.context() as patch:
        for module in (builtins, io):
            patch.setattr(module, "open", opening)
        patch.setattr(os, "replace", replacing)
        patch.setattr(os, "fsync", syncing)
        patch.setattr(os, "mkdir", making)
        patch.setattr(pd.DataFrame, "to_parquet", parquet)
        yield steps


class _Writes:
    """A file handle whose first and second writes are steps too (the zip writer makes thousands; failing the
    first two of each file covers a write that fails at once and one that fails midway)."""

    def __init__(self, handle: Any, step: Callable[[str], None]) -> None:
        self._handle, self._step, self._writes = handle, step, 0

    def write(self, data: Any) -> int:
        self._writes += 1
        if self._writes <= 2:
            self._step("write")
        return int(self._handle.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __iter__(self) -> Any:
        return iter(self._handle)


def check_nothing_half_written(folder: Path, out: Path, reference: Path) -> None:
    """The run directory is absent or complete; the work folder absent or whole with a loadable checkpoint (or
    none yet); no temporary or lock file is left."""
    assert litter(folder) == []
    if out.exists():
        assert_same_run(out, reference)
    work = runner.work_dir(out)
    if work.exists():
        names = {p.name for p in work.iterdir()}
        assert names in ({"run.json", "scenario.toml"}, {"run.json", "scenario.toml", "state.npz"}), names
        if "state.npz" in names:
            read_meta(work / "state.npz")


def next_command(out: Path) -> Path:
    """What a user does next: resume the stopped run (which may say it is complete already), or run again."""
    if runner.work_dir(out).exists():
        try:
            return resume_to_end(out)
        except ScslabError as exc:
            assert "already complete" in one_line(exc) and out.exists() and not runner.work_dir(out).exists()
            return out
    return out if out.exists() else run_to_end(out)


ERRORS = (errno.ENOSPC, errno.EIO, errno.EROFS, errno.EACCES, errno.EDQUOT)


def test_every_write_step_failing_leaves_nothing_half_written(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write step of a run with checkpoints fails in turn (disk full, I/O error, read-only, ...): one line,
    no half-written run directory or checkpoint, and the next command gives the tables of an unbroken run."""
    with failing_step(monkeypatch, 0, OSError()) as steps:
        run_to_end(tmp_path / "count")
    assert len(steps) > 20, steps
    outcomes = set()
    for k in range(1, len(steps) + 1):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        out = folder / "out"
        code = ERRORS[k % len(ERRORS)]
        with failing_step(monkeypatch, k, OSError(code, os.strerror(code))):
            try:
                run_to_end(out)
                outcomes.add("done")
            except ScslabError as exc:
                assert os.strerror(code) in one_line(exc), (k, steps[k - 1], exc)
                outcomes.add("refused")
        check_nothing_half_written(folder, out, reference)
        if not out.exists():
            assert_same_run(next_command(out), reference)
        check_nothing_half_written(folder, out, reference)
    assert outcomes == {"done", "refused"}  # a failed directory fsync is not an error; the others are


def test_a_crash_at_any_write_step_is_cleaned_by_the_next_command(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill at each write step in turn (staging files left behind, as a kill leaves them): the next run or
    resume of the same output removes them and gives the tables of an unbroken run."""
    with failing_step(monkeypatch, 0, Fault()) as steps:
        run_to_end(tmp_path / "count")
    left = 0
    for k in range(1, len(steps) + 1):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        out = folder / "out"
        with monkeypatch.context() as patch:
            patch.setattr(atomic, "_discard", lambda _: None)  # a kill cleans nothing
            with failing_step(monkeypatch, k, Fault()), pytest.raises(Fault):
                run_to_end(out)
        left += bool([p for p in folder.rglob("*.tmp")])
        done = next_command(out)
        assert_same_run(done, reference)
        assert litter(folder) == [], (k, steps[k - 1])
    assert left > 5  # the crashes did leave staging files for the next command to clean


def test_temporary_files_of_other_outputs_are_kept(tmp_path: Path, reference: Path) -> None:
    """Only this output's staging names are removed (and only under its lock)."""
    out = tmp_path / "out"
    stop_after(out, 3)
    work = runner.work_dir(out)
    mine = [tmp_path / ".out.0123456789ab.tmp", work / ".state.npz.0123456789ab.tmp"]
    theirs = [tmp_path / ".out2.0123456789ab.tmp", tmp_path / ".out.0123456789ab.tmp.keep", tmp_path / "x.tmp"]
    mine[0].mkdir()
    for path in (*mine[1:], *theirs):
        path.write_text("x")
    assert_same_run(resume_to_end(out), reference)
    assert [p.exists() for p in mine] == [False, False] and all(p.exists() for p in theirs)


# ---------------------------------------------------------------- 7. refusals leave nothing behind


def test_a_refusal_after_the_work_folder_is_created_leaves_nothing(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run refused once its work folder exists (here: at the population build) removes the folder, the lock
    and the parent folders it made; the corrected rerun works."""
    out = tmp_path / "a" / "b" / "out"
    with monkeypatch.context() as patch:

        def refuse(*_: object, **__: object) -> None:
            raise ResourceError("population: does not fit (allowed: fewer citizens)")

        patch.setattr(engine, "start", refuse)
        with pytest.raises(ResourceError):
            run_to_end(out)
    assert list(tmp_path.iterdir()) == []
    assert_same_run(run_to_end(out), reference)


def test_a_refused_experiment_leaves_no_folder_and_no_row(tmp_path: Path) -> None:
    """An experiment refused after its folder is made (a bad executor; a run refused as a bad input) removes its
    folder and catalogue rows: the same command then runs, without --resume."""
    from scslab.experiments import Options, ensemble
    from scslab.experiments.catalog import Catalog
    from scslab.experiments.executors import LocalExecutor, execute

    def refuse_run_1(task: Any, base: Any) -> Any:
        if task.index == 1:
            raise ScslabError("population.size: refused (allowed: a test)")
        return execute(task, base)

    for bad in (Options(executor="nowhere", root=tmp_path, experiment_id="e"),
                Options(executor=LocalExecutor(0), root=tmp_path, experiment_id="e", work=refuse_run_1)):  # fmt: skip
        with pytest.raises(ScslabError) as err:
            ensemble(SC, 3, options=bad)
        one_line(err.value)
        assert not (tmp_path / "experiments" / "e").exists()
        assert Catalog(tmp_path).query("SELECT count(*) AS n FROM experiments")["n"][0] == 0
        assert Catalog(tmp_path).query("SELECT count(*) AS n FROM runs")["n"][0] == 0
    res = ensemble(SC, 3, options=Options(executor=LocalExecutor(0), root=tmp_path, experiment_id="e"))
    assert res.executed == 3


# ---------------------------------------------------------------- 8. concurrency


def test_one_output_one_writer(tmp_path: Path, reference: Path) -> None:
    """While a run holds its output, another run into it and a resume of it are refused in one line."""
    out = tmp_path / "out"
    first = runner.Job(SC, 1, out, every=2, options=dict(OPTIONS))
    runner.begin(first)
    for attempt in (lambda: run_to_end(out), lambda: run_to_end(out, every=0), lambda: runner.resume(out)):
        with pytest.raises(ScslabError, match="another scslab run is writing it") as err:
            attempt()
        one_line(err.value)
    with runner.StopOnSignals() as guard:
        assert_same_run(runner.finish(first, runner.simulate(first, None, guard)), reference)
    with pytest.raises(ScslabError, match="already exists"):
        run_to_end(out)
    assert litter(tmp_path) == []


def test_a_lock_file_left_by_a_killed_run_is_taken(tmp_path: Path) -> None:
    """flock dies with its process, so a stale lock file blocks nothing; a removed one is never locked twice."""
    out = tmp_path / "out"
    lock.lock_path(out).write_text("")
    a = lock.OutputLock(out).acquire()
    with pytest.raises(ScslabError, match="another scslab run"):
        lock.OutputLock(out).acquire()
    a.release()
    assert not lock.lock_path(out).exists()
    b = lock.OutputLock(out).acquire()
    assert b.held
    b.release()


def test_two_processes_into_one_out(tmp_path: Path) -> None:
    """Real processes: a second `scslab run` into the --out of a running one, and a `--resume` of it, each get
    one line and exit 2; the first completes."""
    args = ["--set", "population.size=10000", "--set", "days=3000", "--quiet", "--no-report", "--out", "out"]
    first = subprocess.Popen([*SCSLAB, "run", "beijing-2020", *args, "--checkpoint-every", "10"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (tmp_path / ".out.checkpoint" / "state.npz").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    for second in (["run", "beijing-2020", *args], ["run", "--resume", "out", "--quiet"]):
        res = subprocess.run([*SCSLAB, *second], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "another scslab run is writing" in lines[0], res.stderr
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    assert first.returncode == 143
    assert (tmp_path / ".out.checkpoint" / "state.npz").is_file() and not (tmp_path / ".out.lock").exists()
