"""Case files for any finished run: replay it from its folder with the chosen citizens traced.

A run is a pure function of (scenario, seed, version), so its folder (scenario.toml and summary.json's
seed) is enough to replay it. The replay writes its own tables beside it and checks them against the
run's byte for byte before any case file is given: a folder made by another scslab version, or whose
replay differs, is refused in one line.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scslab import engine
from scslab.cases import CaseFile, Context, pick, report_picks
from scslab.cases.casefile import GROUPS
from scslab.errors import ScslabError
from scslab.model.listings import frame as listings_frame
from scslab.model.trace import TraceSpec
from scslab.model.trace import frame as trace_frame
from scslab.population.types import Population
from scslab.results import SANCTIONS_FILE, TRACE_FILE, Result
from scslab.scenario import Scenario, load_scenario
from scslab.version import __version__

# The run's tables a replay must reproduce byte for byte (people.parquet where the run wrote it).
REPLAYED = ("timeseries.parquet", "breakdowns.parquet", "listings.parquet", "people.parquet")
NEEDED = ("summary.json", "scenario.toml", "listings.parquet")
ALLOWED = "allowed: a run folder written by `scslab run`"


@dataclass(frozen=True)
class RunFolder:
    """What a replay reads of a finished run: its folder, scenario, seed and summary."""

    path: Path
    scenario: Scenario
    seed: int
    summary: dict[str, Any]

    @property
    def listings(self) -> pd.DataFrame:
        return listings_frame(_read_table(self.path / "listings.parquet"))

    @property
    def size(self) -> int:
        return int(self.scenario.params.population.size)


def _read_table(path: Path) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise ScslabError(f"{path}: cannot be read: {str(exc).splitlines()[0][:200]} ({ALLOWED})") from None


def open_run(run_dir: str | Path) -> RunFolder:
    """The run in `run_dir`, checked: complete, and made by this version of scslab."""
    root = Path(run_dir)
    if not root.is_dir():
        raise ScslabError(f"{root}: not a run folder ({ALLOWED})")
    for name in NEEDED:
        if not (root / name).is_file():
            raise ScslabError(f"{root / name}: file not found ({ALLOWED}, with {', '.join(NEEDED)})")
    try:
        summary = json.loads((root / "summary.json").read_text("utf-8"))
        seed, made_by = int(summary["seed"]), str(summary["scslab_version"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ScslabError(f"{root / 'summary.json'}: no seed and scslab_version ({ALLOWED})") from None
    if made_by != __version__:
        raise ScslabError(
            f"{root}: made by scslab {made_by}, this is scslab {__version__}; another version's run cannot be "
            f"replayed to its own results (allowed: a run made by scslab {__version__}, or explain it with "
            f"scslab {made_by})"
        )
    scenario = load_scenario(root / "scenario.toml")
    scenario = dataclasses.replace(scenario, origin=str(summary.get("origin", scenario.origin)))
    return RunFolder(root, scenario, seed, summary)


@dataclass(frozen=True)
class Explained:
    """The case files of a replay, the run's files it reproduced byte for byte, and how long it took."""

    run: RunFolder
    cases: tuple[CaseFile, ...]
    reproduced: tuple[str, ...]
    seconds: float

    def line(self) -> str:
        """What the replay checked, as one sentence."""
        return (f"The replay of {self.run.path} (seed {self.run.seed}, scslab {__version__}) reproduced "
                f"{', '.join(self.reproduced)} byte for byte ({self.seconds:.1f} s).")  # fmt: skip


def choose(run: RunFolder, citizens: Sequence[int], kind: str | None, n: int) -> list[int]:
    """The citizens to explain: those given, then `n` of `kind` drawn from the run's seed; distinct, checked."""
    chosen = [int(c) for c in citizens]
    if kind is not None:
        chosen += pick(run.listings, kind, n, run.seed)
    if not chosen:
        raise ScslabError("explain: no citizen (allowed: --citizen ID, repeatable, or --pick KIND)")
    bad = [c for c in chosen if not 0 <= c < run.size]
    if bad:
        raise ScslabError(f"--citizen {bad[0]}: not in the run's population (allowed: 0 to {run.size - 1})")
    return list(dict.fromkeys(chosen))


def replay_traced(
    scenario: Scenario, seed: int, ids: Sequence[int], on_day: Callable[[int, int], None] | None = None
) -> Result:
    """The run of (`scenario`, `seed`) with `ids` traced, and their contacts in every layer too (from day 0,
    before any charge: their own rows tell `CaseFile.network` whether a charge they passed on was theirs)."""
    params = scenario.params
    at = engine.start(params, seed, scenario.origin, trace=TraceSpec("ids", ids=tuple(int(i) for i in ids)))
    assert at.state.trace is not None
    at.state.trace.mask[contacts_of(at.state.pop, ids)] = True
    return Result.from_run(scenario, seed, engine.run(params, seed, on_day, scenario.origin, resume=at))


