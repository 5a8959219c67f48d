"""The reduced model in Starsim 3, written as Starsim users write modules: array states over agents.

`SocialCredit` is an `ss.Module` whose `step` runs one day for everyone at once: events,
detection and charges, association over the edges of the `Friends` network, recovery,
score, blacklist and denied trips. Random numbers come from the module's own `ss.random`
distributions (one per decision, as Starsim requires); Poisson counts are taken from them
by inverting the CDF, since `ss.poisson` with a different mean per agent falls back to
SciPy's per-element quantile function, which costs about half a second per million draws.
"""

from __future__ import annotations

import time

import numpy as np
import starsim as ss
from reduced import Outcome, ReducedModel, SharedPopulation

NEVER = -1e9


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts with means `lam`, by inversion of the uniforms `u` (one per agent).

    In float64: Starsim's states and uniforms are float32, and a float32 CDF can stop short
    of a uniform just below 1. An agent whose CDF stops growing keeps its count.
    """
    u = np.asarray(u, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    k = np.zeros(u.size, dtype=np.int64)
    p = np.exp(-lam)
    cdf = p.copy()
    todo = np.flatnonzero(u > cdf)
    while todo.size:
        k[todo] += 1
        p[todo] *= lam[todo] / k[todo]
        before = cdf[todo]
        cdf[todo] += p[todo]
        todo = todo[(u[todo] > cdf[todo]) & (cdf[todo] > before)]
    return k


class Friends(ss.Network):
    """The friends layer as a static edge list (each tie once, p1 < p2)."""

    def step(self) -> None:
        pass  # ties do not change


class SocialCredit(ss.Module):
    """Ledgers, score, blacklist and travel ban for every agent."""

    def __init__(self, model: ReducedModel, population: SharedPopulation, **kwargs: object) -> None:
        super().__init__()
        self.define_pars(
            events=model.events,
            alpha=model.alpha,
            score_start=model.score_start,
            score_min=model.score_min,
            score_max=model.score_max,
            clean_days=model.clean_days,
            recovery_per_day=model.recovery_per_day,
            threshold=model.threshold,
            min_days=model.min_days,
            travel_rate=np.array(model.travel_rate),
        )
        self.update_pars(**kwargs)
        self.population = population
        self.define_states(
            ss.FloatArr("own", default=0.0),
            ss.FloatArr("association", default=0.0),
            ss.FloatArr("merit", default=0.0),
            ss.FloatArr("score", default=model.score_start),
            ss.FloatArr("last_negative", default=NEVER),
            ss.FloatArr("listed_day", default=NEVER),
            ss.FloatArr("trip_rate", default=0.0),
            ss.BoolState("blacklisted", label="Blacklisted"),
        )
        # one propensity state per event type: Gamma(1/h^2, h^2), or 1 when h = 0
        for e in model.events:
            h = e.heterogeneity
            u = ss.gamma(a=1.0 / h**2, scale=h**2) if h > 0 else 1.0
            self.define_states(ss.FloatArr(f"u_{e.name}", default=u))
        self.count_draws = [ss.random(name=f"count_{e.name}") for e in model.events]
        self.detect_draws = [ss.random(name=f"detect_{e.name}") for e in model.events]
        self.travel_draw = ss.random(name="travel")
        self.eligible: list[ss.uids] = []

    def init_results(self) -> None:
        super().init_results()
        self.define_results(
            ss.Result("trips_denied", dtype=int, label="Trips denied"),
            *(ss.Result(f"events_{e.name}", dtype=int, label=f"Events: {e.name}") for e in self.pars.events),
        )

    def init_post(self) -> None:
        super().init_post()
        pop = self.population
        uids = self.sim.people.auids
        self.trip_rate[uids] = self.pars.travel_rate[pop.income_q[uids] - 1]
        self.eligible = [uids[np.isin(pop.age_band[uids], e.age_bands)] for e in self.pars.events]

    def step(self) -> None:
        pars = self.pars
        ti = self.ti
        n_agents = len(self.sim.people)
        charged: list[np.ndarray] = []
        spread = np.zeros(n_agents)  # points of associated events charged to each agent today
        for e, eligible, count_draw, detect_draw in zip(
            pars.events, self.eligible, self.count_draws, self.detect_draws, strict=True
        ):
            lam = e.rate * self[f"u_{e.name}"][eligible]
            n = poisson_from_uniform(count_draw.rvs(eligible), lam)
            actors, n = eligible[n > 0], n[n > 0]
            self.results[f"events_{e.name}"][ti] = n.sum()
            seen = (detect_draw.rvs(int(n.sum())) < e.coverage).astype(np.int64)  # one draw per event
            detected = np.add.reduceat(seen, np.cumsum(n) - n) if n.size else n
            actors, detected = actors[detected > 0], detected[detected > 0]
            points = detected * e.points
            if e.points >= 0:
                self.merit[actors] = self.merit[actors] + points
                continue
            self.own[actors] = self.own[actors] + points
            charged.append(actors)
            if e.associated:
                spread[actors] += points
        if spread.any():
            charged.append(self.charge_friends(spread))
        if charged:
            self.last_negative[ss.uids(np.concatenate(charged))] = ti
        self.recover()
        raw = pars.score_start + self.own + self.association + self.merit
        self.score[:] = np.clip(raw, pars.score_min, pars.score_max)
        self.update_blacklist()
        listed = self.blacklisted.uids
        trips = poisson_from_uniform(self.travel_draw.rvs(listed), self.trip_rate[listed])
        self.results.trips_denied[ti] = trips.sum()

    def charge_friends(self, spread: np.ndarray) -> np.ndarray:
        """Charge alpha times each agent's associated points to each of its friends; return who was charged."""
        net = self.sim.networks.friends
        charge = np.zeros_like(spread)
        for src, trg in ((net.p1, net.p2), (net.p2, net.p1)):
            hit = spread[src] != 0
            np.add.at(charge, trg[hit], self.pars.alpha * spread[src[hit]])
        touched = ss.uids(np.flatnonzero(charge))
        self.association[touched] = self.association[touched] + charge[touched]
        return touched

    def recover(self) -> None:
        """Give back `recovery_per_day` points to the clean, from `own` and `association` in proportion."""
        pars = self.pars
        debt = -(self.own + self.association)
        ready = ((debt > 0) & (self.ti - self.last_negative >= pars.clean_days)).uids
        if not ready.size:
            return
        debt = debt[ready]
        keep = np.where(debt > pars.recovery_per_day, 1.0 - pars.recovery_per_day / debt, 0.0)
        self.own[ready] = self.own[ready] * keep
        self.association[ready] = self.association[ready] * keep

    def update_blacklist(self) -> None:
        """Exits after `min_days` with the score back at the threshold; entries below it."""
        pars = self.pars
        served = self.ti - self.listed_day >= pars.min_days
        leave = (self.blacklisted & served & (self.score >= pars.threshold)).uids
        self.blacklisted[leave] = False
        enter = (~self.blacklisted & (self.score < pars.threshold)).uids
        self.blacklisted[enter] = True
        self.listed_day[enter] = self.ti


