"""The command line end to end: outputs, bad inputs (one line, exit 2, nothing left), reproducibility."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from runkit import SCSLAB, SMALL, cli, set_options

SMALL_SET = set_options(SMALL)


def test_run_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli("run", "beijing-2020", *SMALL_SET, "--seed", "3", "--out", str(out), "--save-people", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {
        "timeseries.parquet",
        "breakdowns.parquet",
        "listings.parquet",
        "summary.json",
        "scenario.toml",
        "people.parquet",
        "report.html",
        "baseline_timeseries.parquet",  # the baseline runs by default, for the chilling effect
    }
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 40 and ts["day"].tolist() == list(range(40))
    for name in (
        "score_mean",
        "score_p10",
        "score_p50",
        "score_p90",
        "blacklisted",
        "blacklisted_wrongful",
        "listings_new",
        "appeals_won",
        "trips_denied",
        "speech_suppressed",
        "political_events",
        "promotions_granted",
        "promotions_blocked",
        "green_channel_benefits",
        "red_loans",
        "children_restricted",
        "firms_blacklisted",
        "ties_cut",
        "rho_mean",
    ):
        assert name in ts.columns, name
    people = pd.read_parquet(out / "people.parquet")
    assert len(people) == 3000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["scslab_version"]
    assert "Blacklisted at the end" in res.stdout
    assert "Chilling effect" in res.stdout and "95% interval" in res.stdout


def test_resolved_scenario_reruns_identically(tmp_path: Path) -> None:
    """The written scenario.toml reproduces the run exactly with the same seed."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli("run", "beijing-2020", *SMALL_SET, "--out", str(a), "--quiet", cwd=tmp_path).returncode == 0
    res = cli("run", str(a / "scenario.toml"), "--out", str(b), "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (a / "timeseries.parquet").read_bytes() == (b / "timeseries.parquet").read_bytes()
    assert pd.read_parquet(a / "timeseries.parquet").equals(pd.read_parquet(b / "timeseries.parquet"))


def test_default_out_dir_and_profile(tmp_path: Path) -> None:
    res = cli("run", "beijing-2020", *SMALL_SET, "--quiet", "--profile", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    runs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1 and runs[0].name.startswith("beijing-2020-1-")
    assert (tmp_path / "runs" / "catalog.duckdb").is_file()  # the run is in the catalogue of runs/
    for phase in ("population", "behaviour", "surveillance", "scoring", "sanctions", "feedback", "metrics"):
        assert phase in res.stdout


def test_scenarios_lists_presets(tmp_path: Path) -> None:
    res = cli("scenarios", cwd=tmp_path)
    assert res.returncode == 0 and "beijing-2020" in res.stdout


def test_help_lists_the_commands_in_their_order(tmp_path: Path) -> None:
    """The commands of the cli package's modules, in the order they register: runs, experiments, audit, the lab."""
    res = cli("--help", cwd=tmp_path)
    order = ["run", "scenarios", "report", "compare", "ensemble", "sweep", "sensitivity", "calibrate", "runs", "audit",
             "lab"]
    lines = [line.strip("│ ").split(" ")[0] for line in res.stdout.splitlines()]
    assert res.returncode == 0 and [name for name in lines if name in order] == order


BAD = {
    "malformed": ("name = 'x'\n[population\nsize = 10\n", "malformed TOML"),
    "unknown_key": ("[population]\nsise = 1000\n", "population.sise"),
    "wrong_type": ("[population]\nsize = 'many'\n", "population.size"),
    "probability": ("[sources.cameras]\ncoverage = 1.5\n", "sources.cameras.coverage"),
    "negative_rate": (
        "[sources.cameras]\ncoverage = 0.5\n[events.x]\nrate = -1\npoints = -5\nsource = 'cameras'\n",
        "events.x.rate",
    ),
    "missing_source": ("[events.x]\nrate = 0.1\npoints = -5\nsource = 'radar'\n", "radar"),
    "missing_tier": ("[[sanctions]]\neffect = 'travel_ban'\ntrigger = 'tier <= Z'\n", "sanctions[0].trigger"),
    "too_big": ("[population]\nsize = 2_000_000_000\n", "population.size"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, case: str) -> None:
    text, needle = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    res = cli("run", str(path), "--out", str(out), cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and needle in lines[0]
    assert not out.exists() and not (tmp_path / "runs").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.toml"]


def test_missing_file_and_bad_set(tmp_path: Path) -> None:
    res = cli("run", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert res.returncode == 2 and "nope.toml" in res.stderr and "Traceback" not in res.stderr
    res = cli("run", "beijing-2020", "--set", "events.criticism.rate=-3", cwd=tmp_path)
    assert res.returncode == 2 and "events.criticism.rate" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("run", "no-such-preset", cwd=tmp_path)
    assert res.returncode == 2 and "beijing-2020" in res.stderr
    assert not (tmp_path / "runs").exists()


def test_extends_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    res = cli("run", str(tmp_path / "a.toml"), cwd=tmp_path)
    assert res.returncode == 2 and "cycle" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["run", "--seed", "-1"], ["run", "--bogus"], ["nosuch"]])
def test_usage_errors_are_one_line(tmp_path: Path, args: list[str]) -> None:
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_error_text_in_brackets_is_printed_as_is(tmp_path: Path) -> None:
    """Messages are plain text: brackets in them are not taken for console markup."""
    res = cli("run", "beijing-2020", "--set", "score.start=1000", cwd=tmp_path)
    assert res.returncode == 2 and "[min, max]" in res.stderr


def test_a_run_too_large_for_memory_is_refused(tmp_path: Path) -> None:
    """Twice the citizens that available memory could hold: one line naming the key, the need,
    what is available and the largest size allowed; exit 2; nothing written."""
    from scslab.hardware import available_bytes

    size = min(2_000_000_000, 2 * available_bytes() // 200)
    out = tmp_path / "run"
    res = cli("run", "beijing-2020", "--set", f"population.size={size}", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "population.size" in lines[0] and "GiB" in lines[0] and "at most" in lines[0]
    allowed = int(lines[0].split("at most ")[1].split(" citizens")[0].replace(",", ""))
    assert 0 < allowed < size
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_memory_estimate_bounds_the_measured_peak(tmp_path: Path) -> None:
    """The estimate made before allocating is above the peak resident memory a run reaches, and
    not far above it (beijing-2020 at 1,000,000 citizens for 30 days): at most 1.8 times, since the
    fixed part covers a first run that compiles the kernels (tests/test_bounds.py bounds generated
    scenarios within 2.5 times)."""
    import os

    from scslab.api import load_scenario
    from scslab.memory import estimate_peak_bytes

    overrides = {"population.size": 1_000_000, "days": 30}
    estimate = estimate_peak_bytes(load_scenario("beijing-2020").with_overrides(overrides).params)
    cmd = [*SCSLAB, "run", "beijing-2020", "--quiet", "--no-report", "--out", str(tmp_path / "run")]
    cmd += set_options(overrides)
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    peak = usage.ru_maxrss * 1024
    assert peak < estimate < 1.8 * peak, (peak, estimate)


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["beijing-2020"], "SCENARIO"), (["--set", "days=5"], "--set"), (["--seed", "4"], "--seed"),
     (["--checkpoint-every", "3", "--no-report"], "--report/--no-report, --checkpoint-every")],
)  # fmt: skip
def test_resume_refuses_what_the_run_already_has(tmp_path: Path, extra: list[str], named: str) -> None:
    """`run --resume` keeps the scenario, seed and options the run started with: giving others is a bad input."""
    res = cli("run", "--resume", str(tmp_path / "run"), *extra, cwd=tmp_path)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert f"--resume: not with {named} " in lines[0] and "Traceback" not in res.stderr


def test_version_has_one_source(tmp_path: Path) -> None:
    from scslab.version import __version__

    res = cli("--version", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.split() == ["scslab", __version__]
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and 'path = "src/scslab/version.py"' in pyproject
