"""Hand-made populations and minimal scenarios, so model tests can derive expected values exactly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from scslab import engine
from scslab.engine import Run, run
from scslab.model.draws import Draws
from scslab.model.metrics import MetricTable
from scslab.model.params import compile_params
from scslab.model.state import State, initial_state
from scslab.model.surveillance import Charges
from scslab.population.types import AGE_ADULT, EMPLOYEE, Layer, Population
from scslab.scenario.schema import ScenarioParams


def layer(name: str, n: int, u: np.ndarray | None = None, v: np.ndarray | None = None) -> Layer:
    """A CSR layer over `n` citizens from undirected edges (u[k], v[k])."""
    u = np.asarray([] if u is None else u, dtype=np.int64)
    v = np.asarray([] if v is None else v, dtype=np.int64)
    keys = np.unique(np.concatenate([u * n + v, v * n + u]))
    rows, cols = keys // n, keys % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Layer(name, indptr, cols.astype(np.int32))


def population(
    n: int,
    *,
    occupation: int | np.ndarray = EMPLOYEE,
    age_band: int | np.ndarray = AGE_ADULT,
    group: int | np.ndarray = 0,
    income_q: int | np.ndarray = 3,
    party_member: bool | np.ndarray = False,
    district: int | np.ndarray = 0,
    household: np.ndarray | None = None,
    firm: np.ndarray | None = None,
    firm_rep: np.ndarray | None = None,
    firm_sector: np.ndarray | None = None,
    edges: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Population:
    """A population with the given attributes (scalars broadcast) and explicit ties."""

    def col(value: Any, dtype: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()

    edges = edges or {}
    firm = np.full(n, -1, dtype=np.int32) if firm is None else firm.astype(np.int32)
    n_firms = int(firm.max()) + 1 if firm.size and firm.max() >= 0 else 0
    return Population(
        age_band=col(age_band, np.int8),
        group=col(group, np.int8),
        occupation=col(occupation, np.int8),
        party_member=col(party_member, bool),
        income_q=col(income_q, np.int8),
        district=col(district, np.int32),
        household=np.arange(n, dtype=np.int32) if household is None else household.astype(np.int32),
        firm=firm,
        firm_sector=np.zeros(n_firms, dtype=np.int8) if firm_sector is None else firm_sector.astype(np.int8),
        firm_size=np.bincount(firm[firm >= 0], minlength=n_firms).astype(np.int32),
        firm_rep=np.full(n_firms, -1, dtype=np.int32) if firm_rep is None else firm_rep.astype(np.int32),
        layers={name: layer(name, n, *edges.get(name, (None, None))) for name in ("family", "work", "friends")},
    )


def scenario(n: int, days: int, **sections: Any) -> ScenarioParams:
    """A minimal scenario: one camera source with coverage 1, no events unless given, no feedback."""
    base: dict[str, Any] = {
        "name": "test",
        "days": days,
        "population": {"size": n},
        "sources": {"cameras": {"coverage": 1.0}},
        "feedback": {"rho0": 0.0, "eta": 0.0, "gamma": 0.0, "psi": 0.0, "tie_cut_rate": 0.0},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return ScenarioParams.model_validate(base)


def offence(**fields: Any) -> dict[str, Any]:
    """An event type's table: rate 0 (it never happens unless given), -10 points, seen by the
    cameras; `fields` add to or override these."""
    return {"rate": 0.0, "points": -10.0, "source": "cameras"} | fields


def simulate(params: ScenarioParams, pop: Population, seed: int = 1) -> Run:
    """Run the engine on a hand-made population."""
    return run(params, seed, population=pop)


def column(r: Run, name: str) -> np.ndarray:
    """One daily metric column."""
    return r.table.columns[name][: r.table.days_done]


# --- Statistics: how far an observed figure may stray from its law ----------------------------


def within(observed: float, expected: float, se: float, k: float = 5.0) -> bool:
    """`observed` is within `k` standard errors `se` of `expected`."""
    return abs(observed - expected) < k * se


def gof(counts: np.ndarray, dist: stats.rv_discrete) -> float:
    """p-value of a chi-square goodness-of-fit test of integer `counts` against a discrete law."""
    top = int(dist.ppf(0.9999))
    observed = np.bincount(np.minimum(counts, top), minlength=top + 1)
    expected = dist.pmf(np.arange(top + 1)) * counts.size
    expected[-1] += dist.sf(top) * counts.size
    keep = expected >= 5
    obs = np.append(observed[keep], observed[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] < 5:
        obs, exp = obs[:-1], exp[:-1]
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


# --- Unit-level helpers: a state built by hand, days driven with hand-made charges ---------------


def build_state(params: ScenarioParams, pop: Population, seed: int = 1) -> State:
    """The initial state of a run of `params` on `pop` (propensities drawn from `seed`)."""
    return initial_state(compile_params(params), pop, np.random.default_rng(seed))


def charges(target: Any = (), event: Any = 0, misattributed: Any = False, actor: Any = None) -> Charges:
    """Hand-made records reaching the scoring authority (scalars broadcast over `target`); `actor`, when
    given, is who did each (the target unless misattributed)."""
    target = np.asarray(target, dtype=np.int64).reshape(-1)
    event = np.broadcast_to(np.asarray(event, dtype=np.int64), target.shape).copy()
    misattributed = np.broadcast_to(np.asarray(misattributed, dtype=bool), target.shape).copy()
    if actor is not None:
        actor = np.where(misattributed, np.broadcast_to(np.asarray(actor, dtype=np.int64), target.shape), target)
    return Charges(target, event, misattributed, actor)


def draws(state: State, rng: np.random.Generator, day: int) -> Draws:
    """A phase's draws on `day` from `rng`, in the state's randomness mode."""
    return Draws(rng, state.crn_seed, day)


def step(
    state: State,
    day: int,
    todays: Charges | None = None,
    rng: np.random.Generator | None = None,
    table: MetricTable | None = None,
) -> None:
    """The engine's day (`engine.one_day`) with `todays` charges in place of behaviour and surveillance;
    every phase draws from `rng`, and the day's row goes to `table` (a scratch one if not given)."""
    rng = rng or np.random.default_rng(day)
    phase_draws = {name: draws(state, rng, day) for name in engine.STREAMS}
    engine.one_day(state, phase_draws, day, table or MetricTable(state.cp, day + 1), todays or charges())


def simulate_watching(
    params: ScenarioParams, pop: Population, watch: Callable[[State, int], None], seed: int = 1
) -> Run:
    """Run the engine, calling `watch(state, day)` after each day's metrics are recorded."""
    return run(params, seed, population=pop, after_day=lambda at: watch(at.state, at.day - 1))
