"""Benchmark for bench/README.md, section "Ensembles": a 100-seed ensemble on 1 and 2 workers.

Run with `.venv/bin/python bench/bench_ensemble.py` (options: --seeds, --workers, --scenario,
--executor). Each ensemble runs in a fresh temporary root, from process-pool start to bands
and intervals written, and prints a markdown table. The ensembles are checked to agree.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

import scslab
from scslab.experiments import Catalog, Options, ensemble, make_executor


def one(scenario: scslab.Scenario, seeds: int, workers: int, executor: str, root: Path) -> tuple[float, pd.DataFrame]:
    """Wall seconds of one ensemble (pool or cluster start included), and its intervals."""
    started = time.perf_counter()
    with make_executor(executor, workers) as ex:
        res = ensemble(scenario, seeds, options=Options(ex, root))
    return time.perf_counter() - started, res.intervals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="beijing-2020")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--executor", default="local", choices=("local", "dask"))
    args = parser.parse_args()
    scenario = scslab.load_scenario(args.scenario)
    p = scenario.params
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="scslab-bench-") as tmp:  # warm the disk caches (numba, imports)
        one(scenario.with_overrides({"population.size": 2000, "days": 5}), 2, 1, args.executor, Path(tmp))
    rows = []
    reference = None
    for workers in counts:
        with tempfile.TemporaryDirectory(prefix="scslab-bench-") as tmp:
            wall, intervals = one(scenario, args.seeds, workers, args.executor, Path(tmp))
            per_run = Catalog(tmp).query("SELECT avg(wall_seconds) AS s FROM runs")["s"].item()
        if reference is None:
            reference = intervals
        else:
            pd.testing.assert_frame_equal(reference, intervals)  # the same figures on any number of workers
        rows.append((workers, wall, per_run))
        print(f"# {workers} worker(s): {wall:.1f} s", flush=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print()
    size = f"{p.population.size:,} citizens, {p.days} days"
    print(f"{args.seeds}-seed ensemble of {p.name}: {size}, {args.executor} executor")
    print()
    print("| workers | wall (s) | runs per minute | mean run (s, in its worker) | speed-up vs 1 worker |")
    print("|---|---|---|---|---|")
    base = next((wall for w, wall, _ in rows if w == 1), None)
    for workers, wall, per_run in rows:
        speedup = f"{base / wall:.2f}" if base else ""
        print(f"| {workers} | {wall:.1f} | {60 * args.seeds / wall:.1f} | {per_run:.2f} | {speedup} |")
    print()
    print(f"peak RSS of a worker: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
