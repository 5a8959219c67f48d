"""The Python API that notebooks, the CLI and experiments use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scslab.engine import run
from scslab.results import Result
from scslab.scenario import Scenario
from scslab.scenario import load_scenario as _load


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A preset by name (`"beijing-2020"`) or a scenario file by path."""
    return _load(name_or_path)


def simulate(
    scenario: Scenario | str | Path,
    seed: int = 1,
    progress: bool | Callable[[int, int], None] = False,
) -> Result:
    """Run `scenario` once with `seed`; `progress` shows a bar, or is called as `progress(day, days)`."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    from scslab.runner import day_bar

    with day_bar(scenario.name, scenario.params.days, 0, enabled=progress is True) as bar:
        on_day = progress if callable(progress) else bar
        out = run(scenario.params, seed, on_day, scenario.origin)
    return Result.from_run(scenario, seed, out)
