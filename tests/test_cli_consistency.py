"""One consistent command line: the same flags mean the same on every command, every table fits an 80-column
terminal with no cell cut, and every table command prints JSON and CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from runkit import SCSLAB, set_options
from scslab.cli import app
from scslab.cli.tables import Sheet, as_csv, cell, column_widths, fitted, number
from scslab.version import __version__

TINY = set_options({"population.size": 1000, "days": 12})
COMMAND: Any = typer.main.get_command(app)  # a click group (typer bundles its own click)
COMMANDS: dict[str, Any] = dict(COMMAND.commands)
SCENARIO_COMMANDS = ("run", "compare", "audit", "ensemble", "sweep", "sensitivity", "calibrate")
TABLE_COMMANDS = ("run", "scenarios", "audit", "compare", "ensemble", "sweep", "sensitivity", "calibrate", "runs")
EXPERIMENTS = ("ensemble", "sweep", "sensitivity", "calibrate")
OUTPUT_COMMANDS = ("run", "compare", *EXPERIMENTS)
SCIENTIFIC = re.compile(r"\d\.?\d*[eE][+-]?\d")


def options(name: str) -> dict[str, Any]:
    """A command's options by each of their flags."""
    return {flag: p for p in COMMANDS[name].params for flag in [*p.opts, *getattr(p, "secondary_opts", [])]}


