"""Presets against reported figures (docs/validation.md), at sizes that run in CI.

Each check states the reported figure, its source in docs/sources.md, and a tolerance made of two
parts: how closely the figure can be expected to hold (its own vagueness, or the factor the
issue allows), and the sampling error at the test's size, taken as 4 standard deviations of
a Poisson count (or of the mean over seeds), so that a correct model fails about once in
15,000 runs.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from scipy import stats

from scslab import load_scenario, simulate
from scslab.results import Result
from scslab.scenario import Scenario

Z = 4.0  # standard deviations of sampling error allowed
CHINA_2020 = 1_411_780_000  # 2020 census (docs/sources.md)


@cache
def run(name: str, size: int, seed: int = 1, unseen: bool = False) -> Result:
    """A preset at `size` citizens (with every source's coverage at 0 when `unseen`)."""
    scenario = load_scenario(name).with_overrides({"population.size": size})
    return simulate(without_surveillance(scenario) if unseen else scenario, seed=seed)


def without_surveillance(scenario: Scenario) -> Scenario:
    """The same scenario with every source's coverage (and coverage_end) at 0."""
    zero = {f"sources.{name}.{key}": 0.0 for name in scenario.params.sources for key in ("coverage", "coverage_end")}
    return scenario.with_overrides(zero)


def poisson_tolerance(count: float) -> float:
    """Relative sampling tolerance of a count: Z / sqrt(count)."""
    return Z / math.sqrt(max(count, 1.0))


def political_events(name: str, size: int, seeds: range, unseen: bool = False) -> np.ndarray:
    """Political events of each seed's run."""
    return np.array([run(name, size, s, unseen).figures["political_events"] for s in seeds])


# --- judgment-defaulters: the documented court defaulter list ---------------------------------

DEFAULTERS_SIZE = 300_000  # 1:4706; four years run in a few seconds


@pytest.fixture(scope="module")
def defaulters() -> Result:
    return run("judgment-defaulters", DEFAULTERS_SIZE)


def test_defaulters_listed_stock_near_the_reported_share(defaulters: Result) -> None:
    """8.3 M listed in 2023, about 0.59% of the population (WSJ summary): within 10% (the stock is of 2023,
    the flows that set it of 2017-2018) plus sampling."""
    listed = defaulters.figures["blacklisted_listed_offence"]
    tolerance = 0.10 + poisson_tolerance(listed)
    assert abs(listed / DEFAULTERS_SIZE / 0.0059 - 1) <= tolerance, listed / DEFAULTERS_SIZE


@pytest.mark.parametrize(("mode", "reported"), [("plane", 17.5e6), ("train", 5.5e6)])
def test_defaulters_blocked_tickets_within_a_factor_of_1_5(defaulters: Result, mode: str, reported: float) -> None:
    """17.5 M flights and 5.5 M train tickets refused in 2018 (national credit centre, via AP and the Guardian):
    the last year of the run, scaled to 1.41 billion, within a factor of 1.5."""
    last_year = defaulters.timeseries.iloc[-365:]
    denied = float(last_year[f"trips_denied_{mode}"].sum())
    scaled = denied * CHINA_2020 / DEFAULTERS_SIZE
    assert denied > 100  # enough trips for the factor to mean something
    assert reported / 1.5 <= scaled <= reported * 1.5, scaled


def test_defaulters_have_no_score(defaulters: Result) -> None:
    """No personal score penalties: nobody is listed by score, and every score stays at the start."""
    f = defaulters.figures
    assert f["blacklisted_own_conduct"] == f["blacklisted_association"] == f["blacklisted_misattribution"] == 0
    assert f["score_p10"] == f["score_p90"] == load_scenario("judgment-defaulters").params.score.start


# --- national-2020: the press's 10 million penalised ------------------------------------------

NATIONAL_SIZE = 100_000  # 1:14,000


def test_national_penalises_on_the_order_of_ten_million() -> None:
    """An estimated 10 million penalised by low ratings (ABC 2018): people blacklisted at some point of the year,
    scaled to 1.4 billion, within a factor of sqrt(10) (the same order of magnitude) less sampling."""
    result = run("national-2020", NATIONAL_SIZE)
    ever = result.figures["ever_blacklisted"]
    scaled = ever * result.summary["scale"]
    slack = 1 - poisson_tolerance(ever)
    assert 10e6 / math.sqrt(10) * slack <= scaled <= 10e6 * math.sqrt(10) / slack, scaled


# --- beijing-2020: the chilling effect ---------------------------------------------------------

CHILLING_SIZE = 50_000
CHILLING_SEEDS = range(1, 6)


def test_beijing_chilling_effect_as_penney_measured() -> None:
    """Visits to sensitive articles fell 20-30% after surveillance was revealed (Penney 2016): the drop of political
    events against the same scenario with all coverage at 0, the mean over seeds, lies in that band widened by 4
    standard errors of the mean."""
    seen = political_events("beijing-2020", CHILLING_SIZE, CHILLING_SEEDS)
    drops = 1 - seen / political_events("beijing-2020", CHILLING_SIZE, CHILLING_SEEDS, unseen=True)
    mean, se = drops.mean(), drops.std(ddof=1) / math.sqrt(drops.size)
    low, high = stats.t.interval(0.95, drops.size - 1, loc=mean, scale=se)
    print(f"chilling effect of beijing-2020: {mean:.1%} (95% interval {low:.1%} to {high:.1%})")
    assert 0.20 - Z * se <= mean <= 0.30 + Z * se, drops


def test_no_chilling_where_speech_is_not_scored() -> None:
    """rights-respecting gives criticism no points, so surveillance cannot deter it (docs/model.md section 7)."""
    seen = political_events("rights-respecting", CHILLING_SIZE, range(1, 3))
    unseen = political_events("rights-respecting", CHILLING_SIZE, range(1, 3), unseen=True)
    # as if the two counts were independent Poisson counts (with one seed they are in fact drawn alike)
    assert np.all(np.abs(1 - seen / unseen) <= Z * np.sqrt(1 / seen + 1 / unseen)), (seen, unseen)
