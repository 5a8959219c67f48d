"""A run's results: the daily time series, the end-of-run breakdowns, the summary, the listing
episodes, the people."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from scslab import engine
from scslab.atomic import new_directory
from scslab.cases import CaseFile, Context, person_frame
from scslab.display import frame_table
from scslab.engine import DayCallback, Run
from scslab.errors import ScslabError
from scslab.model import effects, listings, trace
from scslab.model.metrics import catalogue
from scslab.model.sanctions import wrongful
from scslab.model.scoring import counterfactual
from scslab.model.state import State
from scslab.model.trace import TraceSpec, parse_trace
from scslab.outputs import (
    BREAKDOWNS,
    GROUPS,
    INCOME_QUINTILES,
    PARTY,
    PEOPLE,
    district_labels,
    integral,
    metric_columns,
    write_table,
)
from scslab.outputs import timeseries as timeseries_output
from scslab.scenario import Scenario, load_scenario
from scslab.scenario.schema import AGE_BANDS, CAUSES, OCCUPATIONS
from scslab.uncertainty import disparity, figure_values, figures_block, wrongful_totals
from scslab.version import __version__

RUN_FILES = ("summary.json", "timeseries.parquet", "breakdowns.parquet", "scenario.toml")  # what from_dir needs
DIMENSIONS = ("group", "occupation", "income_q", "party_member", "district")
TRACE_FILE = "trace.parquet"
SANCTIONS_FILE = "sanctions.parquet"
TraceLike = str | Sequence[int] | TraceSpec | None  # what `trace=` accepts (`model.trace.parse_trace`)


def headline_figures() -> tuple[tuple[str, str, bool], ...]:
    """(label, summary key, scales to the real population) of each headline figure, in order."""
    return tuple((m.label, m.name, m.scales) for m in catalogue().headline())


# Citizens handled at a time by the end-of-run passes, so that their temporaries stay small.
CHUNK = 1 << 20


def _codes(state: State) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """Each breakdown dimension as small integer codes over citizens, with the label of each code."""
    pop = state.pop
    return {
        "group": (pop.group, GROUPS),
        "occupation": (pop.occupation, OCCUPATIONS),
        "income_q": (pop.income_q - np.int8(1), INCOME_QUINTILES),
        "party_member": (pop.party_member.view(np.int8), PARTY),
        "district": (pop.district, district_labels(state.cp.p.population.districts)),
    }


def rewarded(state: State) -> np.ndarray:
    """Citizens holding any reward at the end of the run."""
    hit = np.zeros(state.n, dtype=bool)
    for lo in range(0, state.n, CHUNK):
        ids = np.arange(lo, min(lo + CHUNK, state.n))
        for effect in effects.REGISTRY:
            if effect.holds is not None:
                hit[ids] |= effect.holds(state, ids)
    return hit


def wrongful_mask(state: State) -> np.ndarray:
    """Citizens wrongfully on the blacklist at the end."""
    mask = np.zeros(state.n, dtype=bool)
    listed = state.blacklist.ids()
    mask[listed] = wrongful(state, listed)
    return mask


def _sum_by(code: np.ndarray, values: np.ndarray | None, n_codes: int) -> np.ndarray:
    """Per code, the number of citizens (`values` None) or the sum of `values`, chunk by chunk."""
    out = np.zeros(n_codes)
    for lo in range(0, code.size, CHUNK):
        c = code[lo : lo + CHUNK].astype(np.intp)
        w = None if values is None else values[lo : lo + CHUNK].astype(np.float64)
        out += np.bincount(c, weights=w, minlength=n_codes)
    return out


def breakdowns(state: State) -> pd.DataFrame:
    """Shares blacklisted, wrongful and rewarded, and the mean score, by each dimension.

    One row per value present, in the order of the values' labels.
    """
    columns = {
        "blacklisted": state.blacklist.member,
        "ever_blacklisted": state.ever_blacklisted,
        "wrongful": wrongful_mask(state),
        "rewarded": rewarded(state),
    }
    scale = state.cp.p.population.scale
    parts = []
    for dim, (code, labels) in _codes(state).items():
        citizens = _sum_by(code, None, len(labels))
        part = pd.DataFrame({"citizens": citizens.astype(np.int64)}, index=list(labels))
        for name, mask in columns.items():
            part[name] = _sum_by(code, mask, len(labels)).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            part["score_mean"] = _sum_by(code, state.score, len(labels)) / citizens
        part = part[part["citizens"] > 0].sort_index()
        for col in columns:
            part[f"{col}_share"] = part[col] / part["citizens"]
        part["citizens_scaled"] = part["citizens"] * scale
        part.insert(0, "value", part.index.astype(str))
        part.insert(0, "dimension", dim)
        parts.append(part.reset_index(drop=True))
    return pd.concat(parts, ignore_index=True)


def disparities(b: pd.DataFrame) -> dict[str, dict[str, Any] | None]:
    """Minority/majority and lowest/highest income quintile ratios of each share, with Katz's interval and the
    counts behind them (None where undefined)."""
    out: dict[str, dict[str, Any] | None] = {}
    for share in ("blacklisted_share", "ever_blacklisted_share", "wrongful_share", "rewarded_share"):
        column = share.removesuffix("_share")
        out[f"{share}_minority_to_majority"] = disparity(b, "group", "minority", "majority", column)
        out[f"{share}_q1_to_q5"] = disparity(b, "income_q", "q1", "q5", column)
    return out


def daily_table(scenario: Scenario, run: Run) -> pd.DataFrame:
    """timeseries.parquet's frame: the day, its date, then each metric (counts as integers)."""
    days = run.table.days_done
    metrics = catalogue()
    start = pd.Timestamp(scenario.params.start_date)
    dates = pd.date_range(start, periods=days, freq="D").date  # datetime.date objects, as pd.read_parquet gives
    frame = {"day": np.arange(days, dtype=np.int64), "date": dates}
    for name, values in run.table.columns.items():
        frame[name] = integral(values[:days]) if metrics[name].scales else values[:days]
    return pd.DataFrame(frame)


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario.toml's bytes, as the run folder holds them."""
    return hashlib.sha256(scenario.to_toml().encode("utf-8")).hexdigest()


