"""The daily loop of MODEL.md section 2: behaviour, surveillance, scoring, sanctions, feedback, metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from scslab.memory import check_memory
from scslab.model.behaviour import behaviour
from scslab.model.draws import Draws
from scslab.model.feedback import feedback
from scslab.model.metrics import MetricTable, record
from scslab.model.params import Compiled, compile_params
from scslab.model.propensity import Propensity, propensities
from scslab.model.sanctions import initial_effects, sanctions
from scslab.model.scoring import scoring, settle_all
from scslab.model.state import State, initial_state
from scslab.model.surveillance import Charges, surveillance
from scslab.model.trace import TraceSpec, attach
from scslab.population import Population, build_population
from scslab.population.types import Attributes
from scslab.scenario.schema import ScenarioParams

PHASES = ("population", "behaviour", "surveillance", "scoring", "sanctions", "feedback", "metrics")
# One independent random stream per phase (MODEL.md section 9): a change in one phase
# never shifts another phase's draws. New streams are only ever appended.
STREAMS = ("population", "propensity", "behaviour", "surveillance", "scoring", "sanctions", "feedback")

DayCallback = Callable[[int, int], None]
# Citizens per kernel thread: below this a run keeps to one thread (a parallel region costs
# more than it saves on small days, and ensembles already fill the cores with processes).
CITIZENS_PER_THREAD = 500_000


@dataclass
class Run:
    """What a finished run leaves: the final state, the daily table, and the time per phase."""

    state: State
    table: MetricTable
    profile: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0


@dataclass
class Midway:
    """A run between two days: everything needed to go on (what a checkpoint holds)."""

    state: State
    table: MetricTable
    rng: dict[str, np.random.Generator]
    day: int  # days done
    profile: dict[str, float]
    elapsed: float = 0.0  # wall seconds so far
    elapsed_before: float = field(default=0.0, init=False)  # wall seconds before this process took over

    def __post_init__(self) -> None:
        self.elapsed_before = self.elapsed


DayHook = Callable[[Midway], None]


def streams(seed: int) -> dict[str, np.random.Generator]:
    """The run's random streams, spawned from one SeedSequence."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(STREAMS, children, strict=True)}


def start_day(state: State) -> None:
    """Clear the day's scratch lists and counters."""
    state.counters.reset()
    state.changed.clear()
    state.charged_negative.clear()
    state.charged_direct.clear()


def run(
    params: ScenarioParams,
    seed: int,
    on_day: DayCallback | None = None,
    source: str = "scenario",
    population: Population | None = None,
    resume: Midway | None = None,
    after_day: DayHook | None = None,
    trace: TraceSpec | None = None,
) -> Run:
    """Simulate `params.days` days from a fresh synthetic population (or a given one, for tests).

    `resume` continues a saved run from its day (with its trace, if it has one); `after_day` sees
    the run after every day (checkpoints, `--check`, stop requests) and may raise to stop it;
    `trace` says whom a fresh run traces (`model.trace`).
    """
    started = time.perf_counter()
    at = resume or start(params, seed, source, population, trace)
    before = numba.get_num_threads()
    numba.set_num_threads(threads_for(at.state.n))
    try:
        return _days(params, at, started, on_day, after_day)
    finally:
        numba.set_num_threads(before)


def threads_for(n: int) -> int:
    """Threads for the kernels of a run of `n` citizens (what they compute does not depend on it)."""
    return max(1, min(int(numba.config.NUMBA_NUM_THREADS), n // CITIZENS_PER_THREAD))  # type: ignore[attr-defined]


def _days(
    params: ScenarioParams, at: Midway, started: float, on_day: DayCallback | None, after_day: DayHook | None
) -> Run:
    """The daily loop from `at.day` to the last day."""
    state, table, rng, profile = at.state, at.table, at.rng, at.profile
    for day in range(at.day, params.days):
        draws = {name: Draws(rng[name], state.crn_seed, day) for name in STREAMS}  # each phase's draws today
        one_day(state, draws, day, table, profile=profile)
        at.day = day + 1
        at.elapsed = at.elapsed_before + time.perf_counter() - started
        if after_day is not None:
            after_day(at)
        if on_day is not None:
            on_day(day + 1, params.days)
    settle_all(state, params.days - 1)
    return Run(state, table, profile, at.elapsed_before + time.perf_counter() - started)


def one_day(
    state: State,
    draws: Mapping[str, Draws],
    day: int,
    table: MetricTable,
    charges: Charges | None = None,
    profile: dict[str, float] | None = None,
) -> None:
    """One day of MODEL.md section 2, its row written to `table` and each phase's seconds added to
    `profile`. Given `charges` (hand-made, in tests) stand in for the day's behaviour and surveillance."""
    start_day(state)
    if state.trace is not None:
        state.trace.today = day
    lap = Stopwatch(dict.fromkeys(PHASES, 0.0) if profile is None else profile)
    if charges is None:
        events = behaviour(state, draws["behaviour"], day)
        lap("behaviour")
        charges = surveillance(state, events, draws["surveillance"], day)
        lap("surveillance")
    scoring(state, charges, day)
    lap("scoring")
    sanctions(state, charges, draws["sanctions"], day)
    lap("sanctions")
    feedback(state, draws["feedback"], day)
    lap("feedback")
    record(state, table, day)
    lap("metrics")


class Stopwatch:
    """Adds the seconds since the last lap to the phase's total in `profile`."""

    def __init__(self, profile: dict[str, float]) -> None:
        self.profile = profile
        self.last = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.profile[phase] += now - self.last
        self.last = now


def build_with_propensities(
    params: ScenarioParams, cp: Compiled, rng: dict[str, np.random.Generator], crn_seed: int | None
) -> tuple[Population, list[Propensity]]:
    """Build the population and, on a second thread from the moment the attributes exist, draw
    the propensities (their own stream: the same draws as one after the other)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        drawing: list[Future[list[Propensity]]] = []

        def draw(people: Attributes) -> None:
            drawing.append(pool.submit(propensities, cp, people, rng["propensity"], crn_seed))

        pop = build_population(params.population, params.networks, rng["population"], on_attributes=draw)
        return pop, drawing[0].result()


def start(
    params: ScenarioParams,
    seed: int,
    source: str = "scenario",
    population: Population | None = None,
    trace: TraceSpec | None = None,
) -> Midway:
    """A run at day 0: its population, initial state (tracing `trace`'s citizens), empty table and fresh
    random streams."""
    if population is None:
        check_memory(params, source, trace=trace)
    started = time.perf_counter()
    profile = dict.fromkeys(PHASES, 0.0)
    rng = streams(seed)
    cp = compile_params(params)
    crn_seed = seed if params.crn else None
    if population is None:
        pop, drawn = build_with_propensities(params, cp, rng, crn_seed)
    else:
        pop, drawn = population, None
    state = initial_state(cp, pop, rng["propensity"], crn_seed, drawn)
    attach(state, trace, seed)
    initial_effects(state)
    table = MetricTable(cp, params.days)
    profile["population"] = time.perf_counter() - started
    return Midway(state, table, rng, 0, profile)
