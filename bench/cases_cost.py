"""What case files cost (bench/README.md, "Case files"): `explain` of one citizen against the run itself, and
the report's Cases section against the same report without it.

    PYTHONPATH=src .venv/bin/python bench/cases_cost.py [--pairs 3] [--size N]

Each round, in turn: the default run written as `scslab run --no-report` does (`run`); `explain` of one
citizen of that run's folder (the replay, its byte-for-byte check and the case file: `explain`); the run with
its report but no Cases section (`report`, the section's trace and cases switched off); and the run as
`scslab run` makes it, with the Cases section (`report+cases`). The kernels are compiled by a first short
run that is not timed. Prints each round and the ratios of the means.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scslab
from scslab import api, runner
from scslab.cases import pick

CPU: dict[str, list[float]] = {}


def timed(name: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """The wall seconds and the value of `work(*args, **kwargs)`; its CPU seconds (every thread) go to CPU[name]."""
    start, cpu = time.perf_counter(), time.process_time()
    value = work(*args, **kwargs)
    CPU.setdefault(name, []).append(time.process_time() - cpu)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--size", type=int, default=0, help="population.size (default: the preset's)")
    args = parser.parse_args()
    sc = scslab.load_scenario("beijing-2020")
    if args.size:
        sc = sc.with_overrides({"population.size": args.size})
    api.simulate(sc.with_overrides({"days": 5}), 1)  # compile the kernels
    report_trace, report_cases = runner.report_trace, runner.report_cases
    times: dict[str, list[float]] = {"run": [], "explain": [], "report": [], "report+cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.pairs):
            folder = Path(tmp) / f"run{k}"
            wall, result = timed("run", api.run, sc, 1, folder, report=False)
            times["run"].append(wall)
            citizen = pick(result.listings, "wrongful", 1, 1)
            times["explain"].append(timed("explain", api.explain_run, folder, citizen)[0])
            runner.report_trace, runner.report_cases = (lambda job: None), (lambda result: ([], False))
            try:
                times["report"].append(timed("report", api.run, sc, 1, Path(tmp) / f"report{k}")[0])
            finally:
                runner.report_trace, runner.report_cases = report_trace, report_cases
            times["report+cases"].append(timed("report+cases", api.run, sc, 1, Path(tmp) / f"cases{k}")[0])
            print(f"round {k + 1}: " + ", ".join(f"{name} {t[-1]:.2f} s (cpu {CPU[name][-1]:.2f} s)"
                                                  for name, t in times.items()), flush=True)  # fmt: skip
    for label, table in (("wall", times), ("cpu", CPU)):
        mean = {name: statistics.mean(t) for name, t in table.items()}
        print(f"{label} means: " + ", ".join(f"{name} {m:.2f} s" for name, m in mean.items()))
        print(f"{label} explain / run: {mean['explain'] / mean['run']:.3f}; report+cases / report: "
              f"{mean['report+cases'] / mean['report']:.3f}")


if __name__ == "__main__":
    main()
