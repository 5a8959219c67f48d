"""Golden outputs: reference hashes of three presets' tables in both randomness modes.

A refactoring keeps these bytes; a change of the model changes them on purpose, and the
commit that does so regenerates them (``SCSLAB_UPDATE_GOLDEN=1 pytest tests/test_golden.py``)
and says why. Starsim's ``tests/test_baselines.py`` is the pattern.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import scslab

GOLDEN = Path(__file__).parent / "data" / "golden.json"
PRESETS = ("beijing-2020", "judgment-defaulters", "rights-respecting")
MODES = {"sequential": False, "crn": True}
SIZE, DAYS, SEED = 5_000, 60, 3
TABLES = ("timeseries", "breakdowns", "people", "listings")


def table_hashes(preset: str, crn: bool, directory: Path) -> dict[str, str]:
    """SHA-256 of each table's Parquet bytes for one small run."""
    scenario = scslab.load_scenario(preset).with_overrides({"population.size": SIZE, "days": DAYS, "crn": crn})
    result = scslab.simulate(scenario, seed=SEED)
    out = result.save(directory / f"{preset}-{crn}", people=True)
    return {name: hashlib.sha256((out / f"{name}.parquet").read_bytes()).hexdigest() for name in TABLES}


def stored() -> dict[str, dict[str, str]]:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("preset", PRESETS)
def test_tables_match_the_golden_hashes(preset: str, mode: str, tmp_path: Path) -> None:
    key = f"{preset}/{mode}"
    got = table_hashes(preset, MODES[mode], tmp_path)
    if os.environ.get("SCSLAB_UPDATE_GOLDEN"):
        golden = stored()
        golden[key] = got
        GOLDEN.write_text(json.dumps(dict(sorted(golden.items())), indent=2) + "\n")
        pytest.skip("golden hashes written")
    assert key in stored(), f"no golden hashes for {key}: run with SCSLAB_UPDATE_GOLDEN=1"
    assert got == stored()[key]
