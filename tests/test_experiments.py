"""Experiments: seeds, designs, ensembles, sweeps, sensitivity, calibration, executors, retries, resume."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import scslab
from scslab.cli import app
from scslab.errors import ScslabError
from scslab.experiments import Options, Target, calibrate, ensemble, sensitivity, sweep
from scslab.experiments.design import grid_points, parse_param, parse_params, run_seeds
from scslab.experiments.executors import BaseScenario, DaskExecutor, LocalExecutor, RunOutput, Task, execute
from scslab.experiments.store import RunsFailedError
from scslab.experiments.targets import load_targets

SMALL = {"population.size": 2000, "days": 30}


@pytest.fixture(scope="module")
def small() -> scslab.Scenario:
    return scslab.load_scenario("beijing-2020").with_overrides(SMALL)


def inline(root: Path, **kw: object) -> Options:
    """Options that run in this process (fast), writing under `root`."""
    return Options(executor=LocalExecutor(0), root=root, **kw)


def crash_once(task: Task, base: BaseScenario) -> RunOutput:
    """Run a task, but kill the worker process the first time run 1 is tried (a marker file remembers)."""
    marker = Path(os.environ["SCSLAB_TEST_CRASH_MARKER"])
    if task.index == 1 and not marker.exists():
        marker.touch()
        os._exit(3)
    return execute(task, base)


def fail_run_2(task: Task, base: BaseScenario) -> RunOutput:
    if task.index == 2:
        raise RuntimeError("boom")
    return execute(task, base)


def catalogue(root: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    with duckdb.connect(str(root / "catalog.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).df()


def assert_same_bytes(a: Path, b: Path, *names: str) -> None:
    """The aggregates of two experiments are the same files, byte for byte (not frames within a tolerance)."""
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def run_rows(root: Path, experiment_id: str) -> pd.DataFrame:
    """An experiment's runs and metrics without what differs between two executions (id, times, paths)."""
    return catalogue(
        root,
        "SELECT r.run_index, r.point, r.replicate, r.seed, map_keys(r.params) AS k, map_values(r.params) AS v, "
        "m.metric, m.value FROM runs r JOIN metrics m USING (experiment_id, run_index) "
        "WHERE experiment_id = ? ORDER BY r.run_index, m.metric",
        [experiment_id],
    )


# Seeds and designs.


def test_run_seeds_start_at_the_experiment_seed() -> None:
    """--seed S is the first run seed, as on every command: replicate r runs with seed S + r."""
    assert run_seeds(7, 5) == [7, 8, 9, 10, 11]
    assert run_seeds(7, 3) == run_seeds(7, 5)[:3]  # a longer experiment extends a shorter one
    assert run_seeds(2**63 - 2, 2) == [2**63 - 2, 2**63 - 1]
    with pytest.raises(ScslabError, match="--seed"):
        run_seeds(2**63 - 2, 3)


def test_param_specs(small: scslab.Scenario) -> None:
    grid = parse_param("events.criticism.points=-100:-10:10", small)
    assert grid.values == tuple(float(v) for v in range(-100, 0, 10)) and not grid.integer
    size = parse_param("population.size=1000:3000:500", small)
    assert size.integer and size.values == (1000, 1500, 2000, 2500, 3000)
    assert all(isinstance(v, int) for v in size.values)
    rng = parse_param("events.jaywalking.rate=0.001:0.01", small)
    assert rng.values is None and (rng.low, rng.high) == (0.001, 0.01)
    listed = parse_param("sources.cameras.coverage=0.2,0.5,0.9", small)
    assert listed.values == (0.2, 0.5, 0.9)
    points = grid_points([grid, listed])
    assert len(points) == 30 and points[0] == {"events.criticism.points": -100.0, "sources.cameras.coverage": 0.2}
    assert points[1]["sources.cameras.coverage"] == 0.5  # the last param varies fastest