def summarise(scenario: Scenario, seed: int, run: Run, ts: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    """Headline figures: end-of-run stocks, run totals, disparities, scaled counts, provenance."""
    p = scenario.params
    last = ts.iloc[-1]
    metrics = catalogue()
    figures: dict[str, float] = {}
    for col in metric_columns(ts.columns):
        value = last[col] if metrics[col].kind == "stock" else ts[col].sum()
        figures[col] = int(value) if metrics[col].scales else float(value)  # counts are integers
    figures["ever_blacklisted"] = int(run.state.ever_blacklisted.sum())
    figures |= wrongful_totals(run.state.listings.table(), run.table.days_done)
    figures["wrongful_share"] = (
        figures["blacklisted_wrongful"] / figures["blacklisted"] if figures["blacklisted"] else 0.0
    )
    scale = p.population.scale
    counts = [k for k in figures if metrics[k].scales]
    return {
        "scenario": p.name,
        "description": p.description,
        "origin": scenario.origin,
        "seed": seed,
        "scslab_version": __version__,
        "population_size": p.population.size,
        "real_size": p.population.real_size or p.population.size,
        "scale": scale,
        "days": p.days,
        "start_date": p.start_date.isoformat(),
        "figures": figures_block(figures, run.state.score),
        "scaled": {k: figures[k] * scale for k in counts},
        "disparities": disparities(b),
        "overrides": dict(scenario.overrides),
        "scenario_hash": scenario_hash(scenario),
        "wall_seconds": run.wall_seconds,
        "profile_seconds": run.profile,
    }


@dataclass
class Result:
    """One run of one scenario with one seed."""

    scenario: Scenario
    seed: int
    timeseries: pd.DataFrame
    breakdowns: pd.DataFrame
    summary: dict[str, Any]
    state: State | None = field(default=None, repr=False)  # None for a run read back from its folder
    directory: Path | None = None  # the folder it was read from (`from_dir`)

    @classmethod
    def from_dir(cls, directory: str | Path) -> Result:
        """A run folder read back: its scenario, tables and summary (people and listings read when asked for),
        without the full state (which only a run in memory, or a checkpoint, holds)."""
        root = Path(directory)
        for name in RUN_FILES:
            if not (root / name).is_file():
                raise ScslabError(f"{root / name}: file not found (allowed: a folder written by `scslab run`)")
        try:
            summary = json.loads((root / "summary.json").read_text("utf-8"))
            ts = pd.read_parquet(root / "timeseries.parquet")
            b = pd.read_parquet(root / "breakdowns.parquet")
        except (OSError, ValueError) as exc:
            raise ScslabError(f"{root}: cannot be read: {str(exc).splitlines()[0][:200]}") from exc
        scenario = load_scenario(root / "scenario.toml")
        scenario = replace(scenario, origin=str(summary.get("origin", scenario.origin)),
                           overrides=dict(summary.get("overrides", {})))  # as the run had them
        return cls(scenario, int(summary["seed"]), ts, b, summary, None, root)

    def __repr__(self) -> str:
        s = self.summary
        where = "in memory" if self.directory is None else f"read from {self.directory}"
        return (f"<Result {s['scenario']!r} seed {s['seed']}: {s['population_size']:,} citizens, {s['days']} days, "
                f"{where}; see .headline(), .timeseries, .breakdowns, .listings, .people>")  # fmt: skip

    def _repr_html_(self) -> str:
        s = self.summary
        head = self.headline()
        title = (f"scslab run of {s['scenario']}, seed {s['seed']}: {s['population_size']:,} simulated citizens "
                 f"standing for {s['real_size']:,}, {s['days']} days from {s['start_date']}")  # fmt: skip
        note = "scaled: the simulated count times the scale, " + f"{s['scale']:,.1f}" + (
            "" if self.directory is None else f"; read from {self.directory}")  # fmt: skip
        return frame_table(title, head.drop(columns=[c for c in ("metric",) if c in head]), note)

    @classmethod
    def from_run(cls, scenario: Scenario, seed: int, run: Run) -> Result:
        ts = daily_table(scenario, run)
        b = breakdowns(run.state)
        return cls(scenario, seed, ts, b, summarise(scenario, seed, run, ts, b), run.state)

    @property
    def profile(self) -> dict[str, float]:
        """Seconds spent in each phase (population build included)."""
        return dict(self.summary["profile_seconds"])

    @cached_property
    def people(self) -> pd.DataFrame:
        """One row per citizen at the end of the run (people.parquet's columns)."""
        if self.state is None:
            return self._read("people.parquet", "saved without --save-people (people=True)")
        s = self.state
        pop = s.pop
        categories = _codes(s)
        return pd.DataFrame(
            {
                "citizen": np.arange(s.n, dtype=np.int64),
                "score": s.score,
                "tier": pd.Categorical.from_codes(s.tier, s.cp.tier_names),
                "own": s.own,
                "misattributed": s.misattributed,
                "association": s.association,
                "merit": s.merit,
                "counterfactual_score": counterfactual(s, np.arange(s.n)),
                "blacklisted": s.blacklist.member,
                "blacklist_cause": pd.Categorical.from_codes(s.cause, CAUSES),  # -1 (not listed): null
                "wrongful": wrongful_mask(s),
                "ever_blacklisted": s.ever_blacklisted,
                **{dim: pd.Categorical.from_codes(*categories[dim]) for dim in ("group", "occupation")},
                "age_band": pd.Categorical.from_codes(pop.age_band, AGE_BANDS),
                **{dim: pd.Categorical.from_codes(*categories[dim]) for dim in ("income_q", "party_member")},
                "district": pd.Categorical.from_codes(*categories["district"]),
                "household": pop.household,
                "firm": pd.arrays.IntegerArray(pop.firm, pop.firm < 0),  # no employer: null
                "degree_family": s.active_degree["family"],
                "degree_work": s.active_degree["work"],
                "degree_friends": s.active_degree["friends"],
            }
        )

    @cached_property
    def listings(self) -> pd.DataFrame:
        """One row per listing episode (listings.parquet; docs/model.md, "The listing log")."""
        return listings.frame(self.listings_table())

    def listings_table(self) -> pa.Table:
        """listings.parquet's table (`model.listings.SCHEMA`)."""
        if self.state is None:
            return pq.read_table(self._file("listings.parquet", "saved before the listing log")).cast(listings.SCHEMA)
        return self.state.listings.table()

    def _file(self, name: str, why: str) -> Path:
        """A file of the folder this result was read from, or a one-line error saying why it is not there."""
        path = (self.directory or Path()) / name
        if not path.is_file():
            raise ScslabError(f"{path}: file not found: the run was {why}; a run read back has only its files")
        return path

    def _read(self, name: str, why: str) -> pd.DataFrame:
        return pd.read_parquet(self._file(name, why))

    @property
    def traced(self) -> bool:
        """Whether the run traced anyone (`trace=`): then it has trace.parquet and sanctions.parquet."""
        if self.state is None:
            return (self.directory or Path()).joinpath(TRACE_FILE).is_file()
        return self.state.trace is not None

    @cached_property
    def charges(self) -> pd.DataFrame:
        """Every ledger row of the traced citizens, in the order posted (trace.parquet; docs/model.md,
        "The trace"); empty, with its columns, when nobody was traced."""
        return trace.frame(self.charges_table())

    def charges_table(self) -> pa.Table:
        """trace.parquet's table (`model.trace.CHARGE_SCHEMA`)."""
        if self.state is None:
            return self._saved_trace(TRACE_FILE, trace.CHARGE_SCHEMA)
        return trace.charge_table(self.state)

    @cached_property
    def sanctions(self) -> pd.DataFrame:
        """Every sanction and reward the traced citizens felt, with its day (sanctions.parquet); empty, with
        its columns, when nobody was traced."""
        return trace.frame(self.sanctions_table())

    def sanctions_table(self) -> pa.Table:
        """sanctions.parquet's table (`model.trace.SANCTION_SCHEMA`)."""
        if self.state is None:
            return self._saved_trace(SANCTIONS_FILE, trace.SANCTION_SCHEMA)
        return trace.sanction_table(self.state)

    def _saved_trace(self, name: str, schema: pa.Schema) -> pa.Table:
        """A trace file of the folder this result was read from (empty, with `schema`, when the run traced nobody)."""
        path = (self.directory or Path()) / name
        return pq.read_table(path).cast(schema) if path.is_file() else schema.empty_table()

    def has_case(self, citizen: int) -> bool:
        """Whether the run's trace holds `citizen`'s rows (`case` gives their case file)."""
        return bool(self.with_case(np.array([int(citizen)], dtype=np.int64)).size)

    def with_case(self, citizens: np.ndarray) -> np.ndarray:
        """Those of `citizens` whose rows the run's trace holds, in their order."""
        c = np.asarray(citizens, dtype=np.int64)
        if self.state is None or self.state.trace is None:
            return c[:0]  # (a run read back has no population to tell who they are: scslab.explain replays it)
        tr, n = self.state.trace, self.state.n
        c = c[(c >= 0) & (c < n)]
        held = tr.mask[c]
        if tr.kind == "listed":
            held &= self.state.ever_blacklisted[c]
        return c[held]

    def drop_trace(self) -> None:
        """Forget the trace (a run that traced only for its report's cases writes no trace files)."""
        if self.state is not None:
            self.state.trace = None
        for name in ("charges", "sanctions"):
            self.__dict__.pop(name, None)

    def case(self, citizen: int) -> CaseFile:
        """The case file of a traced `citizen` (scslab.cases): who, each charge and its cause, the listings and
        the sanctions felt. A citizen the run did not trace is refused (`scslab.explain` replays a finished run
        with anyone traced)."""
        c = int(citizen)
        if not self.has_case(c):
            raise ScslabError(f"citizen {citizen}: not traced in this run (allowed: a citizen it traced; "
                              f"scslab.explain(RUN_DIR, {citizen}) replays a finished run to trace anyone)")
        assert self.state is not None  # (has_case)
        context = Context.of(self.scenario.params, self.seed, str(self.summary["scslab_version"]))
        return CaseFile.build(c, person_frame(self.state, [c]), self.charges, self.listings, self.sanctions, context,
                              provenance="the run's own trace")  # fmt: skip

    @property
    def figures(self) -> dict[str, float]:
        """Each figure's value (simulated units), flat; `summary["figures"]` has their intervals too."""
        return figure_values(self.summary)

    def headline(self) -> pd.DataFrame:
        """The headline figures, simulated and scaled to the real population (and their metric names)."""
        f = self.figures
        scale = self.summary["scale"]
        rows = [
            (label, f[key], f[key] * scale if scaled else f[key], key)
            for label, key, scaled in headline_figures()
            if key in f
        ]
        return pd.DataFrame(rows, columns=["figure", "simulated", "scaled", "metric"])

    def write_files(self, directory: Path, people: bool = False) -> None:
        """Write the run's files into an existing `directory`."""
        write_table(self.timeseries, timeseries_output(), directory / "timeseries.parquet")
        write_table(self.breakdowns, BREAKDOWNS, directory / "breakdowns.parquet")
        pq.write_table(self.listings_table(), directory / "listings.parquet")
        if self.traced:
            pq.write_table(self.charges_table(), directory / TRACE_FILE)
            pq.write_table(self.sanctions_table(), directory / SANCTIONS_FILE)
        (directory / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str) + "\n")
        (directory / "scenario.toml").write_text(self.scenario.to_toml())
        if people:
            write_table(self.people, PEOPLE, directory / "people.parquet")

    def save(self, directory: str | Path, people: bool = False) -> Path:
        """Write the run's files into `directory`, which appears complete or not at all."""
        with new_directory(directory) as staging:
            self.write_files(staging, people)
        return Path(directory)


def simulate(scenario: Scenario, seed: int, on_day: DayCallback | None = None, trace: TraceLike = None) -> Result:
    """Run `scenario` once with `seed`, in memory; `on_day(day, days)` is called after each day; `trace`
    (`listed`, `all`, `panel:N`, `ids:FILE`, or citizen ids) records those citizens' charges and sanctions."""
    spec = parse_trace(trace)
    run = engine.run(scenario.params, seed, on_day, scenario.origin, trace=spec)
    return Result.from_run(scenario, seed, run)
