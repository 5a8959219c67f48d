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
    if callable(progress):
        return Result.from_run(scenario, seed, run(scenario.params, seed, progress, scenario.origin))
    if not progress:
        return Result.from_run(scenario, seed, run(scenario.params, seed, None, scenario.origin))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(scenario.name, total=scenario.params.days)
        out = run(scenario.params, seed, lambda day, days: bar.update(task, completed=day), scenario.origin)
    return Result.from_run(scenario, seed, out)
