"""The lab without a browser: its designs go through the scenario loader, its runs write what `scslab run`
writes, a cancel leaves nothing, and the server-wide cap queues runs in order."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("solara")

import scslab
from runkit import cli, small
from scslab.errors import ScenarioError
from scslab.lab.design import Design, read_upload, scenario_text
from scslab.lab.jobs import LiveRun, RunQueue

TIMINGS = ("wall_seconds", "profile_seconds")


def test_a_refused_value_gets_the_schemas_line_and_the_rest_applies() -> None:
    d = Design.start(small(), "preset beijing-2020")
    d = d.with_text("events.criticism.rate", "-1").with_text("blacklist.threshold", "700")
    sc, errors = d.resolved()
    assert errors == {"events.criticism.rate": "-1 is out of range (allowed: a number in [0, 100])"}
    assert sc.params.blacklist.threshold == 700
    assert sc.params.events["criticism"].rate == small().params.events["criticism"].rate


def test_rules_turn_off_and_take_a_trigger() -> None:
    d = Design.start(small(), "preset beijing-2020")
    sanctions = [r for r in d.rules if r.kind == "sanctions"]
    first, second = sanctions[0], sanctions[1]
    d = d.with_rule(first.__class__(**{**first.__dict__, "on": False}))
    d = d.with_rule(second.__class__(**{**second.__dict__, "trigger": "tier <= C"}))
    sc, errors = d.resolved()
    assert errors == {}
    assert [s.effect for s in sc.params.sanctions] == [s.effect for s in small().params.sanctions][1:]
    assert sc.params.sanctions[0].trigger == "tier <= C"
    bad = d.with_rule(second.__class__(**{**second.__dict__, "trigger": "tier <= Z"}))
    assert "no tier named 'Z'" in bad.resolved()[1][second.key]


def test_the_download_is_the_design(tmp_path: Path) -> None:
    sc = Design.start(small(), "x").with_text("feedback.eta", "0.2").scenario()
    path = tmp_path / "scenario.toml"
    path.write_text(scenario_text(sc, 7))
    assert scslab.load_scenario(path).to_toml() == sc.to_toml()


def test_an_upload_is_data_only_and_size_limited() -> None:
    with pytest.raises(ScenarioError, match="larger than 1 MiB"):
        read_upload("big.toml", b"#" * (2 << 20))
    with pytest.raises(ScenarioError, match=r"^evil.toml: .*malformed TOML"):
        read_upload("evil.toml", b"import os\nos.system('touch /tmp/pwned-by-lab')\n")
    sc = read_upload("mine.toml", b'extends = "beijing-2020"\nname = "mine"\n[blacklist]\nthreshold = 700\n')
    assert sc.params.blacklist.threshold == 700 and sc.origin == "mine.toml"


def test_a_lab_run_writes_what_scslab_run_writes(tmp_path: Path) -> None:
    sc = small()
    run = LiveRun(sc, 5, tmp_path / "lab", baseline=True).start(RunQueue(1))
    assert run.thread is not None
    run.thread.join(120)
    assert run.state == "done", run.message
    scslab.run(sc, 5, tmp_path / "api", baseline=True)
    names = sorted(p.name for p in (tmp_path / "api").iterdir())
    assert sorted(p.name for p in (tmp_path / "lab").iterdir()) == names
    for name in names:
        a, b = (tmp_path / side / name for side in ("lab", "api"))
        if name == "summary.json":  # the run's own timings differ
            strip = lambda s: {k: v for k, v in json.loads(s.read_text()).items() if k not in TIMINGS}  # noqa: E731
            assert strip(a) == strip(b)
        else:
            assert a.read_bytes() == b.read_bytes(), name
    assert run.snapshot is not None and run.snapshot.final and run.snapshot.day == sc.params.days


def test_a_cancel_stops_between_days_and_leaves_nothing(tmp_path: Path) -> None:
    sc = small().with_overrides({"days": 400})
    seen: list[int] = []

    def on_update(r: LiveRun) -> None:
        seen.append(r.day)
        if r.day >= 3:
            r.cancel()

    run = LiveRun(sc, 1, tmp_path / "runs" / "x", baseline=False, on_update=on_update).start(RunQueue(1))
    assert run.thread is not None
    run.thread.join(60)
    assert run.state == "cancelled", run.message
    assert 3 <= max(seen) < sc.params.days  # the worker stopped at the first day's end after the cancel came in
    assert not (tmp_path / "runs").exists()  # the folders begin() made are gone too


def test_a_worker_that_does_not_stop_in_time_is_killed_and_replaced(tmp_path: Path) -> None:
    queue = RunQueue(1)

    def on_update(r: LiveRun) -> None:
        if r.state == "writing":  # (the worker does not listen while it writes the folder)
            r.cancel()

    run = LiveRun(small(), 1, tmp_path / "x", baseline=False, on_update=on_update, cancel_seconds=0.0)
    run.start(queue)
    assert run.thread is not None
    run.thread.join(60)
    assert run.state == "cancelled", run.message
    assert list(tmp_path.iterdir()) == []  # no folder, no staging files, no lock file
    again = LiveRun(small(), 1, tmp_path / "y", baseline=False).start(queue)
    assert again.thread is not None
    again.thread.join(120)
    assert again.state == "done", again.message  # in the worker that replaced the killed one
    assert again.people is not None and len(again.people.listed) == len(scslab.Result.from_dir(tmp_path / "y")
                                                                       .listings)  # fmt: skip


def test_the_cap_queues_runs_in_order() -> None:
    queue = RunQueue(1)
    go = threading.Event()
    order: list[str] = []

    def job(name: str) -> None:
        assert queue.wait_turn(name, lambda: False, lambda: None)
        order.append(name)
        go.wait(10)
        queue.leave(name)

    threads = [threading.Thread(target=job, args=(n,)) for n in ("a", "b", "c")]
    for t in threads:
        t.start()
        time.sleep(0.2)
    assert queue.counts() == (1, 2)
    assert queue.position("b") == 1 and queue.position("c") == 2
    go.set()
    for t in threads:
        t.join(10)
    assert order == ["a", "b", "c"] and queue.counts() == (0, 0)


def test_a_run_cancelled_in_the_queue_never_starts(tmp_path: Path) -> None:
    queue = RunQueue(1)
    queue.running.append("someone else")
    run = LiveRun(small(), 1, tmp_path / "x").start(queue)
    time.sleep(0.3)
    assert queue.position(run) == 1 and run.state == "queued"
    run.cancel()
    assert run.thread is not None
    run.thread.join(5)
    assert run.state == "cancelled" and queue.counts() == (1, 0) and not (tmp_path / "x").exists()


def test_lab_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("lab", "--port", str(port), "--no-browser", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: --port: {port} on 127.0.0.1 cannot be used (Address already "
                                                f"in use) (allowed: a free port)"]  # fmt: skip


def test_the_lab_is_an_element_for_a_notebook() -> None:
    import reacton.core

    from scslab.lab import Lab

    element = Lab()
    assert isinstance(element, reacton.core.Element)
    import solara.server.settings as settings

    assert settings.telemetry.mixpanel_enable is False  # no request to solara.dev or mixpanel
