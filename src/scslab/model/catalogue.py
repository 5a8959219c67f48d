"""The metric catalogue: every figure a run reports, one row each (docs/model.md section 8).

A row gives the figure's name, whether it is a stock (read at the end of a day; the summary
keeps the last day's value) or a flow (the day's count; the summary keeps the run's sum),
whether it counts people or events and so scales to the real population, its label, how it
is shown, its place among the headline figures, a one-line description and its unit. A row
whose name holds `{tier}`, `{event}` or `{cause}` stands for one column per tier, event type
or blacklist cause. The daily table (`model.metrics`), the summary (`results`), the
experiments' figures and the report's labels all read these rows; the rows of sanction and
reward effects are declared by the effects (`model.effects`) and spliced in at `EFFECT_FLOWS`
and `EFFECT_STOCKS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from scslab.scenario.schema import CAUSES

if TYPE_CHECKING:
    from scslab.model.params import Compiled

Kind = Literal["stock", "flow"]
COUNT, SCORE, SHARE, RISK = "{:,.0f}", "{:,.1f}", "{:.1%}", "{:.3f}"
EXPANDS = ("tier", "event", "cause")


@dataclass(frozen=True)
class Metric:
    """One figure of a run (or one row standing for a column per tier, event type or cause)."""

    name: str
    kind: Kind
    scales: bool  # counts people or events: multiplied by the population's scale
    label: str  # a label with leading spaces is a sub-figure of the headline row above it
    description: str
    unit: str
    format: str = COUNT  # a str.format pattern for one value
    headline: float = 0  # place in a run's headline table (1 first; 2.1 between 2 and 3), 0 if not there
    experiment: float = 0  # place among the experiments' default metrics, 0 if not there
    counted: bool = False  # a flow counted during the day in `state.counters` under its name
    daily: bool = True  # False: a summary figure without a daily column
    # A count's variance over its mean, measured over seeds (bench/uncertainty.py): its interval is widened by it.
    dispersion: float = 1.0

    @property
    def expands(self) -> str | None:
        """What the row stands for one column each of ("tier", "event" or "cause"), else None."""
        return next((what for what in EXPANDS if f"{{{what}}}" in self.name), None)

    @property
    def prefix(self) -> str:
        """The names' common start, for a row that expands."""
        return self.name.split("{")[0]

    def columns(self, values: Sequence[str]) -> list[str]:
        """The column names of this row for the tiers, event types or causes `values`."""
        what = self.expands
        if what is None:
            return [self.name]
        return [self.name.replace(f"{{{what}}}", v) for v in values]


# Where the effects' rows go among the core rows.
EFFECT_FLOWS = "<effect flows>"
EFFECT_STOCKS = "<effect stocks>"


def _stock(
    name: str,
    label: str,
    description: str,
    unit: str = "citizens",
    headline: float = 0,
    experiment: float = 0,
    daily: bool = True,
    dispersion: float = 1.0,
) -> Metric:
    """A stock that counts (and so scales)."""
    return Metric(name, "stock", True, label, description, unit, headline=headline, experiment=experiment, daily=daily,
                  dispersion=dispersion)  # fmt: skip


def _flow(
    name: str,
    label: str,
    description: str,
    unit: str = "citizens",
    headline: float = 0,
    experiment: float = 0,
    counted: bool = False,
    daily: bool = True,
    dispersion: float = 1.0,
) -> Metric:
    """A flow that counts (and so scales)."""
    return Metric(name, "flow", True, label, description, unit, headline=headline, experiment=experiment,
                  counted=counted, daily=daily, dispersion=dispersion)  # fmt: skip


