"""What the listing log and the trace cost (bench/README.md, "The listing log and the trace").

    PYTHONPATH=src .venv/bin/python bench/trace_cost.py listings [--runs 3]
    PYTHONPATH=src .venv/bin/python bench/trace_cost.py listed [--pairs 4] [--trace listed]

`listings` times the listing log's own work (every call of `ListingLog`, and listings.parquet
written) inside default runs, against each run's time. `listed` alternates runs of the default
scenario without and with a trace (the run and its files written, as `scslab run --no-report`
does) and prints each pair and the ratio of the means. The kernels are compiled by a first short
run that is not timed.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import scslab
from scslab.model import listings
from scslab.results import simulate

LOG_METHODS = ("opened", "offence", "closed", "day_end", "table")


def timed(spent: list[float], method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, adding its seconds to `spent[0]`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    return wrapper


def warm(scenario: scslab.Scenario, trace: str | None = None) -> None:
    """Compile the kernels (a short run, not timed)."""
    simulate(scenario.with_overrides({"days": 5}), 1, trace=trace)


def listing_cost(runs: int) -> None:
    """The listing log's seconds against the run's, run by run."""
    sc = scslab.load_scenario("beijing-2020")
    warm(sc)
    spent = [0.0]
    for name in LOG_METHODS:
        setattr(listings.ListingLog, name, timed(spent, getattr(listings.ListingLog, name)))
    for run in range(runs):
        spent[0] = 0.0
        start = time.perf_counter()
        result = simulate(sc, 1 + run)
        with tempfile.TemporaryDirectory() as tmp:
            write = time.perf_counter()
            pq.write_table(result.listings_table(), Path(tmp) / "listings.parquet")
            spent[0] += time.perf_counter() - write
        wall = time.perf_counter() - start
        phases = sum(result.profile.values())
        print(f"run {run + 1}: {wall:.3f} s wall ({phases:.3f} s in the phases), listing log {spent[0] * 1e3:.1f} ms "
              f"= {100 * spent[0] / wall:.2f}% of the wall ({result.state.listings.episodes} episodes)")  # fmt: skip


def trace_cost(pairs: int, trace: str) -> None:
    """Runs without and with `trace`, alternating: each pair, and the ratio of the means."""
    sc = scslab.load_scenario("beijing-2020")
    warm(sc, trace)
    times: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    for pair in range(pairs):
        for name, spec in (("off", None), ("on", trace)) if pair % 2 == 0 else (("on", trace), ("off", None)):
            with tempfile.TemporaryDirectory() as tmp:
                start, start_cpu = time.perf_counter(), time.process_time()
                result = simulate(sc, 1, trace=spec)
                result.write_files(Path(tmp))
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
            rows = result.state.trace.charges.count if result.state.trace else 0
            print(f"pair {pair + 1} {name:>3}: {times[name][-1]:.3f} s wall, {cpu[name][-1]:.3f} s CPU (rows "
                  f"recorded {rows:,}, kept {len(result.charges):,})", flush=True)  # fmt: skip
    for label, series in (("wall", times), ("CPU", cpu)):
        off, on = statistics.mean(series["off"]), statistics.mean(series["on"])
        ratios = [b / a for a, b in zip(series["off"], series["on"], strict=True)]
        print(f"{label} means: off {off:.3f} s, on {on:.3f} s: {100 * (on / off - 1):+.1f}%; pair ratios "
              f"{', '.join(f'{r:.3f}' for r in ratios)} (median {statistics.median(ratios):.3f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("listings", "listed"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--trace", default="listed")
    args = parser.parse_args()
    if args.what == "listings":
        listing_cost(args.runs)
    else:
        trace_cost(args.pairs, args.trace)


if __name__ == "__main__":
    main()
