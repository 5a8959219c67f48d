"""scslab side by side with Mesa 3 and Starsim 3 on the reduced scenario: agreement and speed.

Run: `.venv/bin/python bench/peers/compare.py` (needs the `bench` extra: `pip install -e ".[bench]"`).
All runs happen in this one process, after a small warm-up run of each engine (imports and
JIT compilation are not timed). Prints two markdown tables; see bench/peers/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))

from mesa_model import run_mesa
from reduced import SCENARIO, Outcome, ReducedModel, reduced_model, shared_population
from starsim_model import run_starsim

import scslab
from scslab.engine import run
from scslab.population import Population
from scslab.scenario.schema import ScenarioParams

ALPHA = 0.01  # a peer agrees when neither test rejects at this level
SEED_STEP = 1_000_003  # scslab's reference runs use seeds seed, seed + SEED_STEP, ...


def run_scslab(params: ScenarioParams, pop: Population, seed: int, days: int) -> Outcome:
    """scslab's engine on the shared population (the one it would build for `seed`)."""
    out = run(params.model_copy(update={"days": days}), seed, population=pop)
    setup = out.profile["population"]
    cols = out.table.columns
    return Outcome(
        score=out.state.score.copy(),
        blacklisted=out.state.blacklist.member.copy(),
        blacklisted_daily=cols["blacklisted"].copy(),
        trips_denied=int(cols["trips_denied"].sum()),
        events={name: int(cols[f"events_{name}"].sum()) for name in out.state.cp.events.names},
        setup_seconds=setup,
        loop_seconds=out.wall_seconds - setup,
        days=days,
    )


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic D."""
    return float(stats.ks_2samp(a, b, method="asymp").statistic)


@dataclass
class Reference:
    """R scslab runs on one population: the null against which a peer's single run is judged.

    Citizens' scores are not independent (a critic's friends are charged together), so the
    iid KS and binomial tests reject far too often, even scslab against itself with another
    seed. The R runs give the run-to-run spread of each statistic instead: the KS distance of
    each run to the pool of the others, and the blacklisted share and denied trips of each run.
    """

    runs: list[Outcome]
    pooled: np.ndarray  # every run's final scores
    null_k: np.ndarray  # sqrt(m) * KS D of each run against the pool of the others

    @property
    def shares(self) -> np.ndarray:
        return np.array([r.blacklisted.mean() for r in self.runs])

    @property
    def trips(self) -> np.ndarray:
        return np.array([r.trips_denied for r in self.runs], dtype=float)


def ks_scale(n: int, pool_runs: int) -> float:
    """sqrt(n1 n2 / (n1 + n2)) for one run of n against a pool of `pool_runs` runs of n."""
    return float(np.sqrt(n * pool_runs / (pool_runs + 1)))


def reference(params: ScenarioParams, pop: Population, seed: int, days: int, n_runs: int) -> Reference:
    """`n_runs` scslab runs on `pop` with independent seeds, and their leave-one-out KS distances."""
    if n_runs < 3:
        raise ValueError(f"--null-runs: {n_runs} is too few (allowed: 3 or more)")
    runs = [run_scslab(params, pop, seed + SEED_STEP * j, days) for j in range(n_runs)]
    scores = [r.score for r in runs]
    scale = ks_scale(scores[0].size, n_runs - 1)
    null_k = np.array(
        [scale * ks_distance(s, np.concatenate(scores[:j] + scores[j + 1 :])) for j, s in enumerate(scores)]
    )
    return Reference(runs, np.concatenate(scores), null_k)


@dataclass(frozen=True)
class Agreement:
    """A peer's run against scslab's reference runs: KS on the final scores, blacklisted share."""

    ks_d: float
    ks_t: float
    ks_p: float
    share: float
    share_t: float
    share_p: float
    trips_t: float

    @property
    def agrees(self) -> bool:
        return self.ks_p >= ALPHA and self.share_p >= ALPHA


def t_new(value: float, sample: np.ndarray) -> float:
    """t of a new draw against a sample of R: (x - mean) / (sd * sqrt(1 + 1/R)), R - 1 degrees of freedom."""
    sd = float(np.std(sample, ddof=1)) * np.sqrt(1.0 + 1.0 / sample.size)
    diff = value - float(np.mean(sample))
    return diff / sd if sd > 0 else (0.0 if diff == 0 else float(np.copysign(np.inf, diff)))


def agreement(ref: Reference, peer: Outcome) -> Agreement:
    """Calibrated two-sample KS test of the final scores and t test of the blacklisted share.

    KS: the peer's distance to the pooled scslab scores, scaled to the Kolmogorov statistic,
    against the same statistic of each scslab run (on a log scale, where it is close to
    normal); one-sided, since only a large distance is evidence. Share: two-sided t.
    """
    r = len(ref.runs)
    d = ks_distance(peer.score, ref.pooled)
    ks_t = t_new(float(np.log(ks_scale(peer.score.size, r) * d)), np.log(ref.null_k))
    share = float(peer.blacklisted.mean())
    share_t = t_new(share, ref.shares)
    return Agreement(
        ks_d=d,
        ks_t=ks_t,
        ks_p=float(stats.t.sf(ks_t, df=r - 1)),
        share=share,
        share_t=share_t,
        share_p=float(2 * stats.t.sf(abs(share_t), df=r - 1)),
        trips_t=t_new(float(peer.trips_denied), ref.trips),
    )


def warm_up(params: ScenarioParams, model: ReducedModel) -> None:
    """Run each engine once on a small population so that imports and JIT compilation are not timed."""
    small = params.model_copy(update={"population": params.population.model_copy(update={"size": 1000})})
    pop, shared = shared_population(small, 0)
    run_scslab(small, pop, 0, 5)
    run_mesa(model, shared, 0, 5)
    run_starsim(model, shared, 0, 5)


@dataclass
class Timing:
    engine: str
    size: int
    days: int
    seconds_per_day: float
    setup_seconds: float


def fmt_ms(seconds: float) -> str:
    return f"{1000 * seconds:,.2f}"


def print_agreement(rows: list[tuple[int, int, str, Reference, Outcome, Agreement]], days: int) -> None:
    print(f"### Agreement after {days} days (same population and friends, independent random streams)\n")
    print(
        "| citizens | seed | peer | KS D to scslab | scslab runs' D (mean) | t | p "
        "| blacklisted: scslab runs, mean ± sd | peer | t | p | trips denied: scslab mean / peer (t) | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size, seed, name, ref, peer, a in rows:
        shares = ref.shares
        null_d = ref.null_k / ks_scale(size, len(ref.runs) - 1)
        print(
            f"| {size:,} | {seed} | {name} | {a.ks_d:.4f} | {null_d.mean():.4f} | {a.ks_t:+.2f} | {a.ks_p:.3f} "
            f"| {shares.mean():.3%} ± {shares.std(ddof=1):.3%} | {a.share:.3%} | {a.share_t:+.2f} | {a.share_p:.3f} "
            f"| {ref.trips.mean():,.0f} / {peer.trips_denied:,} ({a.trips_t:+.2f}) "
            f"| {'agree' if a.agrees else 'DIFFER'} |"
        )
    r = len(rows[0][3].runs) if rows else 0
    print(
        f"\nEach peer's single run is judged against {r} scslab runs on the same population (seeds seed + "
        f"{SEED_STEP:,} j), because citizens' scores are not independent (friends are charged together) and iid "
        "tests reject even scslab against itself. KS: the peer's D to the pooled scslab scores against each scslab "
        "run's D to the pool of the others (on a log scale, scaled by sqrt(n1 n2 / (n1 + n2)), one-sided t with R - 1 "
        "degrees of freedom). Blacklisted share (and denied trips): t against the runs' mean and SD. "
        f"Verdict: agree when both p >= {ALPHA}.\n"
    )


def print_speed(timings: list[Timing]) -> None:
    print("### Speed: wall time per simulated day (setup excluded)\n")
    print("| citizens | engine | days timed | ms per day | setup (s) | engine / scslab |")
    print("|---|---|---|---|---|---|")
    ref = {(t.size): t.seconds_per_day for t in timings if t.engine == "scslab"}
    for t in sorted(timings, key=lambda t: (t.size, t.engine != "scslab", t.engine)):
        r = t.seconds_per_day / ref[t.size]
        ratio = "1" if t.engine == "scslab" else (f"{r:,.0f}x" if r >= 100 else f"{r:.1f}x")
        print(f"| {t.size:,} | {t.engine} | {t.days} | {fmt_ms(t.seconds_per_day)} | {t.setup_seconds:.2f} | {ratio} |")
    print()


def parse_sizes(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=parse_sizes, default=[10_000, 100_000], help="citizens, all three engines")
    ap.add_argument("--starsim-sizes", type=parse_sizes, default=[1_000_000], help="extra sizes: scslab and Starsim")
    ap.add_argument("--days", type=int, default=365, help="days simulated by every engine (agreement and speed)")
    ap.add_argument("--seeds", type=parse_sizes, default=[1], help="seeds (each: its own population)")
    ap.add_argument(
        "--skip-mesa-above",
        type=int,
        default=100_000,
        help="above this size Mesa is only timed, on --mesa-days days, not compared",
    )
    ap.add_argument("--mesa-days", type=int, default=20, help="days Mesa is timed on above --skip-mesa-above")
    ap.add_argument("--null-runs", type=int, default=10, help="scslab runs per population that calibrate the tests")
    args = ap.parse_args(argv)

    scenario = scslab.load_scenario(SCENARIO)
    model = reduced_model(scenario.params)
    start = time.perf_counter()
    warm_up(scenario.params, model)
    rows: list[tuple[int, int, str, Reference, Outcome, Agreement]] = []
    timings: list[Timing] = []
    plan = [(n, True) for n in args.sizes] + [(n, False) for n in args.starsim_sizes if n not in args.sizes]
    for size, with_mesa in plan:
        params = scenario.with_overrides({"population.size": size}).params
        for k, seed in enumerate(args.seeds):
            pop, shared = shared_population(params, seed)
            ref = reference(params, pop, seed, args.days, args.null_runs)
            engines: list[tuple[str, Callable[..., Outcome], int]] = [("starsim", run_starsim, args.days)]
            if with_mesa:
                days = args.days if size <= args.skip_mesa_above else args.mesa_days
                engines.insert(0, ("mesa", run_mesa, days))
            for name, runner, days in engines:
                out = runner(model, shared, seed, days)
                if days == args.days:
                    rows.append((size, seed, name, ref, out, agreement(ref, out)))
                if k == 0:  # speed from the first seed
                    timings.append(Timing(name, size, days, out.loop_seconds / days, out.setup_seconds))
            if k == 0:  # scslab: the median of its reference runs
                per_day = float(np.median([r.loop_seconds / r.days for r in ref.runs]))
                setup = float(np.median([r.setup_seconds for r in ref.runs]))
                timings.append(Timing("scslab", size, args.days, per_day, setup))
            print(f"done: {size:,} citizens, seed {seed} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)

    print(
        f"## scslab vs Mesa and Starsim ({dt.date.today()}, {platform.machine()}, Python {platform.python_version()}, "
        f"scslab {scslab.__version__}, mesa {_version('mesa')}, starsim {_version('starsim')})\n"
    )
    print(f"Command: `{' '.join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])])}`\n")
    print_agreement(rows, args.days)
    print_speed(timings)
    print(f"Total wall time: {time.perf_counter() - start:.0f} s")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