def scslab80(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`scslab *args` in a terminal 80 columns wide (rich reads COLUMNS)."""
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([*SCSLAB, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def assert_fits(text: str) -> None:
    """Every line within 80 columns, no cell cut by rich's ellipsis, no count in scientific notation."""
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long
    assert "…" not in text, text
    assert not SCIENTIFIC.search(text), SCIENTIFIC.search(text)


# ---------------------------------------------------------------- the flags, read off the command line itself


def test_every_command_has_help_and_every_option_says_what_it_does() -> None:
    runner = CliRunner()
    for args in ([], *([name] for name in COMMANDS)):
        for flag in ("-h", "--help"):
            res = runner.invoke(app, [*args, flag])
            assert res.exit_code == 0 and "Usage" in res.output, (args, flag, res.output)
    for name, command in COMMANDS.items():
        assert command.help, name
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, (name, param.opts)


def test_help_fits_80_columns(tmp_path: Path) -> None:
    for args in ([], *([name] for name in COMMANDS)):
        res = scslab80(*args, "-h", cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        long = [line for line in res.stdout.splitlines() if len(line) > 80]
        assert not long and "…" not in res.stdout, (args, long)


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"scslab {__version__}"


def test_seed_means_the_same_everywhere_with_one_default() -> None:
    having = {name for name in COMMANDS if "--seed" in options(name)}
    assert having == {"run", "compare", *EXPERIMENTS}
    for name in having:
        seed = options(name)["--seed"]
        assert seed.default == 1 and seed.help == options("run")["--seed"].help, name
        assert not any(flag in options(name) for flag in ("--first-seed",)), name


def test_shared_flags_are_on_every_command_that_needs_them() -> None:
    for name in SCENARIO_COMMANDS:
        assert "--allow-extends" in options(name), name
    for name in TABLE_COMMANDS:
        assert {"--json", "--csv"} <= set(options(name)), name
    for name in ("compare", *EXPERIMENTS):
        assert "--workers" in options(name), name
    for name in ("run", "compare", *EXPERIMENTS):  # the baseline runs by default: every runner can skip it
        assert "--no-baseline" in options(name), name
        assert options(name)["--no-baseline"].help == options("run")["--no-baseline"].help
    for name in OUTPUT_COMMANDS:
        assert {"--out", "--quiet"} <= set(options(name)), name
        assert options(name)["--quiet"].help == options("run")["--quiet"].help
    for name in EXPERIMENTS:
        root = options(name)["--root"]
        assert "catalog" in (root.help or "") and "ROOT" in (options(name)["--out"].help or ""), name


# ---------------------------------------------------------------- tables: fitted to the terminal, JSON, CSV


def test_numbers_never_print_in_scientific_notation() -> None:
    for value in (2.2e7 + 0.5, 1.4e9 / 3, 22_000_000.0, 123_456_789_012.0, 0.000012345, -3.3e8):
        text = number(value)
        assert not SCIENTIFIC.search(text) and "e" not in text, text
    assert number(22_000_123.5) == "22,000,000" and number(799.33) == "799.3" and number(0.12345) == "0.1235"
    assert cell(22_000_000) == "22,000,000" and cell(float("nan")) == "—" and cell(None) == "—"


def test_a_wide_table_wraps_at_words_or_goes_vertical() -> None:
    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO())
    words = {f"column_{i}": "a-rather-long-value" for i in range(3)}
    narrow = Sheet("t", "three columns", [words, words])
    assert column_widths(*narrow.terminal(), console) is not None  # fits as a table
    wide = Sheet("t", "twelve columns", [{f"column_{i}": 123_456_789 for i in range(12)}])
    assert column_widths(*wide.terminal(), console) is None  # cannot: one block per row instead
    for sheet in (narrow, wide):
        console.print(fitted(sheet, console))
    text = console.export_text()
    assert_fits(text)
    assert "a-rather-long-value" in text and "123,456,789" in text and "column_11" in text


def test_csv_quotes_what_needs_it() -> None:
    sheet = Sheet("t", "t", [{"name": 'a, "b"', "value": 1.5, "missing": None, "map": {"k": 1}}])
    rows = list(csv.DictReader(io.StringIO(as_csv(sheet))))
    assert rows == [{"name": 'a, "b"', "value": "1.5", "missing": "", "map": '{"k": 1}'}]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("consistency")
    (folder / "targets.toml").write_text('[[targets]]\nmetric = "political_events"\nvalue = 5\ntolerance = 2\n')
    return folder


# Each command as a user types it; an experiment's later formats resume the finished experiment (no new runs).
EXPERIMENT_ARGS = {
    "ensemble": ["--seeds", "2"],
    "sweep": ["--param", "events.criticism.points=-60:-20:20"],
    "sensitivity": ["--param", "events.criticism.rate=0.0005:0.002", "--method", "morris", "--n", "2"],
    "calibrate": ["--targets", "targets.toml", "--param", "events.criticism.rate=0.0001:0.002", "--trials", "2",
                  "--batch", "2"],
}  # fmt: skip


def command_lines(name: str, how: str) -> list[str]:
    """The arguments of `name` printing as `how` ("table", "json" or "csv"), writing into the current folder."""
    flag = [] if how == "table" else [f"--{how}"]
    if name == "run":
        return ["run", "beijing-2020", *TINY, "--no-report", "--out", f"run-{how}", *flag]
    if name == "compare":
        return ["compare", "beijing-2020", "rights-respecting", "--seeds", "2", *TINY, "--workers", "0",
                "--out", f"compare-{how}", *flag]  # fmt: skip
    if name in EXPERIMENT_ARGS:
        again = [] if how == "table" else ["--resume"]
        return [name, "beijing-2020", *EXPERIMENT_ARGS[name], *TINY, "--workers", "0", "--root", ".", "--out", name,
                *again, *flag]  # fmt: skip
    if name == "runs":
        return ["runs", "--root", ".", *flag]
    if name == "audit":
        return ["audit", "rights-respecting", *flag]
    return [name, *flag]


@pytest.mark.parametrize("name", TABLE_COMMANDS)
def test_every_table_command_fits_80_columns_and_prints_json_and_csv(workdir: Path, name: str) -> None:
    if name == "runs" and not (workdir / "catalog.duckdb").exists():  # else the other commands filled it
        assert scslab80(*command_lines("run", "table"), cwd=workdir).returncode == 0
    codes = {"audit": 0}  # rights-respecting passes the audit
    table = scslab80(*command_lines(name, "table"), cwd=workdir)
    assert table.returncode == codes.get(name, 0), table.stderr
    assert_fits(table.stdout)
    obj = scslab80(*command_lines(name, "json"), cwd=workdir)
    assert obj.returncode == codes.get(name, 0), obj.stderr
    parsed = json.loads(obj.stdout)
    assert isinstance(parsed, dict)
    if name in OUTPUT_COMMANDS:
        assert (workdir / parsed["path"]).exists(), parsed
        tables = [v for v in parsed.values() if isinstance(v, dict) and "rows" in v]
        assert tables and all(t["rows"] for t in tables), parsed
    rows = scslab80(*command_lines(name, "csv"), cwd=workdir)
    assert rows.returncode == codes.get(name, 0), rows.stderr
    frame = pd.read_csv(io.StringIO(rows.stdout))
    assert len(frame) >= 1 and len(frame.columns) >= 2, rows.stdout
    if name in OUTPUT_COMMANDS:  # stdout is the CSV alone; where the results are goes to stderr
        assert rows.stderr.strip().endswith(parsed["path"].replace("-json", "-csv")), rows.stderr
    if name == "run":
        records = parsed["figures"]["rows"]
        assert list(frame["metric"]) == [r["metric"] for r in records]
        assert frame["simulated"].tolist() == pytest.approx([r["simulated"] for r in records])


def test_json_and_csv_are_not_both(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["scenarios", "--json", "--csv"])
    assert res.exit_code == 2 and "not both" in res.output


# ---------------------------------------------------------------- the other shared behaviour


def test_quiet_hides_the_tables_but_prints_the_path(tmp_path: Path) -> None:
    res = scslab80("run", "beijing-2020", *TINY, "--no-report", "--out", str(tmp_path / "r"), "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"results in {tmp_path / 'r'}"
    res = scslab80("ensemble", "beijing-2020", "--seeds", "2", *TINY, "--workers", "0", "--root", str(tmp_path),
                   "--out", str(tmp_path / "ens"), "--quiet", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"report.html, bands and intervals in {tmp_path / 'ens'}"


def test_report_out_writes_the_page_into_its_folder_and_never_over_one(tmp_path: Path) -> None:
    run = tmp_path / "r"
    assert scslab80("run", "beijing-2020", *TINY, "--no-report", "--no-baseline", "--out", str(run), "--quiet",
                    cwd=tmp_path).returncode == 0  # fmt: skip
    res = scslab80("report", str(run), "--no-cases", "--out", str(tmp_path / "pages"), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "pages" / "report.html").is_file() and not (run / "report.html").exists()
    again = scslab80("report", str(run), "--no-cases", "--out", str(tmp_path / "pages"), cwd=tmp_path)
    assert again.returncode == 2 and "already holds report.html" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_check_says_the_invariants_held(tmp_path: Path) -> None:
    res = scslab80("run", "beijing-2020", *TINY, "--no-report", "--out", str(tmp_path / "r"), "--check", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "invariants held on all 12 days" in res.stdout


def test_single_runs_are_in_the_catalogue(tmp_path: Path) -> None:
    for seed in ("1", "2"):
        res = scslab80("run", "beijing-2020", *TINY, "--no-report", "--seed", seed, "--out",
                       str(tmp_path / f"seed{seed}"), "--quiet", cwd=tmp_path)  # fmt: skip
        assert res.returncode == 0, res.stderr
    listing = json.loads(scslab80("runs", "--root", str(tmp_path), "--json", cwd=tmp_path).stdout)["rows"]["rows"]
    assert sorted((r["experiment_id"], r["kind"], r["runs_done"]) for r in listing) == [
        ("seed1", "run", 1),
        ("seed2", "run", 1),
    ]
    res = scslab80("runs", "--root", str(tmp_path), "--experiment", "seed2", "--json", cwd=tmp_path)
    (row,) = json.loads(res.stdout)["rows"]["rows"]
    summary = json.loads((tmp_path / "seed2" / "summary.json").read_text())
    assert row["seed"] == 2 and row["political_events"] == summary["figures"]["political_events"]["value"]


def test_a_damaged_catalogue_is_refused_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "catalog.duckdb").write_bytes(os.urandom(20_000))
    started = time.monotonic()
    res = scslab80("run", "beijing-2020", *TINY, "--out", str(tmp_path / "r"), cwd=tmp_path)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "not a readable run catalogue" in lines[0], res.stderr
    assert time.monotonic() - started < 60 and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ensemble", "beijing-2020", "--root", "file"], "--root file: is a file"),
        (["ensemble", "beijing-2020", "--out", "file/ens"], "which is a file"),
        (["sweep", "beijing-2020", "--param", "days=10:20", "--root", "/proc/scslab"], "pseudo-filesystem"),
        (["compare", "beijing-2020", "beijing-2020", "--out", "file/cmp"], "which is a file"),
    ],
)
def test_experiment_and_compare_folders_are_checked_first(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "file").write_text("not a folder")
    res = scslab80(*args, cwd=tmp_path)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1 and needle in lines[0], res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_allow_extends_on_every_scenario_command(tmp_path: Path) -> None:
    """A file that extends one outside its folder loads only with --allow-extends, on every command.

    Each command is given one more input it refuses only after loading the scenario: the error names that
    input when the scenario loaded, and `extends` when it did not."""
    (tmp_path / "base").mkdir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "base" / "b.toml").write_text('extends = "beijing-2020"\nname = "b"\n')
    (tmp_path / "mine" / "m.toml").write_text('extends = "../base/b.toml"\nname = "m"\n')
    scenario = str(tmp_path / "mine" / "m.toml")
    later = {
        "run": (["run", scenario, "--set", "days=0"], "days"),
        "compare": (["compare", scenario, scenario, "--seeds", "0"], "--seeds"),
        "audit": (["audit", scenario, "--set", "days=0"], "days"),
        "ensemble": (["ensemble", scenario, "--seeds", "0"], "--seeds"),
        "sweep": (["sweep", scenario, "--param", "events.nope=0:1"], "not a key"),
        "sensitivity": (["sensitivity", scenario, "--param", "events.nope=0:1"], "not a key"),
        "calibrate": (["calibrate", scenario, "--targets", "missing.toml"], "missing.toml"),
    }
    assert set(later) == set(SCENARIO_COMMANDS)
    for name, (args, needle) in later.items():
        refused = scslab80(*args, cwd=tmp_path)
        assert refused.returncode == 2 and "--allow-extends" in refused.stderr, (name, refused.stderr)
        loaded = scslab80(*args, "--allow-extends", str(tmp_path / "base"), cwd=tmp_path)
        lines = [line for line in loaded.stderr.splitlines() if line.strip()]
        assert loaded.returncode == 2 and len(lines) == 1 and needle in lines[0], (name, loaded.stderr)


