"""A run's results: the daily time series, the end-of-run breakdowns, the summary, the listing
episodes, the people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from scslab.engine import DayCallback, Run
from scslab.errors import ScslabError
from scslab.model import effects, listings, trace
from scslab.model.metrics import catalogue
from scslab.model.sanctions import wrongful
from scslab.model.scoring import counterfactual
from scslab.model.state import State
from scslab.model.trace import TraceSpec, parse_trace
from scslab.scenario import Scenario
from scslab.scenario.schema import CAUSES, OCCUPATIONS
from scslab.version import __version__

AGE_BANDS = ("child", "adult", "senior")
TRACE_FILE = "trace.parquet"
SANCTIONS_FILE = "sanctions.parquet"
TraceLike = str | Sequence[int] | TraceSpec | None  # what `trace=` accepts (`model.trace.parse_trace`)
DIMENSIONS = ("group", "occupation", "income_q", "party_member")


def headline_figures() -> tuple[tuple[str, str, bool], ...]:
    """(label, summary key, scales to the real population) of each headline figure, in order."""
    return tuple((m.label, m.name, m.scales) for m in catalogue().headline())


# Citizens handled at a time by the end-of-run passes, so that their temporaries stay small.
CHUNK = 1 << 20


def _codes(state: State) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
    """Each breakdown dimension as small integer codes over citizens, with the label of each code."""
    pop = state.pop
    return {
        "group": (pop.group, ("majority", "minority")),
        "occupation": (pop.occupation, OCCUPATIONS),
        "income_q": (pop.income_q, ("", "q1", "q2", "q3", "q4", "q5")),
        "party_member": (pop.party_member, ("non-member", "member")),
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


def _ratio(b: pd.DataFrame, dim: str, num: str, den: str, col: str) -> float | None:
    rows = b[b["dimension"] == dim].set_index("value")
    if num not in rows.index or den not in rows.index or rows.at[den, col] == 0:
        return None
    return float(rows.at[num, col] / rows.at[den, col])


def disparities(b: pd.DataFrame) -> dict[str, float | None]:
    """Minority/majority and lowest/highest income quintile ratios of each share."""
    out: dict[str, float | None] = {}
    for share in ("blacklisted_share", "ever_blacklisted_share", "wrongful_share", "rewarded_share"):
        out[f"{share}_minority_to_majority"] = _ratio(b, "group", "minority", "majority", share)
        out[f"{share}_q1_to_q5"] = _ratio(b, "income_q", "q1", "q5", share)
    return out


def summarise(scenario: Scenario, seed: int, run: Run, ts: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    """Headline figures: end-of-run stocks, run totals, disparities, scaled counts, provenance."""
    p = scenario.params
    last = ts.iloc[-1]
    metrics = catalogue()
    figures: dict[str, float] = {}
    for col in ts.columns:
        if col == "day":
            continue
        figures[col] = float(last[col]) if metrics[col].kind == "stock" else float(ts[col].sum())
    figures["ever_blacklisted"] = float(run.state.ever_blacklisted.sum())
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
        "figures": figures,
        "scaled": {k: figures[k] * scale for k in counts},
        "disparities": disparities(b),
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
    state: State = field(repr=False)

    @classmethod
    def from_run(cls, scenario: Scenario, seed: int, run: Run) -> Result:
        cols = run.table.columns
        ts = pd.DataFrame(
            {"day": np.arange(run.table.days_done)} | {k: v[: run.table.days_done] for k, v in cols.items()}
        )
        b = breakdowns(run.state)
        return cls(scenario, seed, ts, b, summarise(scenario, seed, run, ts, b), run.state)

    @property
    def profile(self) -> dict[str, float]:
        """Seconds spent in each phase (population build included)."""
        return dict(self.summary["profile_seconds"])

    @cached_property
    def people(self) -> pd.DataFrame:
        """One row per citizen at the end of the run."""
        s = self.state
        pop = s.pop
        cause = np.asarray(("", *CAUSES), dtype=object)[s.cause.astype(np.int64) + 1]
        return pd.DataFrame(
            {
                "score": s.score,
                "tier": pd.Categorical.from_codes(s.tier, s.cp.tier_names),
                "own": s.own,
                "misattributed": s.misattributed,
                "association": s.association,
                "merit": s.merit,
                "counterfactual_score": counterfactual(s, np.arange(s.n)),
                "blacklisted": s.blacklist.member,
                "blacklist_cause": pd.Categorical(cause, categories=("", *CAUSES)),
                "wrongful": wrongful_mask(s),
                "ever_blacklisted": s.ever_blacklisted,
                "group": pop.group,
                "occupation": pd.Categorical.from_codes(pop.occupation, OCCUPATIONS),
                "age_band": pd.Categorical.from_codes(pop.age_band, AGE_BANDS),
                "income_q": pop.income_q,
                "party_member": pop.party_member,
                "district": pop.district,
                "household": pop.household,
                "firm": pop.firm,
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
        return self.state.listings.table()

    @property
    def traced(self) -> bool:
        """Whether the run traced anyone (`trace=`): then it has trace.parquet and sanctions.parquet."""
        return self.state.trace is not None

    @cached_property
    def charges(self) -> pd.DataFrame:
        """Every ledger row of the traced citizens, in the order posted (trace.parquet; docs/model.md,
        "The trace"); empty, with its columns, when nobody was traced."""
        return trace.frame(self.charges_table())

    def charges_table(self) -> pa.Table:
        """trace.parquet's table (`model.trace.CHARGE_SCHEMA`)."""
        return trace.charge_table(self.state)

    @cached_property
    def sanctions(self) -> pd.DataFrame:
        """Every sanction and reward the traced citizens felt, with its day (sanctions.parquet); empty, with
        its columns, when nobody was traced."""
        return trace.frame(self.sanctions_table())

    def sanctions_table(self) -> pa.Table:
        """sanctions.parquet's table (`model.trace.SANCTION_SCHEMA`)."""
        return trace.sanction_table(self.state)

    def has_case(self, citizen: int) -> bool:
        """Whether the run's trace holds `citizen`'s rows (`case` gives their case file)."""
        tr = self.state.trace
        c = int(citizen)
        if tr is None or not 0 <= c < self.state.n or not tr.mask[c]:
            return False
        return tr.kind != "listed" or bool(self.state.ever_blacklisted[c])

    def drop_trace(self) -> None:
        """Forget the trace (a run that traced only for its report's cases writes no trace files)."""
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
        context = Context.of(self.scenario.params, self.seed, str(self.summary["scslab_version"]))
        return CaseFile.build(c, person_frame(self.state, [c]), self.charges, self.listings, self.sanctions, context,
                              provenance="the run's own trace")  # fmt: skip

    def headline(self) -> pd.DataFrame:
        """The headline figures, simulated and scaled to the real population (and their metric names)."""
        f = self.summary["figures"]
        scale = self.summary["scale"]
        rows = [
            (label, f[key], f[key] * scale if scaled else f[key], key)
            for label, key, scaled in headline_figures()
            if key in f
        ]
        return pd.DataFrame(rows, columns=["figure", "simulated", "scaled", "metric"])

    def write_files(self, directory: Path, people: bool = False) -> None:
        """Write the run's files into an existing `directory`."""
        self.timeseries.to_parquet(directory / "timeseries.parquet", index=False)
        self.breakdowns.to_parquet(directory / "breakdowns.parquet", index=False)
        pq.write_table(self.listings_table(), directory / "listings.parquet")
        if self.traced:
            pq.write_table(self.charges_table(), directory / TRACE_FILE)
            pq.write_table(self.sanctions_table(), directory / SANCTIONS_FILE)
        (directory / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str) + "\n")
        (directory / "scenario.toml").write_text(self.scenario.to_toml())
        if people:
            self.people.to_parquet(directory / "people.parquet", index=False)

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
