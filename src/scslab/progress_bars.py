"""Progress bars on the terminal (rich, on stderr): over a run's days, or over an experiment's runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Tick = Callable[[int, int], None]  # tick(done, total): days of a run, or runs of an experiment


@contextmanager
def day_bar(name: str, days: int, first: int, enabled: bool) -> Iterator[Tick | None]:
    """A bar over a run's days (starting at `first` on resume), or None when disabled."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(name, total=days, completed=first)
        yield lambda day, _: bar.update(task, completed=day)


@contextmanager
def runs_bar(enabled: bool, total: int | None = None) -> Iterator[Tick | None]:
    """A bar over runs (its total may come with the first tick), or None when disabled."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("runs", total=total)
        yield lambda done, total: bar.update(task, completed=done, total=total)