def test_compare_gives_the_same_figures_on_any_number_of_workers() -> None:
    import scslab

    small = {"population.size": 1000, "days": 12}
    inline = scslab.compare("beijing-2020", "rights-respecting", seeds=2, overrides=small, workers=0)
    pooled = scslab.compare("beijing-2020", "rights-respecting", seeds=2, overrides=small, workers=2)
    pd.testing.assert_frame_equal(inline.figures, pooled.figures)
    pd.testing.assert_frame_equal(inline.timeseries, pooled.timeseries)
    assert inline.seeds == pooled.seeds == (1, 2)


def test_an_experiments_out_is_its_folder_and_its_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--out DIR holds the experiment (the catalogue stays in --root); DIR's name is its id, so two folders of
    one name under one root are refused in one line rather than mixed in the catalogue."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    args = ["ensemble", "beijing-2020", "--seeds", "2", *TINY, "--workers", "0", "--root", "cat", "--json"]
    res = runner.invoke(app, [*args, "--out", "a/x"])
    assert res.exit_code == 0, res.output
    parsed = json.loads(res.stdout)
    assert parsed["path"] == "a/x" and parsed["experiment_id"] == "x" and (tmp_path / "a/x/bands.parquet").exists()
    assert not (tmp_path / "cat" / "experiments").exists() and (tmp_path / "cat" / "catalog.duckdb").exists()
    seeds = sorted(json.loads((p / "task.json").read_text())["seed"] for p in (tmp_path / "a/x/runs").iterdir())
    assert seeds == [1, 2]  # --seed 1, the default: seeds 1 and 2
    res = runner.invoke(app, [*args, "--out", "b/x"])
    assert res.exit_code == 2 and "--id x" in res.stderr and "already has it" in res.stderr, res.output
    assert not (tmp_path / "b").exists()
    res = runner.invoke(app, [*args, "--out", "a/x", "--resume"])
    assert res.exit_code == 0 and json.loads(res.stdout)["executed"] == 0, res.output
