"""The Python API does what `scslab run` does: a run folder, checkpoints, resume; and the layers hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import scslab
from runkit import small
from scslab import api
from scslab.errors import ScslabError

TABLES = ("timeseries.parquet", "breakdowns.parquet", "listings.parquet", "people.parquet", "scenario.toml")
TIMINGS = ("wall_seconds", "profile_seconds")  # the only fields of summary.json allowed to differ


class CrashError(Exception):
    """Stands for a crash after some days."""


def crash_after(last: int) -> api.ShowProgress:
    def on_day(day: int, days: int) -> None:
        if day == last:
            raise CrashError(day)

    return on_day


def test_run_stopped_then_resumed_writes_the_uninterrupted_run(tmp_path: Path) -> None:
    whole = scslab.run(small(), 3, tmp_path / "whole", people=True, report=False)
    with pytest.raises(CrashError):
        scslab.run(small(), 3, tmp_path / "part", people=True, report=False, checkpoint_every=5,
                   progress=crash_after(12))  # fmt: skip
    assert not (tmp_path / "part").exists()
    work = tmp_path / ".part.checkpoint"
    assert json.loads((work / "run.json").read_text())["every"] == 5
    resumed = scslab.resume(work)  # the work folder or the run folder: either names the run
    assert not work.exists()
    for name in TABLES:
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "part" / name).read_bytes(), name
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("whole", "part"))
    for key in TIMINGS:
        a.pop(key), b.pop(key)
    assert a == b
    assert resumed.timeseries.equals(whole.timeseries) and resumed.breakdowns.equals(whole.breakdowns)
    # the baseline (on by default) is run after the resumed run too: the same chilling effect
    baseline = "baseline_timeseries.parquet"
    assert sorted(p.name for p in (tmp_path / "part").iterdir()) == sorted([*TABLES, "summary.json", baseline])
    assert (tmp_path / "whole" / baseline).read_bytes() == (tmp_path / "part" / baseline).read_bytes()
    assert "chilling_effect" in resumed.figures


def test_resume_goes_on_from_the_last_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CrashError):
        scslab.run(small(), 2, tmp_path / "run", report=False, checkpoint_every=10, progress=crash_after(25))
    days: list[int] = []
    scslab.resume(tmp_path / "run", progress=lambda day, _: days.append(day))
    assert days == list(range(21, 41))  # day 20's checkpoint, then the days after it


def test_run_refuses_an_existing_folder_and_resume_a_finished_run(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(ScslabError, match="already exists"):
        scslab.run(small(), 1, tmp_path / "taken")
    scslab.run(small().with_overrides({"days": 5}), 1, tmp_path / "done", report=False)
    with pytest.raises(ScslabError, match="already complete"):
        scslab.resume(tmp_path / "done")


def test_run_folder_of_a_work_folder() -> None:
    assert api.run_folder(Path("runs/.mine.checkpoint")) == Path("runs/mine")
    assert api.run_folder("runs/mine") == Path("runs/mine")


def test_simulate_equals_run_in_memory(tmp_path: Path) -> None:
    sc = small().with_overrides({"days": 15})
    assert scslab.simulate(sc, seed=4).timeseries.equals(scslab.run(sc, 4, tmp_path / "r").timeseries)


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')")
def test_the_layers_contract_is_kept() -> None:
    """pyproject.toml's layers: no module imports from a layer above its own (also run by make lint)."""
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([str(LINT_IMPORTS)], cwd=root, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 kept, 0 broken" in res.stdout