def run_starsim(p: ReducedModel, pop: SharedPopulation, seed: int, days: int, crn: bool = False) -> Outcome:
    """Build the Starsim sim on the shared population and run it for `days` daily steps.

    `crn=False` (one plain uniform per agent) is the like-for-like setting: scslab's runs
    here do not use common random numbers either.
    """
    ss.options(crn=crn)
    t0 = time.perf_counter()
    p1, p2 = pop.friend_pairs()
    friends = Friends(name="friends", p1=p1, p2=p2, beta=np.ones(p1.size))
    module = SocialCredit(p, pop, name="credit")
    # Starsim's timeline includes both ends: `days` points are `days` steps
    sim = ss.Sim(
        n_agents=pop.size,
        start=ss.days(0),
        dur=ss.days(days - 1),
        dt=ss.days(1),
        networks=friends,
        modules=module,
        rand_seed=seed,
        verbose=0,
        copy_inputs=False,
    )
    sim.init()
    t1 = time.perf_counter()
    sim.run()
    t2 = time.perf_counter()
    res = module.results
    return Outcome(
        score=np.asarray(module.score.raw, dtype=float).copy(),
        blacklisted=np.asarray(module.blacklisted.raw, dtype=bool).copy(),
        blacklisted_daily=np.asarray(res.n_blacklisted, dtype=float),
        trips_denied=int(np.sum(res.trips_denied)),
        events={e.name: int(np.sum(res[f"events_{e.name}"])) for e in p.events},
        setup_seconds=t1 - t0,
        loop_seconds=t2 - t1,
        days=days,
    )
