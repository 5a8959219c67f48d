"""Behaviour and surveillance (docs/model.md sections 3-4) against numbers derived by hand: the events
drawn, the records that reach the scoring authority (coverage, delay, share, multipliers), and
misattribution, read from the own and misattributed ledgers."""

from __future__ import annotations

import numpy as np
from scipy import stats

from modelkit import column, gof, offence, population, scenario, simulate
from scslab.population.types import CIVIL_SERVANT, EMPLOYEE

N = 20_000


def test_own_ledger_is_points_times_poisson() -> None:
    """One offence, h = 0, coverage c, no recovery: own = points * Poisson(rate * c * days)."""
    days, rate, c = 200, 0.004, 0.5
    params = scenario(
        N, days, sources={"cameras": {"coverage": c}}, events={"jaywalking": offence(rate=rate, points=-5.0)}
    )
    r = simulate(params, population(N))
    counts = np.rint(r.state.own / -5.0).astype(np.int64)
    m = rate * c * days
    assert np.allclose(r.state.own, -5.0 * counts)
    assert abs(counts.mean() - m) < 5 * np.sqrt(m / N)
    assert abs(counts.var() - m) < 5 * m * np.sqrt(2 / N) + 0.02 * m
    assert gof(counts, stats.poisson(m)) > 1e-4
    assert r.state.misattributed.sum() == 0 and r.state.association.sum() == 0


def test_heterogeneity_inflates_variance() -> None:
    """With u ~ Gamma(1/h^2, h^2) the count's variance is m + m^2 h^2 (negative binomial)."""
    days, rate, h = 100, 0.02, 1.0
    params = scenario(N, days, events={"jaywalking": offence(rate=rate, points=-5.0, heterogeneity=h)})
    r = simulate(params, population(N))
    counts = np.rint(-r.state.own / 5.0).astype(np.int64)
    m = rate * days
    var = m + m**2 * h**2
    m4 = np.mean((counts - counts.mean()) ** 4)
    assert abs(counts.mean() - m) < 5 * np.sqrt(var / N)
    assert abs(counts.var() - var) < 5 * np.sqrt((m4 - counts.var() ** 2) / N)
    # and it is a negative binomial with r = 1/h^2, p = r / (r + m)
    r_nb = 1 / h**2
    assert gof(counts, stats.nbinom(r_nb, r_nb / (r_nb + m))) > 1e-4
    assert gof(counts, stats.poisson(m)) < 1e-10  # and clearly not a Poisson


def test_coverage_ramp_is_linear() -> None:
    """Coverage grows linearly from coverage to coverage_end over ramp_days."""
    days, rate = 100, 0.01
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 0.2, "coverage_end": 0.6, "ramp_days": 100}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N))
    detected = column(r, "detected_jaywalking").sum()
    events = column(r, "events_jaywalking").sum()
    expected = sum(rate * N * (0.2 + 0.4 * t / 100) for t in range(days))
    assert abs(events - rate * N * days) < 5 * np.sqrt(rate * N * days)
    assert abs(detected - expected) < 5 * np.sqrt(expected)


def test_delay_drops_the_last_days() -> None:
    """A delay of d days drops the last d days of charges."""
    days, rate, d = 100, 0.01, 30
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "delay": d}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N))
    charged = -r.state.own.sum() / 5.0
    m = rate * N * (days - d)
    assert abs(charged - m) < 5 * np.sqrt(m)
    assert column(r, "detected_jaywalking").sum() > charged  # detections are counted on the day they happen


def test_share_thins_records() -> None:
    """Only a share of observed records reaches the scoring authority."""
    days, rate, share = 100, 0.01, 0.3
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "share": share}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N))
    charged = -r.state.own.sum() / 5.0
    m = rate * N * days * share
    assert abs(charged - m) < 5 * np.sqrt(m)


def test_civil_servant_multiplier_caps_at_one() -> None:
    """Civil servants are observed with probability min(1, c * multiplier)."""
    days, rate = 100, 0.01
    occ = np.where(np.arange(N) < N // 2, CIVIL_SERVANT, EMPLOYEE)
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 0.4, "civil_servant_multiplier": 3.0}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N, occupation=occ))
    cs = -r.state.own[: N // 2].sum() / 5.0
    emp = -r.state.own[N // 2 :].sum() / 5.0
    m = rate * N / 2 * days
    assert abs(cs - m * 1.0) < 5 * np.sqrt(m)
    assert abs(emp - m * 0.4) < 5 * np.sqrt(m * 0.4)


def test_misattribution_moves_charges_without_changing_total() -> None:
    """Misattributed charges move between ledgers; their total is what was detected."""
    days, rate, mu, ratio = 100, 0.01, 0.05, 4.0
    group = (np.arange(N) % 5 == 0).astype(np.int8)  # 20% minority
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "misattribution": mu, "minority_error_ratio": ratio}},
        events={"jaywalking": offence(rate=rate, points=-5.0)},
    )
    r = simulate(params, population(N, group=group, district=np.arange(N) % 4))
    s = r.state
    detected = column(r, "detected_jaywalking").sum()
    assert np.isclose(s.own.sum() + s.misattributed.sum(), -5.0 * detected)
    wrong = -s.misattributed.sum() / 5.0
    p = 0.8 * mu + 0.2 * min(1.0, mu * ratio)
    assert abs(wrong / detected - p) < 5 * np.sqrt(p * (1 - p) / detected)
    # minority citizens are wrongly charged ratio times as often as majority ones
    per_minority = -s.misattributed[group == 1].mean()
    per_majority = -s.misattributed[group == 0].mean()
    assert 0.75 * ratio < per_minority / per_majority < 1.25 * ratio


def test_misattribution_stays_in_district_and_group() -> None:
    """The wrong person comes from the actor's district and group."""
    days = 50
    occ = np.where(np.arange(N) < N // 2, CIVIL_SERVANT, EMPLOYEE)
    district = np.where(np.arange(N) < N // 2, 0, 1)
    params = scenario(
        N,
        days,
        sources={"cameras": {"coverage": 1.0, "misattribution": 0.5}},
        events={"jaywalking": offence(rate=0.02, points=-5.0, eligible={"occupations": ["civil_servant"]})},
    )
    r = simulate(params, population(N, occupation=occ, district=district))
    assert r.state.misattributed[N // 2 :].sum() == 0
    assert r.state.own[N // 2 :].sum() == 0
    assert r.state.misattributed[: N // 2].sum() < 0
