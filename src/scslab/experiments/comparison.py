"""Two scenarios run over the same seeds, with common random numbers by default (report/compare.py shows them).

With `crn=True` both scenarios make the same random draws for everyone whose rates they
leave alike (docs/model.md section 9), so the difference of each seed's pair of runs is the
policy's effect rather than noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import ScslabError
from scslab.experiments.executors import BaseScenario, LocalExecutor, RunOutput, Task
from scslab.experiments.store import RunCallback
from scslab.report.compare import SERIES, SIDES, Comparison
from scslab.scenario import Scenario, load_scenario
from scslab.uncertainty import figure_values


def prepare(scenario: Scenario | str | Path, overrides: Mapping[str, Any] | None, crn: bool) -> Scenario:
    """A scenario loaded if need be, with the common overrides and `crn` set."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if overrides:
        sc = sc.with_overrides(overrides)
    return sc.with_overrides({"crn": crn})


def compare(
    a: Scenario | str | Path,
    b: Scenario | str | Path,
    seeds: int = 10,
    overrides: Mapping[str, Any] | None = None,
    crn: bool = True,
    first_seed: int = 1,
    on_run: RunCallback | None = None,
    workers: int | None = 0,
    baseline: bool = True,
) -> Comparison:
    """Run A and B with seeds first_seed .. first_seed+seeds-1; `overrides` apply to both; with `baseline`, each
    run also without surveillance, for the chilling effect.

    `workers` processes run them (0, the default: in this process; None: one per core); the result is the
    same whatever the number."""
    if seeds < 1:
        raise ScslabError(f"--seeds: {seeds} (allowed: an integer of at least 1)")
    if first_seed < 0:
        raise ScslabError(f"--seed: {first_seed} (allowed: an integer of at least 0)")
    if workers is not None and workers < 0:
        raise ScslabError(f"--workers: {workers} (allowed: 0 for this process, or a number of processes)")
    pair = prepare(a, overrides, crn), prepare(b, overrides, crn)
    seed_range = range(first_seed, first_seed + seeds)
    tasks = [Task(i, seed) for i, seed in enumerate(seed_range)]
    outputs: dict[tuple[str, int], RunOutput] = {}
    with LocalExecutor(workers) as executor:
        for side, scenario in zip(SIDES, pair, strict=True):
            for outcome in executor.run(tasks, BaseScenario.of(scenario, baseline)):
                if outcome.output is None:
                    raise ScslabError(f"compare: the run of {side} with seed {outcome.task.seed} failed: "
                                      f"{outcome.error}")  # fmt: skip
                outputs[side, outcome.task.seed] = outcome.output
                if on_run is not None:
                    on_run(len(outputs), 2 * seeds)
    figures, series = [], []
    for seed in seed_range:
        for side in SIDES:
            output = outputs[side, seed]
            figures.append({"side": side, "seed": seed, **figure_values(output.summary)})
            ts = output.timeseries
            series.append(ts[["day", *(c for c, _, _ in SERIES if c in ts)]].assign(side=side, seed=seed))
    return Comparison(pair[0], pair[1], tuple(seed_range), crn, pd.DataFrame(figures),
                      pd.concat(series, ignore_index=True))  # fmt: skip
