"""Every numeric key has a range the engine honours, and the memory estimate counts what values allocate.

docs/reliability.md, "Bounds and the memory estimate", lists these guarantees with these tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scslab import engine
from scslab.errors import ResourceError, ScenarioError, ScslabError
from scslab.experiments import Options, ensemble, sensitivity, sweep
from scslab.memory import check_memory, demands, estimate_peak_bytes
from scslab.scenario import load_scenario
from scslab.scenario.keys import KeyPath, format_key
from scslab.scenario.messages import _bounds, _field_at

SCSLAB = [sys.executable, "-m", "scslab.cli"]
TINY = {"population.size": 200, "days": 3}
# The estimate's stated factor over the measured peak (bench/README.md, "Memory estimate").
MOST_ABOVE = 2.5


def numeric_keys() -> list[tuple[str, dict[str, float]]]:
    """Every numeric key of beijing-2020 (which has every table), with the bounds the schema declares."""
    dump = load_scenario("beijing-2020").params.model_dump()
    keys: list[tuple[str, dict[str, float]]] = []

    def walk(node: Any, loc: KeyPath) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*loc, key))
        elif isinstance(node, list):
            for i, value in enumerate(node[:1] if loc == ("travel", "rate") else node):
                walk(value, (*loc, i))
        else:
            found = _field_at(loc)
            assert found is not None, loc
            tp, meta, _ = found
            if tp in (int, float) or (tp in (int | None, float | None)):
                keys.append((format_key(loc), _bounds(meta)))

    walk(dump, ())
    return keys


def one_line_naming(exc: ScslabError, key: str) -> bool:
    text = str(exc)
    return "\n" not in text and "allowed" in text and (key in text or "population.size" in text or "*" in text)


class StopError(Exception):
    pass


def stop_after_three_days(at: engine.Midway) -> None:
    if at.day >= 3:
        raise StopError


def test_every_numeric_key_has_a_range() -> None:
    """Every number a scenario can hold is bounded on both sides in the schema (so --help and errors state it)."""
    keys = numeric_keys()
    assert len(keys) > 60
    unbounded = [key for key, bounds in keys if not ({"ge", "gt"} & set(bounds) and {"le", "lt"} & set(bounds))]
    assert unbounded == []


@pytest.mark.parametrize("times", [1, 10])
def test_every_numeric_key_at_its_maximum_runs_or_is_refused_in_one_line(times: int) -> None:
    """Each numeric key at its maximum, and at 10 times it, at 200 citizens: the scenario runs a few
    days cleanly, or the loader or the memory check refuses it in one line naming the key."""
    base = load_scenario("beijing-2020").with_overrides(TINY)
    outcomes = {"ran": 0, "refused": 0}
    for key, bounds in numeric_keys():
        top = bounds.get("le", bounds.get("lt", 0))
        value = top * times
        try:
            params = base.with_overrides({key: value}).params
            check_memory(params, "scenario")
        except ScenarioError as exc:
            assert one_line_naming(exc, key), exc
            outcomes["refused"] += 1
            continue
        except ResourceError as exc:
            assert one_line_naming(exc, key), exc
            outcomes["refused"] += 1
            continue
        assert times == 1, key
        try:
            run = engine.run(params, seed=1, after_day=stop_after_three_days)
        except StopError:
            pass
        else:
            assert np.isfinite(run.state.ledgers).all(), key
        outcomes["ran"] += 1
    assert outcomes["refused"] > 0 and (outcomes["ran"] > 40 or times == 10), outcomes


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        (["recovery.per_day=1e308"], "recovery.per_day"),
        (["score.min=-1e300"], "score.min"),
        (["stress.sigma=1e300"], "stress.sigma"),
        (["population.size=20000000", "events.jaywalking.rate=100"], "events.*.rate"),
        (["days=36500", "recovery.per_day=200000"], "recovery.per_day"),
    ],
)
def test_huge_values_through_the_cli_end_in_one_line(tmp_path: Path, sets: list[str], named: str) -> None:
    """The issue's examples through the real command: exit 2, one line naming the key, nothing written."""
    args = [arg for text in sets for arg in ("--set", text)]
    res = subprocess.run(
        [*SCSLAB, "run", "beijing-2020", "--quiet", "--no-report", "--out", str(tmp_path / "run"), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert named in lines[0] and "allowed" in lines[0] and "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_estimate_counts_rates_score_range_schedule_and_delays() -> None:
    """Each demand grows as its key says: events with the rate, the histogram with the score range,
    the moving histogram with per_day x days, the charges in flight with the delay."""
    base = load_scenario("beijing-2020").with_overrides({"population.size": 2_000_000})

    def bytes_of(overrides: dict[str, Any], key: str) -> float:
        return sum(d.bytes for d in demands(base.with_overrides(overrides).params) if d.key == key)

    assert bytes_of({"events.jaywalking.rate": 10.0}, "events.*.rate") > 1e9  # 2e7 events a day
    wide, narrow = bytes_of({"score.min": -100_000.0}, "score.max"), bytes_of({}, "score.max")
    assert wide / narrow == pytest.approx((950 + 100_000) / (950 - 350), rel=1e-3)
    assert bytes_of({"recovery.per_day": 100.0, "days": 1000}, "recovery.per_day") >= 8 * 1000 * 1000
    slow, fast = bytes_of({"sources.cameras.delay": 10}, "sources.*.delay"), bytes_of({}, "sources.*.delay")
    assert slow > fast
    # the case: 2 M citizens with one high event rate; the estimate now grows with the rate
    high = estimate_peak_bytes(base.with_overrides({"events.jaywalking.rate": 50.0}).params)
    assert high > 5 * estimate_peak_bytes(base.params)


def peak_of(overrides: dict[str, Any], folder: Path) -> int:
    """The peak resident bytes of a run of beijing-2020 with `overrides`, in a child process."""
    cmd = [*SCSLAB, "run", "beijing-2020", "--quiet", "--no-report", "--out", str(folder / "run")]
    cmd += [arg for key, value in overrides.items() for arg in ("--set", f"{key}={value}")]
    child = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return int(usage.ru_maxrss) * 1024


@pytest.mark.parametrize(
    "overrides",
    [
        {"population.size": 60_000, "days": 5, "events.jaywalking.rate": 8.0},
        {"population.size": 20_000, "days": 600, "recovery.per_day": 1000.0, "recovery.clean_days": 3},
        {"population.size": 40_000, "days": 40, "sources.cameras.delay": 30, "events.jaywalking.rate": 1.0,
         "score.min": -50_000.0},
    ],
)  # fmt: skip
def test_the_estimate_bounds_measured_peaks(tmp_path: Path, overrides: dict[str, Any]) -> None:
    """Over scenarios where rates, the schedule, delays and the score range dominate, the estimate is
    above the measured peak and at most MOST_ABOVE times it (bench/memory_peaks.py does 24 more)."""
    estimate = estimate_peak_bytes(load_scenario("beijing-2020").with_overrides(overrides).params)
    peak = peak_of(overrides, tmp_path)
    assert peak <= estimate <= MOST_ABOVE * peak, (peak, estimate)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda root: ensemble("beijing-2020", seeds=10**12, options=Options(root=root)), "--seeds: "),
        (lambda root: sweep("beijing-2020", ["days=10:1000:1", "score.start=400:900:10"], seeds=100,
                            options=Options(root=root)), "design points x --seeds: "),
        (lambda root: sensitivity("beijing-2020", ["days=10:20"], n=2**19, seeds=4, options=Options(root=root)),
         "--n x --seeds: "),
        (lambda root: ensemble(load_scenario("beijing-2020").with_overrides({"days": 36_500}), seeds=900_000,
                               options=Options(root=root)), "--seeds: "),
    ],
)  # fmt: skip
def test_experiment_sizes_that_would_not_fit_are_refused_before_starting(tmp_path: Path, call: Any, named: str) -> None:
    """Seeds, design points and samples whose runs could not be held, or whose stored runs would not fit
    on the disk (900,000 runs of a century need about 18 TB), are one line before anything is written."""
    root = tmp_path / "runs"
    with pytest.raises(ScslabError) as caught:
        call(root)
    text = str(caught.value)
    assert text.startswith(named) and "allowed" in text and "\n" not in text, text
    assert not root.exists()


def test_experiment_size_through_the_cli(tmp_path: Path) -> None:
    res = subprocess.run([*SCSLAB, "ensemble", "beijing-2020", "--seeds", str(10**15), "--root", str(tmp_path / "r")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "--seeds" in lines[0] and "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []
