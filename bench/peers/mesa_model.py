"""The reduced model in Mesa 3, written as Mesa users write models: one `Citizen` agent per person.

Each day runs in two stages over the agents (Mesa 3's replacement for staged activation):
`step` (in random order) draws the agent's events, detects them and charges the points, to
itself and, for criticism, to its friends; `settle` then applies recovery, recomputes the
score, updates the blacklist and counts the agent's denied trips. The stages keep the day's
order of scslab (all charges land before recovery, listing and travel).
"""

from __future__ import annotations

import math
import time
from random import Random

import mesa
import numpy as np
from reduced import EventType, Outcome, ReducedModel, SharedPopulation

NEVER = -(10**9)


def poisson(random: Random, lam: float) -> int:
    """A Poisson draw by inversion of one uniform (cheap for the small means of daily events)."""
    u = random.random()
    p = math.exp(-lam)
    cdf, k = p, 0
    while u > cdf:
        k += 1
        p *= lam / k
        if cdf + p == cdf:  # the CDF has stopped growing in floating point
            break
        cdf += p
    return k


class Citizen(mesa.Agent):
    """One person: ledgers, score, blacklist status and friends."""

    def __init__(self, model: CreditModel, age_band: int, income_q: int) -> None:
        super().__init__(model)
        p = model.p
        self.trip_rate = p.travel_rate[income_q - 1]
        # event types this citizen can commit, with the daily mean rate * u of each
        self.habits: list[tuple[EventType, float]] = []
        for event in p.events:
            if age_band in event.age_bands:
                h = event.heterogeneity
                u = self.random.gammavariate(1.0 / h**2, h**2) if h > 0 else 1.0
                self.habits.append((event, event.rate * u))
        self.friends: list[Citizen] = []
        self.own = 0.0
        self.association = 0.0
        self.merit = 0.0
        self.score = p.score_start
        self.last_negative = NEVER
        self.blacklisted = False
        self.listed_day = NEVER

    def step(self) -> None:
        """Today's events: detected ones charge their points; criticism also charges the friends."""
        model = self.model
        for event, lam in self.habits:
            n = poisson(self.random, lam)
            if n == 0:
                continue
            model.events[event.name] += n
            detected = sum(1 for _ in range(n) if self.random.random() < event.coverage)
            if detected == 0:
                continue
            points = detected * event.points
            if points >= 0:
                self.merit += points
                continue
            self.own += points
            self.last_negative = model.day
            if event.associated:
                for friend in self.friends:
                    friend.association += model.p.alpha * points
                    friend.last_negative = model.day

    def settle(self) -> None:
        """End of the day: recovery, score, blacklist, travel."""
        model = self.model
        p = model.p
        debt = -(self.own + self.association)
        if debt > 0 and model.day - self.last_negative >= p.clean_days:
            back = min(p.recovery_per_day, debt)
            if back >= debt:
                self.own = self.association = 0.0
            else:
                keep = 1.0 - back / debt
                self.own *= keep
                self.association *= keep
        raw = p.score_start + self.own + self.association + self.merit
        self.score = min(max(raw, p.score_min), p.score_max)
        if self.blacklisted:
            if model.day - self.listed_day >= p.min_days and self.score >= p.threshold:
                self.blacklisted = False
        elif self.score < p.threshold:
            self.blacklisted = True
            self.listed_day = model.day
        if self.blacklisted:
            model.trips_denied += poisson(self.random, self.trip_rate)


class CreditModel(mesa.Model):
    """The city: citizens tied by the friends layer, one `step` per day."""

    def __init__(self, p: ReducedModel, pop: SharedPopulation, seed: int) -> None:
        super().__init__(seed=seed)
        self.p = p
        self.day = 0
        self.trips_denied = 0
        self.events = dict.fromkeys((e.name for e in p.events), 0)
        citizens = list(
            Citizen.create_agents(self, pop.size, age_band=pop.age_band.tolist(), income_q=pop.income_q.tolist())
        )
        indptr, indices = pop.friends_indptr, pop.friends_indices
        for i, citizen in enumerate(citizens):
            citizen.friends = [citizens[k] for k in indices[indptr[i] : indptr[i + 1]].tolist()]
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "blacklisted": lambda m: m.agents.agg("blacklisted", sum),
                "trips_denied": "trips_denied",
            }
        )

    def step(self) -> None:
        self.trips_denied = 0
        self.agents.shuffle_do("step")
        self.agents.do("settle")  # order-free: each agent only updates itself
        self.datacollector.collect(self)
        self.day += 1


def run_mesa(p: ReducedModel, pop: SharedPopulation, seed: int, days: int) -> Outcome:
    """Build the Mesa model on the shared population and run it for `days` days."""
    t0 = time.perf_counter()
    model = CreditModel(p, pop, seed)
    t1 = time.perf_counter()
    for _ in range(days):
        model.step()
    t2 = time.perf_counter()
    citizens = list(model.agents)
    table = model.datacollector.get_model_vars_dataframe()
    return Outcome(
        score=np.array([c.score for c in citizens]),
        blacklisted=np.array([c.blacklisted for c in citizens]),
        blacklisted_daily=table["blacklisted"].to_numpy(),
        trips_denied=int(table["trips_denied"].sum()),
        events=dict(model.events),
        setup_seconds=t1 - t0,
        loop_seconds=t2 - t1,
        days=days,
    )
