"""Reliability, round two (issue 14, classes 9-12): the catalogue's SQL is read-only and bounded, every step
accepts what the loader accepts, aggregates are the same bytes in any order, no hangs and no silent exits.

docs/reliability.md maps each guarantee to the test here that proves it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import scslab
from scslab.cli import app
from scslab.errors import ScslabError
from scslab.experiments import Options, Target, calibrate, ensemble, sweep
from scslab.experiments import catalog as catalog_module
from scslab.experiments.catalog import Catalog, RunRow
from scslab.experiments.executors import BaseScenario, LocalExecutor, Outcome, Task, Work, execute
from scslab.experiments.fitted import original_reference, write_fitted
from scslab.scenario import load_scenario

SCSLAB = [sys.executable, "-m", "scslab"]
TINY = {"population.size": 1000, "days": 10}
SRC = Path(scslab.__file__).resolve().parent


def one_line(text: str) -> str:
    """The single line a failing command printed (and check that it is one)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def fake_catalogue(root: Path, runs: int = 5) -> Catalog:
    """A catalogue with one experiment of `runs` runs and three metrics each (no simulation)."""
    catalog = Catalog(root)
    catalog.add_experiment({"experiment_id": "e", "kind": "ensemble", "scenario": "s", "n_runs": runs})
    now = dt.datetime(2026, 1, 1)
    figures = [{"blacklisted": float(i), "score_mean": 800.0 + i, "political_events": 2.0 * i} for i in range(runs)]
    rows = [RunRow("e", i, 0, i, 100 + i, {"k": 0.5}, "s", 1000, 10, 1.0, 0.1, f"r/{i}", now, f)
            for i, f in enumerate(figures)]  # fmt: skip
    catalog.add_runs(rows)
    return catalog


# ---------------------------------------------------------------- 9. the catalogue's SQL is read-only

REFUSED = (
    "COPY runs TO '{out}'",
    "COPY (SELECT 1) TO '{out}' (FORMAT csv)",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/*')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH '{other}' AS o",
    "CREATE TABLE t (x INTEGER)",
    "INSERT INTO experiments (experiment_id, kind, scenario) VALUES ('z', 'k', 's')",
    "DELETE FROM runs",
    "UPDATE runs SET seed = 0",
    "DROP TABLE metrics",
    "PRAGMA enable_external_access = true",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET temp_directory = '{out}'",
    "EXPORT DATABASE '{out}'",
    "SELECT 1; COPY runs TO '{out}'",
    "CHECKPOINT; DELETE FROM runs",
)


@pytest.mark.parametrize("sql", REFUSED)
def test_sql_that_writes_or_reaches_out_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: str) -> None:
    """COPY TO, file readers, INSTALL/LOAD, ATTACH, writes and settings: one line, exit 2, nothing changed."""
    monkeypatch.chdir(tmp_path)
    fake_catalogue(tmp_path / "runs")
    before = digest(tmp_path)
    text = sql.format(out=tmp_path / "stolen", other=tmp_path / "other.duckdb")
    res = cli("runs", "--sql", text)
    assert res.exit_code == 2, res.output
    assert one_line(res.output).startswith("error: --sql: refused or failed")
    assert digest(tmp_path) == before


FRAGMENTS = st.sampled_from(
    [
        *REFUSED,
        "SELECT count(*) FROM runs",
        "SELECT * FROM metrics ORDER BY value DESC",
        "SELECT current_setting('enable_external_access')",
        "CREATE TEMP TABLE x AS SELECT 1",
        "SELECT 'a'; SELECT 'b'",
        "",
        ";",
        "SELECT",
        "garbage \x00 text",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(FRAGMENTS, min_size=1, max_size=4), st.integers(min_value=1, max_value=5))
def test_any_sql_leaves_the_catalogue_as_it_was(tmp_path_factory: Any, parts: list[str], limit: int) -> None:
    """Any sequence of statements gives rows (at most `limit`) or one line; the folder's bytes never change."""
    root = tmp_path_factory.mktemp("sql")
    catalog = fake_catalogue(root)
    before = digest(root)
    sql = "; ".join(parts).format(out=root / "stolen", other=root / "other.duckdb")
    try:
        frame, _ = catalog.user_query(sql, limit)
    except ScslabError as exc:
        assert "\n" not in str(exc)
    else:
        assert len(frame) <= limit
    assert digest(root) == before


def test_a_huge_result_is_cut_at_the_limit_without_being_computed(tmp_path: Path) -> None:
    catalog = fake_catalogue(tmp_path)
    started = time.monotonic()
    frame, cut = catalog.user_query("SELECT * FROM range(100000000000) t(x)", 7)  # 10^11 rows
    assert frame["x"].tolist() == list(range(7)) and cut
    assert time.monotonic() - started < 10
    frame, cut = catalog.user_query("SELECT run_index FROM runs ORDER BY run_index", 5)
    assert frame["run_index"].tolist() == [0, 1, 2, 3, 4] and not cut
    res = cli("runs", "--root", str(tmp_path), "--sql", "SELECT * FROM range(1000000000)", "--limit", "3")
    assert res.exit_code == 0 and "first 3 rows; more were cut" in " ".join(res.output.split())


def test_a_long_query_is_stopped_and_a_held_lock_ends_in_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No reader holds the catalogue for ever, and no writer waits for ever."""
    catalog = fake_catalogue(tmp_path)
    monkeypatch.setattr(catalog_module, "QUERY_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(ScslabError, match=r"--sql: stopped after 0.5 s"):
        catalog.user_query("SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range + b.range < 0", 5)
    assert time.monotonic() - started < 10
    monkeypatch.setattr(catalog_module, "LOCK_WAIT_SECONDS", 0.3)
    for held, access in ((fcntl.LOCK_SH, "write"), (fcntl.LOCK_EX, "read")):
        with open(catalog.lock_path, "a+b") as lock:
            fcntl.flock(lock, held)
            started = time.monotonic()
            with pytest.raises(ScslabError, match="stayed locked by another scslab process") as info:
                if access == "write":
                    catalog.add_experiment({"experiment_id": "late", "kind": "k", "scenario": "s"})
                else:
                    catalog.user_query("SELECT 1", 1)
            assert "\n" not in str(info.value) and time.monotonic() - started < 5
    catalog.add_experiment({"experiment_id": "late", "kind": "k", "scenario": "s"})  # free again


@pytest.mark.parametrize("damage", ["garbage", "empty", "half", "header"])
def test_a_damaged_catalogue_says_so_at_once(tmp_path: Path, damage: str) -> None:
    catalog = fake_catalogue(tmp_path)
    data = catalog.path.read_bytes()
    damaged = {"garbage": np.random.default_rng(1).bytes(300_000), "empty": b"", "half": data[: len(data) // 2],
               "header": data[:4096]}[damage]  # fmt: skip
    catalog.path.write_bytes(damaged)
    started = time.monotonic()
    proc = subprocess.run([*SCSLAB, "runs", "--root", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and time.monotonic() - started < 15
    assert str(catalog.path) in one_line(proc.stderr)
    started = time.monotonic()
    with pytest.raises(ScslabError, match="not a readable run catalogue"):  # a writer (a new process) too
        Catalog(tmp_path).add_experiment({"experiment_id": "x", "kind": "k", "scenario": "s"})
    assert time.monotonic() - started < 5
    assert catalog.path.read_bytes() == damaged


# ---------------------------------------------------------------- 10. what the loader accepts, every step accepts


def scenario_files(folder: Path) -> dict[str, Path]:
    """Scenario files in `folder`: one extending a preset, one a sibling, one (two folders down) a file above
    it, which loads only with `folder` trusted (--allow-extends)."""
    (folder / "deep" / "er").mkdir(parents=True)
    small = {"days": TINY["days"], "population": {"size": TINY["population.size"]}}
    (folder / "preset.toml").write_text(tomli_w.dumps({"extends": "beijing-2020", **small}))
    (folder / "base.toml").write_text(tomli_w.dumps({"extends": "beijing-2020", "crn": True, **small}))
    (folder / "sibling.toml").write_text(tomli_w.dumps({"extends": "base.toml", "name": "sib"}))
    (folder / "deep" / "er" / "leaf.toml").write_text(tomli_w.dumps({"extends": "../../preset.toml"}))
    return {p.stem: p for p in (folder / "preset.toml", folder / "sibling.toml", folder / "deep" / "er" / "leaf.toml")}


def test_calibrate_accepts_any_scenario_file(tmp_path: Path) -> None:
    """The fitted file loads, as fitted, whatever the original extends and wherever the two files lie."""
    files = scenario_files(tmp_path / "scenarios")
    for name, path in files.items():
        sc = load_scenario(path, trusted=(tmp_path / "scenarios",))
        for out in (None, path.parent / f"fitted-{name}.toml"):
            res = calibrate(sc, [Target("political_events", 3.0, 2.0)], ["events.criticism.rate=0.0001:0.002"],
                            trials=2, batch=2, options=Options(LocalExecutor(0), tmp_path / "runs" / name,
                                                              f"c{out is None}"), out=out)  # fmt: skip
            assert load_scenario(res.fitted_path).params == sc.with_overrides(res.best).params
            if out is not None and name != "leaf":  # beside the original, it extends it and sets only the fit
                assert f'extends = "{path.name}"' in res.fitted_path.read_text()
    # And through the command line, from another folder.
    (tmp_path / "t.toml").write_text('[[targets]]\nmetric = "political_events"\nvalue = 3\ntolerance = 2\n')
    proc = subprocess.run(
        [*SCSLAB, "calibrate", str(files["sibling"]), "--targets", "t.toml", "--param",
         "events.criticism.rate=0.0001:0.002", "--trials", "2", "--batch", "2", "--workers", "0", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


NUMERIC_KEYS = (
    ("events", "criticism", "rate"),
    ("events", "criticism", "points"),
    ("population", "size"),
    ("days",),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(st.tuples(st.sampled_from(NUMERIC_KEYS), st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6)), max_size=3),
    st.sampled_from(["beijing-2020", "judgment-defaulters", "sibling"]),
    st.integers(min_value=0, max_value=3),
    st.floats(min_value=0.0001, max_value=0.002),
)
def test_a_scenario_the_loader_accepts_is_accepted_downstream(
    tmp_path_factory: Any, changes: list[tuple[tuple[str, ...], Any]], base: str, depth: int, rate: float
) -> None:
    """Property: any scenario file that loads gives a resolved TOML (runs, checkpoints, workers) and a fitted
    file (calibrate), in any other folder, that load back as the same parameters."""
    folder = tmp_path_factory.mktemp("accepted")
    raw: dict[str, Any] = {"extends": "base.toml" if base == "sibling" else base}
    (folder / "base.toml").write_text(tomli_w.dumps({"extends": "beijing-2020", "days": 20}))
    for path, value in changes:
        node = raw
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    source = folder / "my.toml"
    source.write_text(tomli_w.dumps(raw))
    try:
        sc = load_scenario(source)
    except ScslabError:
        return  # refused at the edge: nothing downstream to check
    out = folder.joinpath(*["sub"] * depth) if depth else folder.parent / f"{folder.name}-elsewhere"
    out.mkdir(parents=True, exist_ok=True)
    resolved = out / "resolved.toml"
    resolved.write_text(sc.to_toml())
    assert load_scenario(resolved).params == sc.params
    try:
        best = {"events.criticism.rate": rate}
        fitted = sc.with_overrides(best)
    except ScslabError:
        return
    written = write_fitted(sc, best, original_reference(sc), out / "fitted.toml", ["test"])
    assert load_scenario(written).params == fitted.params


# ---------------------------------------------------------------- 11. aggregates: the same bytes in any order


class ShuffledExecutor(LocalExecutor):
    """Runs every task in this process, then hands the outcomes back in a shuffled order."""

    def __init__(self, seed: int) -> None:
        super().__init__(0)
        self.seed = seed

    def run(self, tasks: Iterable[Task], base: BaseScenario, work: Work = execute) -> Iterator[Outcome]:
        outcomes = list(super().run(tasks, base, work))
        order = np.random.default_rng(self.seed).permutation(len(outcomes))
        yield from (outcomes[i] for i in order)


def test_aggregates_are_the_same_bytes_in_any_arrival_order(tmp_path: Path) -> None:
    """bands, intervals, sweep points and correlations, calibration trials and fitted file: byte for byte."""
    sc = load_scenario("beijing-2020").with_overrides(TINY)
    executors: dict[str, LocalExecutor] = {"inline": LocalExecutor(0), "shuffled": ShuffledExecutor(1),
                                           "reversed": ShuffledExecutor(2), "pool": LocalExecutor(2)}  # fmt: skip
    outputs: dict[str, dict[str, bytes]] = {}
    for name, executor in executors.items():
        root = tmp_path / name
        with executor:
            e = ensemble(sc, 6, seed=4, options=Options(executor, root, "e"))
            if name == "pool":  # the pool only changes which run finishes first; the rest is covered in-process
                files = [e.directory / "bands.parquet", e.directory / "intervals.parquet"]
            else:
                s = sweep(sc, ["events.criticism.points=-80:-20:30"], seeds=2, options=Options(executor, root, "s"))
                c = calibrate(sc, [Target("political_events", 3.0, 2.0)], ["events.criticism.rate=0.0001:0.002"],
                              trials=4, batch=2, seeds=2, options=Options(executor, root, "c"))  # fmt: skip
                files = [e.directory / "bands.parquet", e.directory / "intervals.parquet",
                         s.directory / "points.parquet", s.directory / "correlations.parquet",
                         c.directory / "trials.parquet", c.fitted_path]  # fmt: skip
        outputs[name] = {str(f.relative_to(root)): f.read_bytes() for f in files}
    reference = outputs["inline"]
    for name, produced in outputs.items():
        for file, data in produced.items():
            assert data == reference[file], (name, file)


# ---------------------------------------------------------------- 12. no hangs, no silent exits


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_inputs_that_are_not_regular_files_are_refused_at_once(tmp_path: Path, kind: str) -> None:
    """A scenario, a targets file, a catalogue and a checkpoint: a FIFO with no writer would block an open()."""
    special = tmp_path / "special.toml"
    if kind == "fifo":
        os.mkfifo(special)
    elif kind == "device":
        special = Path(os.devnull)
    else:
        special.mkdir()
    (tmp_path / "cat").mkdir()
    catalogue = tmp_path / "cat" / "catalog.duckdb"
    if kind == "fifo":
        os.mkfifo(catalogue)
    elif kind == "folder":
        catalogue.mkdir()
    else:
        catalogue.symlink_to(os.devnull)
    commands = [
        ["run", str(special), "--quiet"],
        ["calibrate", "beijing-2020", "--targets", str(special), "--param", "events.criticism.rate=0:1"],
        ["runs", "--root", str(tmp_path / "cat")],
        ["runs", "--root", str(tmp_path / "cat"), "--sql", "SELECT 1"],
    ]
    for args in commands:
        started = time.monotonic()
        proc = subprocess.run([*SCSLAB, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, (args, proc.stderr)
        line = one_line(proc.stderr)
        assert any(w in line for w in ("named pipe", "device", "folder")), line
        assert time.monotonic() - started < 20
    from scslab.checkpoint import load_checkpoint

    with pytest.raises(ScslabError, match=r"named pipe|device|folder"):
        load_checkpoint(special, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_an_experiment_is_one_line_and_leaves_no_worker(tmp_path: Path, sig: int, code: int) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM to the command: one line,
    130 / 143, no traceback, no resource-tracker warning, every worker gone; --resume finishes the runs."""
    args = [*SCSLAB, "ensemble", "beijing-2020", "--set", "population.size=3000", "--set", "days=60",
            "--seeds", "12", "--workers", "2", "--root", "runs", "--id", "e", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    runs = tmp_path / "runs" / "experiments" / "e" / "runs"
    deadline = time.monotonic() + 240
    while not (runs.exists() and any(runs.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=60)  # returns once every process holding the pipes, workers too, ended
    assert proc.returncode == code and time.monotonic() - started < 15
    line = one_line(stderr)
    assert line.startswith(f"error: stopped by {signal.Signals(sig).name} (complete runs are kept")
    assert "resource_tracker" not in stderr and "leaked" not in stderr
    done = len(list(runs.iterdir()))
    assert 1 <= done < 12
    finish = subprocess.run([*args, "--resume", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert finish.returncode == 0, finish.stderr
    assert json.loads(finish.stdout)["runs"] == 12 and json.loads(finish.stdout)["executed"] == 12 - done


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler: scslab's first line of code ran (Python itself has none)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_is_one_line(tmp_path: Path, sig: int) -> None:
    """From scslab's first line on (modules importing, the population being built): one line and 130 / 143,
    never a traceback or silence. (Before it, Python is starting and answers as any Python program.)"""
    for delay in (0.0, 0.1, 0.3, 0.6, 1.2, 2.0):
        proc = subprocess.Popen(
            [*SCSLAB, "run", "beijing-2020", "--set", "population.size=200000", "--quiet", "--no-report",
             "--out", str(tmp_path / f"out-{delay}")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not catches_sigterm(proc.pid):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, (delay, stderr)
        assert one_line(stderr).startswith(f"error: stopped by {signal.Signals(sig).name}"), delay


def test_an_unwritable_numba_cache_falls_back_with_a_note(tmp_path: Path) -> None:
    """A read-only install and no writable home: commands work, one note says so, nothing is left behind."""
    package = tmp_path / "site" / "scslab"
    shutil.copytree(SRC, package, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").touch()  # a file where numba's in-tree cache folder would go
    blocker = tmp_path / "blocker"
    blocker.touch()  # a file: no folder can be made below it (a read-only home, even for root)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "NUMBA_CACHE_DIR")}
    env |= {"PYTHONPATH": str(package.parent), "HOME": str(blocker), "NUMBA_CACHE_DIR": str(blocker / "numba"),
            "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(temp)}  # fmt: skip
    proc = subprocess.run([*SCSLAB, "audit", "beijing-2020", "--json"], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr  # the audit's verdict, not a failure
    assert one_line(proc.stderr).startswith("note: no writable folder for numba's compiled kernels")
    assert '"scenario": "beijing-2020"' in proc.stdout
    assert list(temp.iterdir()) == []  # the temporary cache is removed at exit
    # Where a cache can be written, nothing is said.
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    proc = subprocess.run([*SCSLAB, "audit", "beijing-2020", "--json"], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert proc.returncode in (0, 1) and proc.stderr == ""