def contacts_of(pop: Population, ids: Sequence[int]) -> np.ndarray:
    """Everyone tied to one of `ids` in any layer (cut ties included)."""
    at = np.asarray(ids, dtype=np.int64)
    parts = [layer.indices[np.concatenate([np.arange(layer.indptr[i], layer.indptr[i + 1]) for i in at])]
             for layer in pop.layers.values()]  # fmt: skip
    return np.unique(np.concatenate(parts)).astype(np.int64)


def differing(result: Result, run: RunFolder) -> tuple[list[str], list[str]]:
    """The run's tables that the replay `result` reproduced byte for byte, and those it did not."""
    same: list[str] = []
    other: list[str] = []
    people = (run.path / "people.parquet").is_file()
    with tempfile.TemporaryDirectory(prefix="scslab-replay-") as scratch:
        result.write_files(Path(scratch), people=people)
        for name in REPLAYED:
            if (run.path / name).is_file():
                equal = (Path(scratch) / name).read_bytes() == (run.path / name).read_bytes()
                (same if equal else other).append(name)
    return same, other


def explain(
    run_dir: str | Path | RunFolder,
    citizens: Sequence[int] = (),
    *,
    kind: str | None = None,
    n: int = 1,
    on_day: Callable[[int, int], None] | None = None,
) -> Explained:
    """Replay the run in `run_dir` tracing `citizens` (and `n` of `kind`), check it reproduced the run's
    tables byte for byte, and give their case files."""
    run = run_dir if isinstance(run_dir, RunFolder) else open_run(run_dir)
    ids = choose(run, citizens, kind, n)
    started = time.perf_counter()
    result = replay_traced(run.scenario, run.seed, ids, on_day)
    same, other = differing(result, run)
    if other:
        raise ScslabError(
            f"{run.path}: the replay differs from the run in {', '.join(other)} (allowed: a run folder as "
            f"`scslab run` wrote it with scslab {__version__}; were its files changed?)"
        )
    seconds = time.perf_counter() - started
    note = (f"replayed from {run.path} (seed {run.seed}, scslab {__version__}), which reproduced "
            f"{', '.join(same)} byte for byte")  # fmt: skip
    cases = tuple(dataclasses.replace(result.case(c), provenance=note) for c in ids)
    return Explained(run, cases, tuple(same), seconds)


def folder_cases(run_dir: str | Path) -> tuple[list[CaseFile], bool]:
    """The cases of a run folder's report (`cases.report_picks`): from its own trace.parquet when it has one
    (the people not traced left out), else by a replay; and whether any pick was left out (all of them when
    the folder was made by another version, whose run cannot be replayed)."""
    root = Path(run_dir)
    if not (root / TRACE_FILE).is_file():
        try:
            run = open_run(root)
        except ScslabError:
            return [], True
        picks = report_picks(run.listings, run.seed)
        return (list(explain(run, picks).cases) if picks else []), False
    summary = json.loads((root / "summary.json").read_text("utf-8"))
    scenario = load_scenario(root / "scenario.toml")
    listings = listings_frame(_read_table(root / "listings.parquet"))
    picks = report_picks(listings, int(summary["seed"]))
    charges = trace_frame(_read_table(root / TRACE_FILE))
    sanctions = trace_frame(_read_table(root / SANCTIONS_FILE))
    traced = set(charges["citizen"].tolist()) | set(sanctions["citizen"].tolist())
    kept = [c for c in picks if c in traced]
    people = _people_rows(root, kept)
    context = Context.of(scenario.params, int(summary["seed"]), str(summary["scslab_version"]))
    cases = [CaseFile.build(c, people, charges, listings, sanctions, context, provenance=f"{root / TRACE_FILE}")
             for c in kept]  # fmt: skip
    return cases, len(kept) < len(picks)


def _people_rows(root: Path, ids: Sequence[int]) -> pd.DataFrame:
    """The person rows of `ids` from people.parquet (the attributes a case shows), or only their ids without it."""
    path = root / "people.parquet"
    if not path.is_file():
        return pd.DataFrame({"citizen": pd.Series(list(ids), dtype="int64")})
    people = pd.read_parquet(path).iloc[list(ids)].reset_index(drop=True)
    people.insert(0, "citizen", pd.Series(list(ids), dtype="int64"))
    people["group"] = people["group"].map(dict(enumerate(GROUPS)))
    people["occupation"] = people["occupation"].astype(str)
    people["age_band"] = people["age_band"].astype(str)
    return people
