"""What a report is drawn from: a run's files (or a Result), and its baseline's daily table if it has one."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from scslab.errors import ScslabError

if TYPE_CHECKING:
    from scslab.cases import CaseFile
    from scslab.results import Result

BASELINE_FILE = "baseline_timeseries.parquet"
RUN_FILES = ("summary.json", "timeseries.parquet", "breakdowns.parquet", "scenario.toml")
SUMMARY_KEYS = (
    "scenario",
    "seed",
    "scslab_version",
    "population_size",
    "real_size",
    "scale",
    "days",
    "start_date",
    "figures",
    "disparities",
)
ALLOWED_DIR = "allowed: a directory written by `scslab run`, holding " + ", ".join(RUN_FILES)


@dataclass(frozen=True)
class RunData:
    """One run as the report sees it: daily table, breakdowns, summary, resolved scenario, baseline."""

    timeseries: pd.DataFrame
    breakdowns: pd.DataFrame
    summary: dict[str, Any]
    scenario: dict[str, Any]  # the fully resolved scenario, as plain TOML data
    baseline: pd.DataFrame | None = None  # the same run's daily table with every source's coverage at 0
    cases: tuple[CaseFile, ...] = ()  # the people of the report's Cases section
    cases_left_out: bool = False  # some people picked for it were not traced

    @classmethod
    def from_result(
        cls, result: Result, baseline: pd.DataFrame | None = None, cases: Sequence[CaseFile] = ()
    ) -> RunData:
        scenario = result.scenario.params.model_dump(mode="json", exclude_none=True)
        return cls(result.timeseries, result.breakdowns, result.summary, scenario, baseline, tuple(cases))

    @classmethod
    def from_dir(cls, directory: str | Path, cases: Sequence[CaseFile] = ()) -> RunData:
        """Read a run directory; a missing or unreadable file is one ScslabError line naming it."""
        root = Path(directory)
        if not root.is_dir():
            raise ScslabError(f"{root}: not a run directory ({ALLOWED_DIR})")
        summary = _read(root / "summary.json", lambda p: json.loads(p.read_text("utf-8")))
        if not isinstance(summary, dict) or (missing := [k for k in SUMMARY_KEYS if k not in summary]):
            what = ", ".join(missing) if isinstance(summary, dict) else "a JSON object"
            raise ScslabError(f"{root / 'summary.json'}: missing {what} (allowed: a summary written by `scslab run`)")
        baseline_path = root / BASELINE_FILE
        return cls(
            timeseries=_read(root / "timeseries.parquet", pd.read_parquet),
            breakdowns=_read(root / "breakdowns.parquet", pd.read_parquet),
            summary=summary,
            scenario=_read(root / "scenario.toml", lambda p: tomllib.loads(p.read_text("utf-8"))),
            baseline=_read(baseline_path, pd.read_parquet) if baseline_path.exists() else None,
            cases=tuple(cases),
        )

    @property
    def name(self) -> str:
        return str(self.summary["scenario"])

    @property
    def description(self) -> str:
        return str(self.summary.get("description", ""))

    @property
    def dates(self) -> pd.Series:
        """The calendar date of each simulated day."""
        start = pd.Timestamp(self.summary["start_date"])
        return start + pd.to_timedelta(self.timeseries["day"], unit="D")


def _read(path: Path, reader: Any) -> Any:
    if not path.is_file():
        raise ScslabError(f"{path}: file not found ({ALLOWED_DIR})")
    try:
        return reader(path)
    except (OSError, ValueError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ScslabError(f"{path}: cannot be read: {detail} (allowed: a file written by `scslab run`)") from exc
