"""The run catalogue: schema, SQL, concurrent writers that lose nothing, readers that see complete runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import scslab
from scslab.errors import ScslabError
from scslab.experiments import Catalog, Options, ensemble, sweep
from scslab.experiments.executors import LocalExecutor

DOCS = Path(__file__).resolve().parents[1] / "docs" / "experiments.md"
WRITER = """
import sys
import scslab
from scslab.errors import ScslabError
import scslab.experiments.store as store
from scslab.experiments import Options, ensemble
from scslab.experiments.executors import LocalExecutor

store.FLUSH_SECONDS = 0.0  # one write transaction per run: as much contention as there can be
root, seeds, seed, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sc = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 1000, "days": 10})
ensemble(sc, seeds, seed=seed, options=Options(LocalExecutor(0), root, name))
"""
HOLDER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalogue with an ensemble and a sweep of a small scenario."""
    folder = tmp_path_factory.mktemp("catalog")
    sc = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 2000, "days": 20})
    ensemble(sc, 4, options=Options(LocalExecutor(0), folder, "ens"))
    sweep(sc, ["events.criticism.points=-90:-10:40"], seeds=2, options=Options(LocalExecutor(0), folder, "sw"))
    return folder


def figures_per_run(root: Path, experiment: str) -> int:
    summary = next((root / "experiments" / experiment / "runs").iterdir()) / "summary.json"
    return len(json.loads(summary.read_text())["figures"])


def test_schema(root: Path) -> None:
    catalog = Catalog(root)
    columns = catalog.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns ORDER BY table_name"
    )
    by_table = columns.groupby("table_name")["column_name"].apply(set).to_dict()
    assert set(by_table) == {"experiments", "runs", "metrics"}
    assert {"experiment_id", "kind", "scenario", "seed", "n_runs", "spec", "created_at", "finished_at"} <= by_table[
        "experiments"
    ]
    assert {"experiment_id", "run_index", "seed", "params", "wall_seconds", "path"} <= by_table["runs"]
    assert by_table["metrics"] == {"experiment_id", "run_index", "metric", "value"}
    params_type = columns[(columns.table_name == "runs") & (columns.column_name == "params")]["data_type"].item()
    assert params_type == "MAP(VARCHAR, DOUBLE)"
    experiments = catalog.experiments().set_index("experiment_id")
    assert experiments.loc["ens", "runs_done"] == 4 and experiments.loc["sw", "runs_done"] == 6
    assert experiments["finished_at"].notna().all()
    # Paths are relative to the catalogue's folder and name complete run directories.
    paths = catalog.query("SELECT path FROM runs")["path"]
    assert all((root / p / "summary.json").exists() for p in paths)


def test_every_sql_example_in_the_docs_runs(root: Path) -> None:
    blocks = re.findall(r"```sql\n(.*?)```", DOCS.read_text(), flags=re.S)
    assert len(blocks) >= 4
    for sql in blocks:  # as `scslab runs --sql` runs them: read-only and sandboxed
        frame, _ = Catalog(root).user_query(sql, 1000)
        assert len(frame) > 0, sql


def test_parallel_experiments_lose_no_row(tmp_path: Path) -> None:
    seeds = 10
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(seeds), str(k), f"par{k}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in (1, 2)
    ]
    catalog = Catalog(tmp_path)
    checks = 0
    while any(p.poll() is None for p in procs):
        if catalog.path.exists():
            # Readers see complete runs only: no run row without all its metrics.
            partial = catalog.query(
                "SELECT r.experiment_id, r.run_index, count(m.metric) AS n FROM runs r LEFT JOIN metrics m "
                "USING (experiment_id, run_index) GROUP BY ALL HAVING count(m.metric) <> "
                "(SELECT max(c) FROM (SELECT count(*) AS c FROM metrics GROUP BY experiment_id, run_index))"
            )
            assert partial.empty, partial
            checks += 1
        time.sleep(0.2)
    for p in procs:
        _, stderr = p.communicate()
        assert p.returncode == 0, stderr
    runs = catalog.query("SELECT experiment_id, count(*) AS n FROM runs GROUP BY ALL ORDER BY experiment_id")
    assert runs["experiment_id"].tolist() == ["par1", "par2"] and runs["n"].tolist() == [seeds, seeds]
    n_figures = figures_per_run(tmp_path, "par1")
    metrics = catalog.query("SELECT count(*) AS n FROM metrics")["n"].item()
    assert metrics == 2 * seeds * n_figures
    assert catalog.query("SELECT count(*) AS n FROM experiments WHERE finished_at IS NOT NULL")["n"].item() == 2
    assert checks > 0
    # The two did write at the same time: each wrote a run before the other's last one.
    spans = catalog.query("SELECT experiment_id, min(finished_at) AS a, max(finished_at) AS b FROM runs GROUP BY ALL")
    first, second = spans.itertuples()
    assert first.a < second.b and second.a < first.b


def test_a_writer_waits_for_another_program(tmp_path: Path) -> None:
    """A program outside scslab holding the file makes a writer wait, not fail."""
    catalog = Catalog(tmp_path)
    catalog.add_experiment({"experiment_id": "x", "kind": "ensemble", "scenario": "s"})
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(catalog.path), "1.5"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    started = time.monotonic()
    catalog.add_experiment({"experiment_id": "y", "kind": "ensemble", "scenario": "s"})
    waited = time.monotonic() - started
    assert holder.wait(timeout=30) == 0
    assert waited > 0.5
    assert catalog.query("SELECT experiment_id FROM experiments ORDER BY 1")["experiment_id"].tolist() == ["x", "y"]


def test_bad_sql_is_one_line(root: Path) -> None:
    with pytest.raises(ScslabError) as info:
        Catalog(root).query("SELECT nope FROM runs")
    assert "query failed" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ScslabError, match="no run catalogue"):
        Catalog(root / "elsewhere").query("SELECT 1")


def test_runs_listing_matches_the_files(root: Path) -> None:
    """Each run's metrics in the catalogue are its summary.json figures."""
    catalog = Catalog(root)
    rows = catalog.query(
        "SELECT r.path, m.metric, m.value FROM runs r JOIN metrics m USING (experiment_id, run_index) "
        "WHERE experiment_id = 'sw'"
    )
    for path, group in rows.groupby("path"):
        figures = json.loads((root / str(path) / "summary.json").read_text())["figures"]
        assert dict(zip(group["metric"], group["value"], strict=True)) == pytest.approx(
            {k: v["value"] for k, v in figures.items()}
        )
    assert len(pd.unique(rows["path"])) == 6