CORE: tuple[Metric | str, ...] = (
    Metric("score_mean", "stock", False, "Mean score at the end", "The mean score over all citizens.", "points",
           SCORE, headline=15, experiment=10),
    Metric("score_p10", "stock", False, "Score, 10th percentile", "The 10% quantile of the score.", "points", SCORE),
    Metric("score_p50", "stock", False, "Median score", "The median score.", "points", SCORE),
    Metric("score_p90", "stock", False, "Score, 90th percentile", "The 90% quantile of the score.", "points", SCORE),
    _stock("tier_{tier}", "Citizens in tier {tier}", "Citizens whose score is in the tier.", dispersion=2.2),
    _flow("events_{event}", "Events: {event}", "True events of the type (suppressed speech excluded).", "events",
          dispersion=24.0),
    _flow("detected_{event}", "Detected: {event}", "Events of the type that a data source detected.", "events",
          dispersion=8.5),
    _stock("blacklisted", "Blacklisted at the end", "Citizens on the blacklist.", headline=1, experiment=1,
           dispersion=1.4),
    _stock("blacklisted_{cause}", "Blacklisted for {cause}", "Citizens on the blacklist with this cause.",
           dispersion=2.6),
    _stock("blacklisted_wrongful", "  of whom wrongfully",
           "Listed citizens who would not be listed without errors and association.", headline=2, experiment=2,
           dispersion=2.6),
    _flow("ever_wrongfully_listed", "  wrongfully listed at some time",
          "Citizens whose listing was wrongful at the end of at least one day (from the listing log).",
          headline=2.1, experiment=2.1, daily=False, dispersion=2.5),
    _flow("wrongful_listing_days", "  wrongful listing-days",
          "Days spent wrongfully on the blacklist, summed over citizens (the run's sum of blacklisted_wrongful).",
          "citizen-days", headline=2.2, daily=False, dispersion=168.0),
    _flow("listings_new", "New listings", "Citizens put on the blacklist.", headline=4, experiment=5, counted=True,
          dispersion=1.3),
    _flow("appeals_won", "Appeals won", "Listed citizens taken off the blacklist on appeal.",
          headline=5, experiment=6, counted=True, dispersion=1.6),
    _flow("appeals_won_wrongful", "  of them by wrongful listings",
          "Appeals won by citizens whose listing was wrongful when it ended (from the listing log).",
          headline=5.1, experiment=6.1, daily=False, dispersion=1.6),
    EFFECT_FLOWS,
    _flow("ties_cut", "Ties cut", "Network ties cut to avoid association with a listed contact.", "ties",
          headline=14, counted=True, dispersion=9.0),
    _flow("political_events", "Political events", "True events of political types (suppressed speech excluded).",
          "events", headline=8, experiment=9, dispersion=2.1),
    Metric("chilling_effect", "flow", False, "Chilling effect",
           "Political events suppressed by surveillance: 1 - (events in the run) / (events in the baseline without "
           "surveillance, same seed), over the window after the burn-in (docs/uncertainty.md).", "share", SHARE,
           headline=8.1, experiment=9.1, daily=False),
    _flow("political_events_suppressed", "  political events suppressed",
          "Political events in the baseline minus those in the run, over the chilling effect's window.", "events",
          headline=8.2, daily=False),
    EFFECT_STOCKS,
    _stock("firms_blacklisted", "Firms blacklisted at the end", "Firms on the corporate blacklist.", "firms",
           headline=13),
    Metric("rho_mean", "stock", False, "Mean perceived risk", "The mean perceived risk of detection, rho.",
           "probability", RISK),
    _stock("ever_blacklisted", "Ever blacklisted", "Citizens listed at least once during the run.",
           headline=3, experiment=4, daily=False, dispersion=1.3),
    Metric("wrongful_share", "stock", False, "Wrongful share of the blacklisted",
           "blacklisted_wrongful / blacklisted at the end (0 with no one listed).", "share", SHARE,
           headline=16, experiment=3, daily=False),
)  # fmt: skip


class Catalogue:
    """The rows in column order, with lookups by concrete column name."""

    def __init__(self, rows: Iterable[Metric]) -> None:
        self.rows = tuple(rows)
        self.exact = {m.name: m for m in self.rows if m.expands is None}
        self.patterns = [m for m in self.rows if m.expands is not None]
        if len(self.exact) + len(self.patterns) != len(self.rows):
            raise ValueError("a metric is declared twice")

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.rows)

    def get(self, name: str) -> Metric | None:
        """The row of a column or summary figure, or None."""
        if name in self.exact:
            return self.exact[name]
        for m in self.patterns:
            if name.startswith(m.prefix) and (m.expands != "cause" or name[len(m.prefix) :] in CAUSES):
                return m
        return None

    def __getitem__(self, name: str) -> Metric:
        m = self.get(name)
        if m is None:
            raise KeyError(name)
        return m

    def describe(self, name: str) -> dict[str, Any]:
        """A figure's metadata (for summary.json, the report and the data dictionary), a pattern filled in.

        Keys: name, kind ("stock" or "flow"), scales, unit, label, description, format, daily.
        """
        m = self[name]
        what = m.expands
        value = name[len(m.prefix) :] if what else ""
        fill = (lambda text: text.replace(f"{{{what}}}", value)) if what else (lambda text: text)
        return {"name": name, "kind": m.kind, "scales": m.scales, "unit": m.unit, "label": fill(m.label).strip(),
                "description": fill(m.description), "format": m.format, "daily": m.daily}  # fmt: skip

    def columns(self, cp: Compiled) -> list[str]:
        """Every daily column of a run of `cp`, in order."""
        values = {"tier": cp.tier_names, "event": cp.events.names, "cause": CAUSES}
        return [c for m in self.rows if m.daily for c in m.columns(values.get(m.expands or "", ()))]

    def summary_only(self) -> tuple[str, ...]:
        """The summary's figures without a daily column."""
        return tuple(m.name for m in self.rows if not m.daily)

    def counted(self) -> tuple[str, ...]:
        """The flows counted during the day in `state.counters`, in column order."""
        return tuple(m.name for m in self.rows if m.counted)

    def headline(self) -> tuple[Metric, ...]:
        """The headline figures in the order of a run's headline table."""
        return tuple(sorted((m for m in self.rows if m.headline), key=lambda m: m.headline))

    def experiment_defaults(self) -> tuple[str, ...]:
        """The metrics experiments report by default, in their order."""
        return tuple(m.name for m in sorted((m for m in self.rows if m.experiment), key=lambda m: m.experiment))


def splice(core: Sequence[Metric | str], flows: Sequence[Metric], stocks: Sequence[Metric]) -> list[Metric]:
    """The core rows with the effects' flows and stocks in their places."""
    out: list[Metric] = []
    for row in core:
        if row == EFFECT_FLOWS:
            out += flows
        elif row == EFFECT_STOCKS:
            out += stocks
        else:
            assert isinstance(row, Metric)
            out.append(row)
    return out
