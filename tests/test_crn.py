"""Common random numbers (docs/model.md section 9): same laws as the default mode, draws keyed per citizen."""

from __future__ import annotations

import numpy as np
from scipy import stats

from modelkit import column, gof, offence, population, scenario, simulate
from scslab.model.draws import keyed_uniform, poisson_inverse

N = 20_000


def test_keyed_uniforms_are_uniform_and_independent_of_batch() -> None:
    who = np.arange(200_000)
    u = keyed_uniform(7, 3, who, 1)
    assert stats.kstest(u, "uniform").pvalue > 1e-4
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(who.size)
    # a citizen's draw does not depend on who else is drawn with them, and keys separate streams
    assert np.array_equal(keyed_uniform(7, 3, who[::7], 1), u[::7])
    assert not np.array_equal(keyed_uniform(7, 4, who[:10], 1), u[:10])
    assert not np.array_equal(keyed_uniform(8, 3, who[:10], 1), u[:10])
    assert not np.array_equal(keyed_uniform(7, 3, who[:10], 2), u[:10])


def test_poisson_inverse_has_the_poisson_law() -> None:
    rng = np.random.default_rng(1)
    for mean in (0.003, 0.7, 4.0, 30.0):
        counts = poisson_inverse(np.full(100_000, mean), rng.random(100_000))
        assert gof(counts, stats.poisson(mean)) > 1e-4


def test_own_ledger_is_poisson_under_crn() -> None:
    """The section-3 law holds with crn = true as without."""
    days, rate, c = 200, 0.004, 0.5
    params = scenario(
        N, days, crn=True, sources={"cameras": {"coverage": c}}, events={"jaywalking": offence(rate=rate, points=-5.0)}
    )
    r = simulate(params, population(N))
    counts = np.rint(r.state.own / -5.0).astype(np.int64)
    assert gof(counts, stats.poisson(rate * c * days)) > 1e-4


def test_heterogeneity_is_negative_binomial_under_crn() -> None:
    days, rate, h = 100, 0.02, 1.0
    params = scenario(N, days, crn=True, events={"jaywalking": offence(rate=rate, points=-5.0, heterogeneity=h)})
    r = simulate(params, population(N))
    counts = np.rint(-r.state.own / 5.0).astype(np.int64)
    m, r_nb = rate * days, 1 / h**2
    assert gof(counts, stats.nbinom(r_nb, r_nb / (r_nb + m))) > 1e-4


def test_draws_are_keyed_by_citizen_and_event_name() -> None:
    """Changing one event's rate, or adding an event type, leaves the other events' draws alone."""
    events = {"jaywalking": offence(rate=0.01), "loitering": offence(rate=0.01, points=-2.0)}
    a = simulate(scenario(N, 50, crn=True, events=events), population(N))
    changed = events | {"loitering": offence(rate=0.03, points=-2.0)}
    b = simulate(scenario(N, 50, crn=True, events=changed), population(N))
    added = events | {"gaming": offence(rate=0.05, points=-1.0)}
    c = simulate(scenario(N, 50, crn=True, events=added), population(N))
    assert np.array_equal(column(a, "events_jaywalking"), column(b, "events_jaywalking"))
    assert np.array_equal(column(a, "events_jaywalking"), column(c, "events_jaywalking"))
    assert np.array_equal(column(a, "events_loitering"), column(c, "events_loitering"))
    assert column(b, "events_loitering").sum() > 2 * column(a, "events_loitering").sum()
    # without crn the streams are shared, so the same changes move the other event's draws
    seq = [simulate(scenario(N, 50, events=ev), population(N)) for ev in (events, changed)]
    assert not np.array_equal(column(seq[0], "events_jaywalking"), column(seq[1], "events_jaywalking"))


def test_crn_shrinks_the_spread_of_a_difference() -> None:
    """The difference between two close scenarios varies far less over seeds with crn."""
    n, days = 5_000, 60
    events = {"jaywalking": offence(rate=0.02, points=-5.0, heterogeneity=1.0)}
    bumped = {"jaywalking": offence(rate=0.021, points=-5.0, heterogeneity=1.0)}

    def spread(crn: bool) -> float:
        # without crn the two runs of a pair take different seeds: sequential streams promise no
        # correlation between scenarios (any they happen to share is luck of the draw order)
        d = []
        for seed in range(16):
            a = simulate(scenario(n, days, crn=crn, events=events), population(n), seed)
            b = simulate(scenario(n, days, crn=crn, events=bumped), population(n), seed if crn else seed + 100)
            d.append(column(b, "events_jaywalking").sum() - column(a, "events_jaywalking").sum())
        return float(np.std(d))

    # With crn the difference is about the extra events alone: sd about sqrt(300) = 17. Independent
    # runs differ by two whole counts: sd at least sqrt(2 * 6,000) = 110 before heterogeneity.
    # A factor 4 leaves room for the noise of a spread estimated from 16 pairs.
    assert spread(True) * 4 < spread(False)
