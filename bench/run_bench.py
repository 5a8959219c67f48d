"""Benchmarks for bench/README.md: the default run, and the cost of a day against population size.

Run with `make bench` (or `.venv/bin/python bench/run_bench.py`). Prints markdown tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scslab
from scslab.uncertainty import figure_values

SCSLAB = str(Path(sys.executable).with_name("scslab"))


def timed_child(cmd: list[str]) -> tuple[float, int]:
    """Run `cmd`; return its wall time (s) and its own peak resident memory (KiB, from wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    return wall, usage.ru_maxrss


def default_run() -> None:
    """Wall time and peak memory of `make run`'s scenario as one process, build included."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        wall, peak_kib = timed_child([SCSLAB, "run", "beijing-2020", "--quiet", "--out", str(out)])
        peak = peak_kib / 1024
        summary = json.loads((out / "summary.json").read_text())
    print("| scenario | citizens | days | wall (s), process start to files written | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    print(f"| beijing-2020 | {summary['population_size']:,} | {summary['days']} | {wall:.2f} | {peak:.0f} |")
    print()
    print("| phase | seconds | ms per day |")
    print("|---|---|---|")
    for phase, seconds in summary["profile_seconds"].items():
        per_day = "" if phase == "population" else f"{1000 * seconds / summary['days']:.2f}"
        print(f"| {phase} | {seconds:.3f} | {per_day} |")
    print()


def events_not_population(sizes: list[int], days: int = 100) -> None:
    """Time per simulated day at several sizes with the *same number of events per day*."""
    base = scslab.load_scenario("beijing-2020")
    n0 = base.params.population.size
    print("| citizens | events per day | ms per day (all phases) | population build (s) |")
    print("|---|---|---|---|")
    for n in sizes:
        factor = n0 / n
        overrides: dict[str, object] = {"population.size": n, "days": days}
        for name, event in base.params.events.items():
            overrides[f"events.{name}.rate"] = event.rate * factor
        overrides["travel.rate"] = [r * factor for r in base.params.travel.rate]
        if base.params.firms is not None:
            overrides["firms.violation_rate"] = base.params.firms.violation_rate * factor
        overrides["promotion.rate_per_year"] = base.params.promotion.rate_per_year * factor
        res = scslab.simulate(base.with_overrides(overrides), seed=1)
        prof = res.profile
        per_day = 1000 * (sum(prof.values()) - prof["population"]) / days
        events = sum(res.timeseries[c].mean() for c in res.timeseries if c.startswith("events_"))
        print(f"| {n:,} | {events:,.0f} | {per_day:.2f} | {prof['population']:.2f} |")
    print()


def same_rates(sizes: list[int]) -> None:
    """beijing-2020 at several sizes with its own per-person rates (full scale last): each as one
    `scslab run` process, timed from process start to files written, with its peak memory."""
    print(
        "| citizens | events per day | ms per day (all phases) | µs per event | population build (s) "
        "| wall (s), process start to files written | peak RSS (GB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            cmd = [SCSLAB, "run", "beijing-2020", "--set", f"population.size={n}", "--quiet", "--no-report"]
            wall, peak_kib = timed_child([*cmd, "--out", str(out)])
            peak = peak_kib * 1024 / 1e9
            summary = json.loads((out / "summary.json").read_text())
        prof, days = summary["profile_seconds"], summary["days"]
        per_day = 1000 * (sum(prof.values()) - prof["population"]) / days
        events = sum(v for k, v in figure_values(summary).items() if k.startswith("events_")) / days
        print(
            f"| {n:,} | {events:,.0f} | {per_day:.1f} | {1000 * per_day / events:.2f} | {prof['population']:.1f} "
            f"| {wall:.1f} | {peak:.2f} |"
        )
    print()


if __name__ == "__main__":
    default_run()
    # before any run in this process: a child's peak counts the memory it was forked with
    same_rates([1_000_000, 4_000_000, 22_000_000])
    events_not_population([220_000, 1_000_000, 4_000_000])
