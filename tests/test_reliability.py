"""Reliability (issue 7): checkpoints and resume, signals, hostile scenarios, determinism, concurrency, --check.

docs/reliability.md maps each guarantee to the test here that proves it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scslab import engine, runner
from scslab.checkpoint import MANIFEST, load_checkpoint, read_meta, same_state, save_checkpoint
from scslab.errors import ScenarioError, ScslabError
from scslab.model.invariants import Checker, InvariantError
from scslab.model.params import compile_params
from scslab.scenario import load_scenario, parse_set_option
from scslab.scenario.loader import MAX_FILE_BYTES, PRESETS_DIR

SCSLAB = [sys.executable, "-m", "scslab.cli"]
SMALL = {"population.size": 3000, "days": 40}
PRESETS = sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))
OUTPUTS = ("timeseries.parquet", "breakdowns.parquet", "listings.parquet", "people.parquet", "scenario.toml")
TIMINGS = ("wall_seconds", "profile_seconds")  # the only fields of summary.json allowed to differ


def scslab(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCSLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*SCSLAB, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_same_outputs(a: Path, b: Path) -> None:
    """Every output file byte for byte; summary.json too, apart from the timings."""
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in TIMINGS:
        sa.pop(key), sb.pop(key)
    assert sa == sb


def save_small(name: str, out: Path, seed: int = 1, check: bool = False) -> Path:
    """A small run of a preset, saved as `scslab run --save-people --no-report` would."""
    sc = load_scenario(name).with_overrides(SMALL)
    job = runner.Job(sc, seed, out, check=check, options={"people": True, "report": False})
    with runner.StopOnSignals() as guard:
        return runner.finish(job, runner.simulate(job, None, guard))


def wait_for_checkpoint(proc: subprocess.Popen[str], state: Path, min_day: int, timeout: float = 60) -> int:
    """Poll until the run has a checkpoint of at least `min_day`; return its day."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before it could be stopped: {proc.communicate()}"
        if state.exists():
            day = int(read_meta(state)["day"])
            if day >= min_day:
                return day
        time.sleep(0.01)
    raise AssertionError("no checkpoint appeared")


# ---------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("name", PRESETS)
def test_checkpoint_resume_restores_the_full_state(name: str, tmp_path: Path) -> None:
    """Save at day 17, load, finish: state and table equal an uninterrupted run's, bit for bit."""
    params = load_scenario(name).with_overrides(SMALL).params
    full = engine.run(params, 5)
    path = tmp_path / "state.npz"

    def at_17(at: engine.Midway) -> None:
        if at.day == 17:
            save_checkpoint(path, at)

    engine.run(params, 5, after_day=at_17)
    rest = engine.run(params, 5, resume=load_checkpoint(path, compile_params(params)))
    assert same_state(full.state, rest.state)
    assert same_state(full.table.columns, rest.table.columns)
    assert not same_state(full.state.score, full.state.score + 1e-12)  # the comparison can fail


