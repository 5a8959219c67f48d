"""Progress bars on the terminal (rich, on stderr): over a run's days, or over an experiment's runs.

In Jupyter rich draws its bar in an ipywidgets output (the `notebook` extra); without ipywidgets, where
rich would warn, a plain line of text on stderr counts instead.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Tick = Callable[[int, int], None]  # tick(done, total): days of a run, or runs of an experiment
STEPS = 20  # the plain bar writes its line at most this many times


def plain_bar_needed(console: Console) -> bool:
    """Whether `console` is a notebook's in which rich cannot draw a live bar (no ipywidgets)."""
    return console.is_jupyter and importlib.util.find_spec("ipywidgets") is None


def plain_tick(label: str, unit: str, total: int | None) -> Tick:
    """A bar as one line of text on stderr, rewritten at most STEPS times."""
    last = [-1]

    def tick(done: int, of: int | None = total) -> None:
        of = of or total or 0
        step = done * STEPS // of if of else 0
        if step != last[0] or done == of:
            last[0] = step
            print(f"\r{label}: {done:,} of {of:,} {unit}", end="\n" if done >= of else "", file=sys.stderr, flush=True)

    return tick


@contextmanager
def day_bar(name: str, days: int, first: int, enabled: bool) -> Iterator[Tick | None]:
    """A bar over a run's days (starting at `first` on resume), or None when disabled."""
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    if plain_bar_needed(console):
        yield plain_tick(name, "days", days)
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(name, total=days, completed=first)
        yield lambda day, _: bar.update(task, completed=day)


@contextmanager
def runs_bar(enabled: bool, total: int | None = None) -> Iterator[Tick | None]:
    """A bar over runs (its total may come with the first tick), or None when disabled."""
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    if plain_bar_needed(console):
        yield plain_tick("runs", "runs", total)
        return
    columns = (TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("runs", total=total)
        yield lambda done, total: bar.update(task, completed=done, total=total)
