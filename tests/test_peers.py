"""Mesa and Starsim implementations of the reduced scenario agree with scslab (bench/peers).

Each peer's run is judged against 20 scslab runs on the same population with the calibrated
tests of `bench/peers/compare.py` (KS on the final scores, t on the blacklisted share). At
this configuration the tests reject scslab against itself at their nominal rate (checked
over 100 seeds: 1% at p < 0.01, none at p < 0.001). A peer that leaves out association or
recovery is rejected, which shows the tests can fail.
"""

from __future__ import annotations

import dataclasses
import random
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mesa")
pytest.importorskip("starsim")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "peers"))

from compare import Agreement, Reference, agreement, reference, run_scslab
from mesa_model import poisson, run_mesa
from reduced import SCENARIO, ReducedModel, SharedPopulation, reduced_model, shared_population
from starsim_model import poisson_from_uniform, run_starsim

import scslab
from scslab.engine import run
from scslab.scenario.schema import ScenarioParams

SEED = 3
RUNS = 20
P_MIN = 0.001  # a true peer fails one of the four assertions below with about 0.4% probability
# Short recovery and a long minimum term, so that 100 days exercise recovery, exits and association.
OVERRIDES: dict[str, object] = {
    "population.size": 10_000,
    "days": 100,
    "recovery.clean_days": 5,
    "blacklist.min_days": 60,
    "blacklist.threshold": 750,
    "events.criticism.rate": 0.006,
}


@dataclasses.dataclass
class Setup:
    params: ScenarioParams
    model: ReducedModel
    shared: SharedPopulation
    ref: Reference


@pytest.fixture(scope="module")
def setup() -> Setup:
    params = scslab.load_scenario(SCENARIO).with_overrides(OVERRIDES).params
    pop, shared = shared_population(params, SEED)
    return Setup(params, reduced_model(params), shared, reference(params, pop, SEED, params.days, RUNS))


def _check(a: Agreement) -> None:
    assert a.ks_p >= P_MIN, f"final scores differ: KS D = {a.ks_d:.4f}, t = {a.ks_t:+.2f}, p = {a.ks_p:.2g}"
    assert a.share_p >= P_MIN, f"blacklisted share {a.share:.4f} differs: t = {a.share_t:+.2f}, p = {a.share_p:.2g}"


def test_reference_is_active(setup: Setup) -> None:
    """The configuration lists enough people, and denies them trips, for the comparison to mean something."""
    assert 0.02 < setup.ref.shares.mean() < 0.2
    assert setup.ref.trips.min() > 0


def test_mesa_agrees_with_scslab(setup: Setup) -> None:
    out = run_mesa(setup.model, setup.shared, SEED, setup.params.days)
    assert out.score.size == setup.shared.size and out.blacklisted_daily.size == setup.params.days
    _check(agreement(setup.ref, out))


def test_starsim_agrees_with_scslab(setup: Setup) -> None:
    out = run_starsim(setup.model, setup.shared, SEED, setup.params.days)
    assert out.score.size == setup.shared.size and out.blacklisted_daily.size == setup.params.days
    _check(agreement(setup.ref, out))


@pytest.mark.parametrize(
    "change",
    [{"alpha": 0.0}, {"recovery_per_day": 0.0}, {"min_days": 0}],
    ids=["no-association", "no-recovery", "no-minimum-term"],
)
def test_a_peer_that_differs_is_rejected(setup: Setup, change: dict[str, float]) -> None:
    """Starsim with one mechanism left out or changed fails the agreement tests."""
    out = run_starsim(dataclasses.replace(setup.model, **change), setup.shared, SEED, setup.params.days)
    a = agreement(setup.ref, out)
    assert not a.agrees, f"not rejected: KS p = {a.ks_p:.3g}, share p = {a.share_p:.3g}"


def test_reduced_model_refuses_mechanisms_the_peers_lack() -> None:
    scenario = scslab.load_scenario(SCENARIO)
    with pytest.raises(ValueError, match=r"sources\.cameras"):
        reduced_model(scenario.with_overrides({"sources.cameras.misattribution": 0.01}).params)
    with pytest.raises(ValueError, match="feedback"):
        reduced_model(scenario.with_overrides({"feedback.eta": 0.05}).params)


def test_shared_population_is_scslab_population() -> None:
    """The peers see the population that `scslab.engine.run` builds for the seed: same friends, each tie once."""
    params = scslab.load_scenario(SCENARIO).with_overrides({"population.size": 2_000, "days": 3}).params
    pop, shared = shared_population(params, 5)
    outcome = run_scslab(params, pop, 5, 3)
    built = run(params, 5).state.pop.layers["friends"]
    assert (built.indptr == shared.friends_indptr).all() and (built.indices == shared.friends_indices).all()
    p1, p2 = shared.friend_pairs()
    assert (p1 < p2).all() and 2 * p1.size == shared.friends_indices.size
    assert outcome.score.size == 2_000


def test_peers_poisson_draws_have_the_poisson_law() -> None:
    """Both peers' inversion samplers: mean and variance lam, and no hang on a uniform just below 1."""
    lam = 0.7
    u = np.random.default_rng(0).random(200_000)
    k = poisson_from_uniform(u, np.full(u.size, lam))
    se = np.sqrt(lam / u.size)
    assert abs(k.mean() - lam) < 4 * se and abs(k.var() - lam) < 0.02
    rng = random.Random(0)
    draws = np.array([poisson(rng, lam) for _ in range(100_000)])
    assert abs(draws.mean() - lam) < 4 * np.sqrt(lam / draws.size) and abs(draws.var() - lam) < 0.03
    near_one = np.float32([0.99999994])  # the largest float32 uniform: its float32 CDF would never reach it
    assert poisson_from_uniform(near_one, np.float32([0.01]))[0] >= 1