def test_checkpoint_file_is_data_not_pickle(tmp_path: Path) -> None:
    """The checkpoint reads with allow_pickle=False; a tampered or truncated file is one clear error."""
    params = load_scenario("beijing-2020").with_overrides(SMALL).params
    path = tmp_path / "state.npz"
    save_checkpoint(path, engine.start(params, 1))
    with np.load(path, allow_pickle=False) as data:
        manifest = json.loads(bytes(data[MANIFEST]))
        arrays = {k: data[k] for k in data.files}
    assert all(a.dtype != object for a in arrays.values())
    manifest["tree"]["state"]["object"] = "subprocess.Popen"
    arrays[MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)  # type: ignore[arg-type]
    for broken in (bad, tmp_path / "cut.npz", tmp_path / "missing.npz"):
        if broken.name == "cut.npz":
            broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(ScslabError) as err:
            load_checkpoint(broken, compile_params(params))
        assert "\n" not in str(err.value)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_sigkill_midway_then_resume_is_bit_identical(tmp_path: Path) -> None:
    """SIGKILL a checkpointed run midway; --resume finishes it with outputs identical to an unbroken run."""
    args = ["beijing-2020", "--set", "population.size=10000", "--set", "days=300", "--seed", "4", "--quiet",
            "--no-report", "--save-people"]  # fmt: skip
    ref = scslab("run", *args, "--out", "ref", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    proc = start("run", *args, "--out", "killed", "--checkpoint-every", "25", cwd=tmp_path)
    work = tmp_path / ".killed.checkpoint"
    day = wait_for_checkpoint(proc, work / "state.npz", 50)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL and 50 <= day < 300
    assert not (tmp_path / "killed").exists()  # the run directory appears complete or not at all
    res = scslab("run", "--resume", "killed", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert_same_outputs(tmp_path / "ref", tmp_path / "killed")
    assert not work.exists()
    again = scslab("run", "--resume", "killed", cwd=tmp_path)
    assert again.returncode == 2 and "already complete" in again.stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_within_a_second_and_keeps_the_checkpoint(sig: int, code: int, tmp_path: Path) -> None:
    """SIGINT/SIGTERM: exit 130/143 within a second, one line, no run directory, a loadable checkpoint."""
    proc = start("run", "beijing-2020", "--set", "population.size=10000", "--set", "days=3000", "--quiet",
                 "--no-report", "--out", "run", "--checkpoint-every", "10", cwd=tmp_path)  # fmt: skip
    work = tmp_path / ".run.checkpoint"
    wait_for_checkpoint(proc, work / "state.npz", 20)
    sent = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    elapsed = time.monotonic() - sent
    assert proc.returncode == code
    assert elapsed < 1.0, elapsed
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr and "--resume" in lines[0], stderr
    assert not (tmp_path / "run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.checkpoint"]
    assert sorted(p.name for p in work.iterdir()) == ["run.json", "scenario.toml", "state.npz"]
    _, at = runner.resume(tmp_path / "run")
    assert at is not None and at.day % 10 == 0 and at.day == at.table.days_done


def test_signal_in_the_day_loop_stops_between_days(tmp_path: Path) -> None:
    """A signal that lands while a day is being simulated (inside compiled kernels) stops the run after that
    day, as Stopped, with the day's checkpoint written; the handler never raises inside the kernels."""
    sc = load_scenario("beijing-2020").with_overrides({"population.size": 5000, "days": 400})
    job = runner.Job(sc, 3, tmp_path / "run", every=5)
    runner.begin(job)
    seen: list[int] = []
    went_on: list[int] = []

    def on_day(day: int, _: int) -> None:
        seen.append(day)
        if day == 12:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at the next bytecode, here
            went_on.append(day)  # a handler that raised at once would never get here

    with runner.StopOnSignals() as guard, pytest.raises(runner.Stopped) as stop:
        runner.simulate(job, None, guard, on_day)
    assert stop.value.exit_code == 143 and stop.value.__context__ is None
    assert went_on == [12] and seen[-1] == 12 and job.last_checkpoint == 10  # stopped after day 13's work
    _, at = runner.resume(job.target)
    assert at is not None and at.day == 10


def test_a_stop_mangled_by_compiled_code_is_still_a_stop() -> None:
    """When the handler's exception comes out of compiled code as another error, it is still Stopped."""
    with runner.StopOnSignals() as guard:
        with pytest.raises(runner.Stopped) as stop, guard.translated():
            guard.pending = int(signal.SIGINT)
            raise SystemError("returned a result with an exception set")
        assert stop.value.exit_code == 130
        guard.pending = None
        with pytest.raises(ValueError), guard.translated():
            raise ValueError("an ordinary error stays what it is")


# ---------------------------------------------------------------- determinism and --check


def test_every_preset_is_deterministic_and_passes_check(tmp_path: Path) -> None:
    """Each preset twice with one seed (once under --check): identical bytes; then once more in a process
    with another PYTHONHASHSEED and one thread: identical bytes again."""
    for name in PRESETS:
        checked = save_small(name, tmp_path / f"a-{name}", check=True)
        assert_same_outputs(checked, save_small(name, tmp_path / f"b-{name}"))
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import test_reliability as t\n"
        "for name in t.PRESETS: t.save_small(name, Path(sys.argv[2]) / f'c-{name}')\n"
    )
    env = os.environ | {"PYTHONHASHSEED": "12345", "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                        "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
    res = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    for name in PRESETS:
        assert_same_outputs(tmp_path / f"a-{name}", tmp_path / f"c-{name}")


def test_check_catches_broken_invariants() -> None:
    """The --check invariants fail loudly, naming the day, when the state is corrupted."""
    params = load_scenario("beijing-2020").with_overrides(SMALL).params
    at = engine.start(params, 1)
    check = Checker(at.state)
    engine.run(params, 1, resume=at, after_day=lambda a: check(a.state, a.table, a.day - 1))
    cases = {
        "score == clamp": lambda s: s.score.__setitem__(0, s.score[0] - 1.0),
        "own ledger <= 0": lambda s: (s.own.__setitem__(1, s.own[1] + 0.5), s.merit.__setitem__(1, s.merit[1] - 0.5)),
        "blacklist stock": lambda s: s.counters.add("exits", 1),
        "tier counts sum to N": lambda s: s.index.tier_counts.__setitem__(0, s.index.tier_counts[0] + 1),
        "moving scores counted once": lambda s: setattr(s.index, "n_moving", s.index.n_moving + 1),
    }
    for invariant, corrupt in cases.items():
        at = engine.start(params, 1)
        check = Checker(at.state)
        engine.run(params.model_copy(update={"days": 3}), 1, resume=at)
        check.stock = at.state.blacklist.size - at.state.counters["listings_new"] + at.state.counters["exits"]
        corrupt(at.state)
        with pytest.raises(InvariantError, match=f"day 2: invariant broken: {invariant}"):
            check(at.state, at.table, 2)


# ---------------------------------------------------------------- hostile scenarios

NASTY_SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from([0, -1, 1e308, -1e308, 1e-320, "", "\x00", "\u202e", "🙂", 10**18]),
)


def leaf_paths(raw: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a raw scenario dict, tables and leaves."""
    out = [at] if at else []
    if isinstance(raw, dict):
        for k, v in raw.items():
            out += leaf_paths(v, (*at, k))
    return out


BASE = load_scenario("beijing-2020").raw
PATHS = leaf_paths(BASE)


def mutated(changes: list[tuple[int, Any]]) -> dict[str, Any]:
    """The base scenario with some keys set to hostile values."""
    import copy

    raw = copy.deepcopy(BASE)
    for index, value in changes:
        path = PATHS[index % len(PATHS)]
        node = raw
        for key in path[:-1]:
            if not isinstance(node, dict):
                break
            node = node.setdefault(key, {})
        if isinstance(node, dict):
            node[path[-1]] = value
    return raw


def assert_contract(path: Path | str, trusted: tuple[Path, ...] = ()) -> None:
    """What the CLI relies on: a valid scenario, or a ScenarioError of one line; nothing else."""
    try:
        sc = load_scenario(path, trusted=trusted)
    except ScenarioError as exc:
        assert str(exc) and "\n" not in str(exc) and "\r" not in str(exc)
        return
    assert sc.params.days >= 1 and sc.params.population.size >= 10


HYPO = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@HYPO
@given(st.lists(st.tuples(st.integers(min_value=0), NASTY_SCALARS), min_size=1, max_size=4))
def test_hostile_values_end_in_one_line_or_a_scenario(tmp_path_factory: Any, changes: list[tuple[int, Any]]) -> None:
    folder = tmp_path_factory.mktemp("h")
    raw = mutated(changes)
    try:
        text = tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return  # not representable in TOML (e.g. a float key path into an array): nothing to test
    (folder / "s.toml").write_text(text, encoding="utf-8")
    assert_contract(folder / "s.toml")


@HYPO
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_hostile_bytes_end_in_one_line_or_a_scenario(tmp_path_factory: Any, data: bytes) -> None:
    path = tmp_path_factory.mktemp("b") / "s.toml"
    path.write_bytes(b'extends = "beijing-2020"\n' + data if data[:1] == b"#" else data)
    assert_contract(path)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.integers(min_value=-1, max_value=40), min_size=1, max_size=40))
def test_extends_chains_and_cycles(tmp_path_factory: Any, links: list[int]) -> None:
    """File i extends file links[i] (a preset when -1, a missing file past the end): chains, cycles, depth."""
    folder = tmp_path_factory.mktemp("c")
    for i, j in enumerate(links):
        target = '"beijing-2020"' if j < 0 else f'"f{j}.toml"'
        (folder / f"f{i}.toml").write_text(f"extends = {target}\ndays = {i + 1}\n")
    assert_contract(folder / "f0.toml")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_hostile_set_options(text: str) -> None:
    try:
        load_scenario("beijing-2020").with_overrides(dict([parse_set_option(text)]))
    except ScenarioError as exc:
        assert "\n" not in str(exc)


def test_enormous_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ScenarioError, match="at most 1 MiB"):
        load_scenario(path)


def test_extends_is_confined_to_the_scenario_folder_and_the_presets(tmp_path: Path) -> None:
    outside, inside = tmp_path / "outside", tmp_path / "project"
    (inside / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "base.toml").write_text('extends = "beijing-2020"\ndays = 7\n')
    (inside / "sub" / "base.toml").write_text('extends = "beijing-2020"\ndays = 8\n')
    (inside / "escape.toml").write_text('extends = "../outside/base.toml"\n')
    (inside / "ok.toml").write_text('extends = "sub/base.toml"\n')
    (inside / "link.toml").symlink_to(outside / "base.toml")
    (inside / "via-link.toml").write_text('extends = "link.toml"\n')
    assert load_scenario(inside / "ok.toml").params.days == 8
    for name in ("escape.toml", "via-link.toml"):
        with pytest.raises(ScenarioError, match="outside the scenario's folder"):
            load_scenario(inside / name)
    assert load_scenario(inside / "escape.toml", trusted=(outside,)).params.days == 7
    res = scslab("run", str(inside / "escape.toml"), "--quiet", cwd=tmp_path)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    res = scslab("run", str(inside / "escape.toml"), "--allow-extends", str(outside), "--set", "population.size=500",
                 "--quiet", "--no-report", "--out", str(tmp_path / "r"), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    "text",
    [
        "days = nan\n",
        "days = 1e400\n",
        'extends = "beijing-2020"\npopulation.size = 99999999999999999999\n',
        'extends = "beijing-2020"\nevents.criticism.rate = inf\n',
        'extends = "/etc/passwd"\n',
        'name = "\x07"\n',
        'extends = "beijing-2020"\n[events.__import__]\nrate = "os.system(\'touch pwned\')"\n',
    ],
)
def test_hostile_scenarios_through_the_cli(text: str, tmp_path: Path) -> None:
    """A handful through the real command: exit 2 with one line, no traceback, nothing written or run."""
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    res = scslab("run", "s.toml", "--quiet", "--no-report", "--out", "out", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


# ---------------------------------------------------------------- concurrency


def _write_runs(root: str, writer: int, n: int) -> None:
    from scslab.experiments.catalog import Catalog, RunRow, utc_now

    catalog = Catalog(root)
    for i in range(n):
        metrics = {f"m{k}": float(writer * 1000 + i) for k in range(20)}
        row = RunRow("exp", writer * 1000 + i, writer, i, i, {"x": 1.0}, "s", 10, 1, 1.0, 0.1, "p", utc_now(), metrics)
        catalog.add_runs([row])


def test_eight_writers_lose_nothing_and_readers_see_complete_runs(tmp_path: Path) -> None:
    from scslab.experiments.catalog import Catalog

    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write_runs, args=(str(tmp_path), w, 6)) for w in range(8)]
    for p in writers:
        p.start()
    catalog = Catalog(tmp_path)
    seen = 0
    while any(p.is_alive() for p in writers):
        if catalog.path.exists():
            frame = catalog.query(
                "SELECT r.run_index, count(m.metric) AS n FROM runs r LEFT JOIN metrics m USING (run_index) "
                "GROUP BY r.run_index"
            )
            assert (frame["n"] == 20).all()  # a reader never sees a run without all its metrics
            seen = max(seen, len(frame))
        time.sleep(0.05)
    assert all(p.exitcode == 0 for p in writers)
    runs = catalog.query("SELECT run_index FROM runs ORDER BY run_index")
    assert runs["run_index"].tolist() == sorted(w * 1000 + i for w in range(8) for i in range(6))
    metrics = catalog.query("SELECT count(*) AS n, sum(value) AS s FROM metrics")
    assert int(metrics["n"][0]) == 8 * 6 * 20
    assert math.isclose(float(metrics["s"][0]), 20 * sum(w * 1000 + i for w in range(8) for i in range(6)))
