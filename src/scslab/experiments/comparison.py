"""Two scenarios run over the same seeds, with common random numbers by default (report/compare.py shows them).

With `crn=True` both scenarios make the same random draws for everyone whose rates they
leave alike (MODEL.md section 9), so the difference of each seed's pair of runs is the
policy's effect rather than noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from scslab.errors import ScslabError
from scslab.experiments.baseline import simulate_baseline
from scslab.experiments.store import RunCallback
from scslab.report.compare import SERIES, SIDES, Comparison
from scslab.results import simulate
from scslab.scenario import Scenario, load_scenario
from scslab.uncertainty import add_chilling


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
    baseline: bool = True,
) -> Comparison:
    """Run A and B with seeds first_seed .. first_seed+seeds-1; `overrides` apply to both; with `baseline`, each
    run also without surveillance, for the chilling effect."""
    if seeds < 1:
        raise ScslabError(f"--seeds: {seeds} (allowed: an integer of at least 1)")
    if first_seed < 0:
        raise ScslabError(f"--first-seed: {first_seed} (allowed: an integer of at least 0)")
    pair = prepare(a, overrides, crn), prepare(b, overrides, crn)
    figures, series = [], []
    done, total = 0, 2 * seeds
    for seed in range(first_seed, first_seed + seeds):
        for side, scenario in zip(SIDES, pair, strict=True):
            result = simulate(scenario, seed)
            if baseline:
                add_chilling(result.summary, result.timeseries, simulate_baseline(scenario, seed), scenario.params)
            figures.append({"side": side, "seed": seed, **result.figures})
            ts = result.timeseries
            series.append(ts[["day", *(c for c, _, _ in SERIES if c in ts)]].assign(side=side, seed=seed))
            done += 1
            if on_run is not None:
                on_run(done, total)
    return Comparison(
        pair[0],
        pair[1],
        tuple(range(first_seed, first_seed + seeds)),
        crn,
        pd.DataFrame(figures),
        pd.concat(series, ignore_index=True),
    )