BAD_PARAMS = {
    "no equals": ("events.criticism.points", "no '='"),
    "unknown key": ("events.nope.rate=0:1", "not a key of scenario"),
    "not numeric": ("name=1:2", "holds str"),
    "bad number": ("events.criticism.rate=a:1", "'a' is not a number"),
    "empty range": ("events.criticism.rate=0.5:0.1", "is not below HIGH"),
    "wrong step": ("events.criticism.points=-100:-10:-10", "does not lead"),
    "integer": ("population.size=1000.5:2000", "not an integer"),
    "out of range": ("sources.cameras.coverage=0.5:1.5", "sources.cameras.coverage"),
    "too many parts": ("events.criticism.rate=1:2:3:4", "is not a spec"),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_bad_param_spec_is_one_line(small: scslab.Scenario, case: str) -> None:
    text, needle = BAD_PARAMS[case]
    with pytest.raises(ScslabError) as info:
        parse_params([text], small, need="range")
    message = str(info.value)
    assert needle in message and "\n" not in message and message.startswith("--param")


def test_grid_needs_a_step(small: scslab.Scenario) -> None:
    with pytest.raises(ScslabError, match="a range has no grid values"):
        parse_params(["events.criticism.rate=0.1:0.2"], small, need="grid")
    with pytest.raises(ScslabError, match="given twice"):
        parse_params(["days=10:20", "days=5:8"], small)


# Ensembles.


def test_ensemble_bands_bracket_the_runs(tmp_path: Path, small: scslab.Scenario) -> None:
    res = ensemble(small, 6, seed=3, options=inline(tmp_path))
    runs = sorted((res.directory / "runs").iterdir())
    assert res.runs == res.executed == len(runs) == 6
    frames = [pd.read_parquet(p / "timeseries.parquet") for p in runs]
    for metric in ("score_mean", "political_events", "events_jaywalking", "tier_B"):
        values = np.stack([f[metric].to_numpy() for f in frames])  # runs x days
        band = res.bands[res.bands["metric"] == metric].sort_values("day")
        assert band["day"].tolist() == list(range(30))
        for q, col in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
            np.testing.assert_allclose(band[col], np.quantile(values, q, axis=0), rtol=1e-12)
        assert (values.min(axis=0) <= band["p10"].to_numpy() + 1e-12).all()
        assert (band["p10"] <= band["p50"]).all() and (band["p50"] <= band["p90"]).all()
        assert (band["p90"].to_numpy() <= values.max(axis=0) + 1e-12).all()
    # The intervals are those of the runs' summary figures; the mean lies inside its interval.
    figures = [json.loads((p / "summary.json").read_text())["figures"] for p in runs]
    for row in res.intervals.itertuples():
        values = np.array([f[row.metric]["value"] for f in figures])
        assert row.runs == 6 and row.mean == pytest.approx(values.mean())
        assert row.p50 == pytest.approx(np.median(values))
        assert row.ci_low <= row.mean <= row.ci_high
    # A run is a pure function of (scenario, seed): rerun one from its recorded seed.
    task = json.loads((runs[4] / "task.json").read_text())
    assert task["seed"] == run_seeds(3, 6)[4]
    direct = scslab.simulate(small, seed=task["seed"])
    pd.testing.assert_frame_equal(direct.timeseries, frames[4])
    direct.save(tmp_path / "direct")  # its listing episodes too, byte for byte
    assert (runs[4] / "listings.parquet").read_bytes() == (tmp_path / "direct" / "listings.parquet").read_bytes()


def test_same_experiment_twice_gives_identical_rows(tmp_path: Path, small: scslab.Scenario) -> None:
    a = ensemble(small, 4, options=inline(tmp_path, experiment_id="a"))
    b = ensemble(small, 4, options=inline(tmp_path, experiment_id="b"))
    rows = run_rows(tmp_path, "a")
    assert len(rows) == 4 * len(
        json.loads(next((a.directory / "runs").iterdir()).joinpath("summary.json").read_text())["figures"]
    )
    pd.testing.assert_frame_equal(rows, run_rows(tmp_path, "b"), check_exact=True)
    assert_same_bytes(a.directory, b.directory, "bands.parquet", "intervals.parquet")
    with pytest.raises(ScslabError, match="already exists"):
        ensemble(small, 4, options=inline(tmp_path, experiment_id="a"))


def test_local_pool_and_dask_cluster_agree_exactly(tmp_path: Path, small: scslab.Scenario) -> None:
    local = ensemble(small, 4, options=Options(LocalExecutor(2), tmp_path, "local"))
    with DaskExecutor(workers=2, processes=False) as cluster:
        remote = ensemble(small, 4, options=Options(cluster, tmp_path, "dask"))
    pd.testing.assert_frame_equal(run_rows(tmp_path, "local"), run_rows(tmp_path, "dask"), check_exact=True)
    assert_same_bytes(local.directory, remote.directory, "bands.parquet", "intervals.parquet")


def test_a_dead_worker_is_retried(tmp_path: Path, small: scslab.Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "crashed"
    monkeypatch.setenv("SCSLAB_TEST_CRASH_MARKER", str(marker))
    res = ensemble(small, 4, options=Options(LocalExecutor(2), tmp_path, "crashy", work=crash_once))
    assert marker.exists()  # run 1's worker did die
    assert res.executed == 4
    clean = ensemble(small, 4, options=inline(tmp_path, experiment_id="clean"))
    pd.testing.assert_frame_equal(run_rows(tmp_path, "crashy"), run_rows(tmp_path, "clean"), check_exact=True)
    assert_same_bytes(res.directory, clean.directory, "bands.parquet", "intervals.parquet")


def test_resume_runs_exactly_the_missing_runs(tmp_path: Path, small: scslab.Scenario) -> None:
    seen: list[int] = []

    def stop_after_3(done: int, total: int) -> None:
        seen.append(done)
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ensemble(small, 7, options=inline(tmp_path, experiment_id="e", progress=stop_after_3))
    directory = tmp_path / "experiments" / "e"
    assert len(list((directory / "runs").iterdir())) == 3
    assert len(catalogue(tmp_path, "SELECT * FROM runs")) == 3  # written before the interrupt left
    # A run written to disk but not yet catalogued is catalogued on resume, not run again.
    with duckdb.connect(str(tmp_path / "catalog.duckdb")) as con:
        con.execute("DELETE FROM metrics WHERE run_index = 0")
        con.execute("DELETE FROM runs WHERE run_index = 0")
    with pytest.raises(ScslabError, match="already exists"):
        ensemble(small, 7, options=inline(tmp_path, experiment_id="e"))
    with pytest.raises(ScslabError, match="other arguments"):
        ensemble(small, 8, options=inline(tmp_path, experiment_id="e", resume=True))
    res = ensemble(small, 7, options=inline(tmp_path, experiment_id="e", resume=True))
    assert res.executed == 4 and res.runs == 7
    assert catalogue(tmp_path, "SELECT count(*) AS n FROM runs")["n"][0] == 7
    assert catalogue(tmp_path, "SELECT finished_at FROM experiments")["finished_at"].notna().all()
    whole = ensemble(small, 7, options=inline(tmp_path, experiment_id="whole"))
    pd.testing.assert_frame_equal(run_rows(tmp_path, "e"), run_rows(tmp_path, "whole"), check_exact=True)
    assert_same_bytes(res.directory, whole.directory, "bands.parquet", "intervals.parquet")
    again = ensemble(small, 7, options=inline(tmp_path, experiment_id="e", resume=True))
    assert again.executed == 0


def test_a_failing_run_is_reported_and_resumed(tmp_path: Path, small: scslab.Scenario) -> None:
    with pytest.raises(RunsFailedError) as info:
        ensemble(small, 4, options=inline(tmp_path, experiment_id="f", work=fail_run_2))
    assert "1 of 4 runs failed" in str(info.value) and "boom" in str(info.value) and "\n" not in str(info.value)
    assert catalogue(tmp_path, "SELECT finished_at FROM experiments")["finished_at"].isna().all()
    res = ensemble(small, 4, options=inline(tmp_path, experiment_id="f", resume=True))
    assert res.executed == 1


# Sweeps.


def test_grid_sweep_means_over_seeds(tmp_path: Path, small: scslab.Scenario) -> None:
    res = sweep(
        small,
        ["events.jaywalking.rate=0.001,0.01", "events.criticism.points=-90:-10:40"],
        seeds=2,
        metrics=["events_jaywalking", "score_mean"],
        options=inline(tmp_path),
    )
    table = res.points
    assert len(table) == 6 and res.runs == 12
    assert table["events.jaywalking.rate"].tolist() == [0.001] * 3 + [0.01] * 3
    assert table["events.criticism.points"].tolist() == [-90.0, -50.0, -10.0] * 2
    runs = catalogue(
        tmp_path,
        "SELECT r.point, r.params['events.jaywalking.rate'] AS rate, m.value FROM runs r "
        "JOIN metrics m USING (experiment_id, run_index) WHERE m.metric = 'events_jaywalking' ORDER BY r.run_index",
    )
    means = runs.groupby("point")["value"].mean()
    np.testing.assert_allclose(table["events_jaywalking"], means.to_numpy())
    assert (runs.groupby("point")["rate"].nunique() == 1).all()
    # Events are Poisson with a mean proportional to the rate: 10 times the rate gives about 10 times the events.
    low = table[table["events.jaywalking.rate"] == 0.001]["events_jaywalking"].sum()
    high = table[table["events.jaywalking.rate"] == 0.01]["events_jaywalking"].sum()
    assert 7 < high / low < 13
    assert res.correlations.set_index("metric").loc["events_jaywalking", "events.jaywalking.rate"] > 0.5


def test_lhs_sweep_stratifies_each_range(tmp_path: Path, small: scslab.Scenario) -> None:
    n = 5
    res = sweep(
        small,
        ["events.criticism.points=-100:-10", "population.size=1000:3000"],
        design="lhs",
        n=n,
        metrics=["political_events"],
        options=inline(tmp_path),
    )
    points = res.points
    assert len(points) == n
    # One point in each fifth of each range (up to the rounding of the integer key).
    u = (points["events.criticism.points"] + 100) / 90
    assert sorted(np.floor(u * n).astype(int)) == list(range(n))
    sizes = points["population.size"]
    assert all(isinstance(v, (int, np.integer)) for v in sizes) and sizes.between(1000, 3000).all()
    assert sorted(np.floor((sizes - 1000) / 2000 * n - 1e-9).clip(0, n - 1).astype(int)) == list(range(n))


# Sensitivity.


def test_sobol_finds_the_parameter_that_matters(tmp_path: Path, small: scslab.Scenario) -> None:
    """Jaywalking events scale with their rate; in 30 days nobody is listed long enough for appeals to matter."""
    res = sensitivity(
        small,
        ["events.jaywalking.rate=0.001:0.01", "appeal.rate=0:0.5"],
        n=16,
        metrics=["events_jaywalking", "score_mean"],
        options=inline(tmp_path),
    )
    assert res.runs == 16 * 4
    idx = res.indices.set_index(["metric", "parameter"])
    for metric in ("events_jaywalking", "score_mean"):
        rate, appeal = idx.loc[(metric, "events.jaywalking.rate")], idx.loc[(metric, "appeal.rate")]
        assert rate["ST"] > 0.5 and rate["S1"] > 0.5
        assert abs(appeal["ST"]) < 0.05 and abs(appeal["S1"]) < 0.05
        assert rate["ST_conf"] >= 0 and np.isfinite(rate["S1_conf"])


def test_morris_screens_the_same(tmp_path: Path, small: scslab.Scenario) -> None:
    res = sensitivity(
        small,
        ["events.jaywalking.rate=0.001:0.01", "appeal.rate=0:0.5"],
        method="morris",
        n=4,
        metrics=["events_jaywalking"],
        options=inline(tmp_path),
    )
    idx = res.indices.set_index("parameter")
    assert idx.loc["events.jaywalking.rate", "mu_star"] > 20 * max(idx.loc["appeal.rate", "mu_star"], 1e-9)
    with pytest.raises(ScslabError, match="power of 2"):
        sensitivity(small, ["days=10:20"], n=10, options=inline(tmp_path))


# Calibration.


def test_calibration_recovers_a_known_rate(tmp_path: Path, small: scslab.Scenario) -> None:
    # 20,000 citizens: about 2,000 events, so the Poisson noise of one run (2%) is well inside the
    # 10% asked of the fit (at 2,000 citizens it is 7%, and a fit may land 10% off by chance)
    small = small.with_overrides({"population.size": 20_000})
    true_rate = 0.004
    seed = run_seeds(1, 1)[0]  # the seed of replicate 0 in every trial (the default --seed)
    target = scslab.simulate(small.with_overrides({"events.jaywalking.rate": true_rate}), seed=seed)
    value = target.figures["events_jaywalking"]
    res = calibrate(
        small,
        [Target("events_jaywalking", value, max(1.0, 0.05 * value))],
        ["events.jaywalking.rate=0.001:0.01"],
        trials=30,
        options=inline(tmp_path),
    )
    fitted = res.best["events.jaywalking.rate"]
    assert abs(fitted - true_rate) / true_rate < 0.1
    assert res.best_loss == res.trials["loss"].min() and res.targets["z"].abs().iloc[0] < 1
    text = res.fitted_path.read_text()
    assert 'extends = "beijing-2020"' in text
    again = scslab.load_scenario(res.fitted_path)
    assert again.params == small.with_overrides(res.best).params
    written = set(again.raw) - {"extends"}
    assert written <= set(small.raw) and again.raw["events"]["jaywalking"]["rate"] == fitted


def test_calibration_with_a_targets_file_and_a_day(tmp_path: Path, small: scslab.Scenario) -> None:
    seed = run_seeds(5, 1)[0]
    run = scslab.simulate(small.with_overrides({"events.criticism.rate": 0.001}), seed=seed)
    on_day = float(run.timeseries["political_events"][:20].sum())  # a flow: summed up to day 19
    (tmp_path / "targets.toml").write_text(
        f'[parameters]\n"events.criticism.rate" = [0.0002, 0.003]\n\n'
        f'[[targets]]\nmetric = "political_events"\nday = 19\nvalue = {on_day}\ntolerance = {max(1.0, 0.1 * on_day)}\n'
    )
    res = calibrate(small, tmp_path / "targets.toml", trials=12, seed=5, options=inline(tmp_path))
    assert res.targets["target"].tolist() == ["political_events@19"]
    best = res.trials.loc[res.trials["loss"].idxmin()]
    assert best["sim_political_events@19"] == pytest.approx(res.targets["simulated"].iloc[0])
    assert 0.0002 <= res.best["events.criticism.rate"] <= 0.003


def test_calibration_resumes_with_the_same_trials(tmp_path: Path, small: scslab.Scenario) -> None:
    """Optuna's seeded sampler asks the same trials again, so a resumed fit reruns only the missing runs."""
    targets = [Target("events_jaywalking", 200, 10)]
    params = ["events.jaywalking.rate=0.001:0.01"]

    def stop_after_9(done: int, total: int) -> None:
        if done == 9:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        calibrate(small, targets, params, trials=16, options=inline(tmp_path, experiment_id="c", progress=stop_after_9))
    resumed = calibrate(small, targets, params, trials=16, options=inline(tmp_path, experiment_id="c", resume=True))
    whole = calibrate(small, targets, params, trials=16, options=inline(tmp_path, experiment_id="whole"))
    assert resumed.executed == 16 - 9 and whole.executed == 16
    assert_same_bytes(resumed.directory, whole.directory, "trials.parquet")
    assert resumed.best == whole.best


def test_the_targets_example_in_the_docs_loads(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "experiments.md"
    (block,) = re.findall(r"```toml\n(.*?)```", docs.read_text(), flags=re.S)
    assert block in (docs.parents[1] / "examples" / "targets.toml").read_text()  # the file the docs name
    (tmp_path / "targets.toml").write_text(block)
    targets, params = load_targets(tmp_path / "targets.toml", scslab.load_scenario("beijing-2020"))
    assert [t.label for t in targets] == ["blacklisted", "trips_denied@180"] and targets[0].real
    assert params == ["events.criticism.rate=0.0001:0.002", "sources.cameras.misattribution=0.0:0.05"]


BAD_TARGETS = {
    "malformed": ("[[targets]\n", "malformed TOML"),
    "empty": ("", "targets: missing or empty"),
    "unknown top": ('foo = 1\n[[targets]]\nmetric = "blacklisted"\nvalue = 1\ntolerance = 1\n', "foo: unknown key"),
    "unknown metric": ('[[targets]]\nmetric = "nope"\nvalue = 1\ntolerance = 1\n', "targets[0].metric"),
    "zero tolerance": ('[[targets]]\nmetric = "blacklisted"\nvalue = 1\ntolerance = 0\n', "targets[0].tolerance"),
    "missing value": ('[[targets]]\nmetric = "blacklisted"\ntolerance = 1\n', "targets[0].value: missing"),
    "day too late": ('[[targets]]\nmetric = "blacklisted"\nday = 30\nvalue = 1\ntolerance = 1\n', "[0, 29]"),
    "day of summary": ('[[targets]]\nmetric = "ever_blacklisted"\nday = 3\nvalue = 1\ntolerance = 1\n', "no daily"),
    "real share": ('[[targets]]\nmetric = "wrongful_share"\nvalue = 1\ntolerance = 1\nreal = true\n', "not a count"),
    "bad range": (
        '[parameters]\n"days" = [1]\n[[targets]]\nmetric = "blacklisted"\nvalue = 1\ntolerance = 1\n',
        "days",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_bad_targets_file_is_one_line(tmp_path: Path, small: scslab.Scenario, case: str) -> None:
    text, needle = BAD_TARGETS[case]
    path = tmp_path / "targets.toml"
    path.write_text(text)
    with pytest.raises(ScslabError) as info:
        calibrate(small, path, trials=2, options=inline(tmp_path))
    assert needle in str(info.value) and "\n" not in str(info.value) and str(path) in str(info.value)
    assert not (tmp_path / "experiments").exists()


# The commands.


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_commands_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    small = ["--set", "population.size=2000", "--set", "days=20", "--workers", "0"]
    res = cli("ensemble", "beijing-2020", "--seeds", "3", *small, "--id", "ens")
    assert res.exit_code == 0, res.output
    assert "ens: 3 runs" in res.stdout and (tmp_path / "runs/experiments/ens/bands.parquet").exists()
    res = cli("sweep", "beijing-2020", "--param", "events.criticism.points=-60:-20:20", *small, "--id", "sw")
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(tmp_path / "runs/experiments/sw/points.parquet")) == 3
    (tmp_path / "t.toml").write_text('[[targets]]\nmetric = "political_events"\nvalue = 10\ntolerance = 2\n')
    res = cli("calibrate", "beijing-2020", "--targets", "t.toml", "--param", "events.criticism.rate=0.0001:0.002",
              "--trials", "4", "--fitted", "fitted.toml", *small)  # fmt: skip
    assert res.exit_code == 0, res.output
    fitted = scslab.load_scenario(tmp_path / "fitted.toml")
    assert fitted.params.population.size == 2000 and fitted.params.days == 20
    res = cli("runs", "--sql", "SELECT kind, count(*) AS n FROM experiments GROUP BY kind ORDER BY kind")
    assert res.exit_code == 0, res.output
    assert [line.split()[1:4:2] for line in res.stdout.splitlines() if line.startswith("│")] == [
        ["calibrate", "1"],
        ["ensemble", "1"],
        ["sweep", "1"],
    ]
    res = cli("runs", "--experiment", "ens")
    assert res.exit_code == 0 and "runs of ens" in res.stdout
    assert cli("runs", "--experiment", "nope").exit_code == 2


@pytest.mark.parametrize(
    "args, needle",
    [
        (["sweep", "beijing-2020", "--param", "events.criticism.points=-10:-100:10"], "does not lead"),
        (["sweep", "beijing-2020", "--param", "events.criticism.rate=0:1", "--design", "cube"], "--design"),
        (["sensitivity", "beijing-2020", "--param", "events.nope=0:1"], "not a key of scenario"),
        (["ensemble", "beijing-2020", "--seeds", "0"], "--seeds"),
        (["ensemble", "beijing-2020", "--metric", "nope"], "unknown metric"),
        (["ensemble", "beijing-2020", "--executor", "spark"], "--executor"),
        (["ensemble", "beijing-2020", "--scheduler", "tcp://x:1"], "--scheduler"),
        (["ensemble", "beijing-2020", "--resume"], "--resume: no experiment"),
        (["ensemble", "beijing-2020", "--set", "days=0"], "days"),
        (["calibrate", "beijing-2020", "--targets", "missing.toml"], "missing.toml: file not found"),
        (["runs"], "no run catalogue"),
        (["runs", "--sql", "SELECT 1"], "no run catalogue"),
    ],
)
def test_bad_command_input_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], needle: str
) -> None:
    monkeypatch.chdir(tmp_path)
    res = cli(*args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written
