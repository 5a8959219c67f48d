"""The output files as pandas, polars and DuckDB users read them: declared types, integers, nulls, joins."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scslab
from scslab.dictionary import EXPERIMENTS, SUMMARY
from scslab.experiments import Options, ensemble, sweep
from scslab.experiments.executors import LocalExecutor
from scslab.model.metrics import catalogue, metric_names
from scslab.model.params import compile_params
from scslab.outputs import BREAKDOWNS, LISTINGS, PEOPLE, SANCTIONS, TRACE, TYPES, district_labels, timeseries_schema
from scslab.scenario.schema import CAUSES

SIZE, DAYS, SEED = 3000, 60, 2
# judgment-defaulters lists people early (so listings and causes are not empty); --set kept in summary.json
OVERRIDES = {"population.size": SIZE, "days": DAYS}
FILES = ("timeseries", "breakdowns", "people", "listings", "trace", "sanctions")
JOINED = ("group", "occupation", "income_q", "party_member", "district")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = scslab.load_scenario("judgment-defaulters").with_overrides(OVERRIDES)
    out = tmp_path_factory.mktemp("outputs") / "run"
    scslab.simulate(scenario, seed=SEED, trace="listed").save(out, people=True)
    return out


def one(sql: str) -> object:
    """The one value a DuckDB query returns."""
    return duckdb.sql(sql).fetchall()[0][0]


def path(run_dir: Path, name: str) -> str:
    return str(run_dir / f"{name}.parquet")


@pytest.mark.parametrize("name", FILES)
def test_every_file_reads_alike_in_pandas_polars_and_duckdb(run_dir: Path, name: str) -> None:
    frame = pd.read_parquet(path(run_dir, name), dtype_backend="numpy_nullable")
    polars = pl.read_parquet(path(run_dir, name))
    rows = one(f"SELECT count(*) FROM '{path(run_dir, name)}'")
    columns = duckdb.sql(f"DESCRIBE SELECT * FROM '{path(run_dir, name)}'").fetchall()
    assert len(frame) == polars.height == rows > 0
    assert list(frame.columns) == polars.columns == [c[0] for c in columns]
    # the same nulls in each reader
    for col in frame.columns:
        nulls = one(f"SELECT count(*) FROM '{path(run_dir, name)}' WHERE \"{col}\" IS NULL")
        assert int(frame[col].isna().sum()) == polars[col].null_count() == nulls, col


def test_files_hold_their_declared_types(run_dir: Path) -> None:
    scenario = scslab.load_scenario(run_dir / "scenario.toml")
    names = ["day", "date", *metric_names(compile_params(scenario.params))]
    ts = pq.read_schema(path(run_dir, "timeseries"))
    assert ts.names == names
    assert all(ts.field(n).type == timeseries_schema(names).field(n).type for n in names)
    declared = ((BREAKDOWNS, "breakdowns"), (PEOPLE, "people"), (LISTINGS, "listings"), (TRACE, "trace"),
                (SANCTIONS, "sanctions"))
    for output, name in declared:
        schema = pq.read_schema(path(run_dir, name))
        assert schema.names == [c.name for c in output.columns], name
        for c in output.columns:
            assert schema.field(c.name).type == TYPES[c.type], (name, c.name)


def test_counts_are_integers_in_parquet_and_json(run_dir: Path) -> None:
    ts = pl.read_parquet(path(run_dir, "timeseries"))
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = catalogue()
    counts = [c for c in ts.columns if c not in ("day", "date") and metrics[c].scales]
    assert counts and all(ts.schema[c] == pl.Int64 for c in counts)
    assert all(ts.schema[c] == pl.Float64 for c in ts.columns if c not in ("day", "date") and c not in counts)
    for key, entry in summary["figures"].items():
        assert isinstance(entry["value"], int) == metrics[key].scales, key
    assert summary["figures"]["blacklisted"]["value"] == ts["blacklisted"][-1]
    assert summary["figures"]["listings_new"]["value"] == ts["listings_new"].sum() > 0
    b = pq.read_table(path(run_dir, "breakdowns"))
    assert all(b.schema.field(c).type == pa.int64() for c in ("citizens", "blacklisted", "wrongful", "rewarded"))


def test_date_is_the_start_date_plus_the_day(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    start = dt.date.fromisoformat(summary["start_date"])
    ts = duckdb.sql(f"SELECT day, date FROM '{path(run_dir, 'timeseries')}' ORDER BY day").fetchall()
    assert [d for _, d in ts] == [start + dt.timedelta(days=day) for day, _ in ts]
    assert [day for day, _ in ts] == list(range(DAYS))


def test_people_join_breakdowns_in_pandas_duckdb_and_polars(run_dir: Path) -> None:
    people = pd.read_parquet(path(run_dir, "people"))
    b = pd.read_parquet(path(run_dir, "breakdowns"))
    assert people["citizen"].tolist() == list(range(SIZE))
    for dim in JOINED:
        # pandas: one merge per dimension, the people's label against the breakdowns' value
        joined = people.merge(b[b["dimension"] == dim], left_on=dim, right_on="value", how="left")
        assert len(joined) == SIZE and joined["citizens"].notna().all(), dim
        counted = people.groupby(dim, observed=True).agg(n=("citizen", "size"), wrongful=("wrongful", "sum"))
        rows = b[b["dimension"] == dim].set_index("value")
        assert counted["n"].to_dict() == rows["citizens"].to_dict(), dim
        assert counted["wrongful"].to_dict() == rows["wrongful"].to_dict(), dim
        # DuckDB: the same join in SQL, straight from the files
        sql = (
            f"SELECT b.value, count(*) AS n, any_value(b.citizens) AS citizens FROM '{path(run_dir, 'people')}' p "
            f"JOIN '{path(run_dir, 'breakdowns')}' b ON b.dimension = '{dim}' AND b.value = p.{dim} GROUP BY ALL"
        )
        got = duckdb.sql(sql).fetchall()
        assert sum(n for _, n, _ in got) == SIZE and all(n == c for _, n, c in got), dim
    # polars: a categorical joins the breakdowns' strings once cast (polars does not mix them implicitly)
    pp, pb = pl.read_parquet(path(run_dir, "people")), pl.read_parquet(path(run_dir, "breakdowns"))
    q = pp.with_columns(pl.col("income_q").cast(pl.String)).join(
        pb.filter(pl.col("dimension") == "income_q"), left_on="income_q", right_on="value"
    )
    assert q.height == SIZE


def test_people_categories_are_the_breakdowns_labels(run_dir: Path) -> None:
    people = pd.read_parquet(path(run_dir, "people"))
    scenario = scslab.load_scenario(run_dir / "scenario.toml")
    assert list(people["group"].cat.categories) == ["majority", "minority"]
    assert list(people["income_q"].cat.categories) == ["q1", "q2", "q3", "q4", "q5"]
    assert list(people["party_member"].cat.categories) == ["non-member", "member"]
    assert list(people["district"].cat.categories) == list(district_labels(scenario.params.population.districts))
    b = pd.read_parquet(path(run_dir, "breakdowns"))
    for dim in JOINED:
        assert set(b.loc[b["dimension"] == dim, "value"]) == set(people[dim].unique()), dim
    # a listing's cause and a citizen's blacklist_cause: the same categories, so they join too
    listings = pd.read_parquet(path(run_dir, "listings"))
    assert list(listings["cause"].cat.categories) == list(people["blacklist_cause"].cat.categories) == list(CAUSES)
    still = listings[listings["exit_reason"] == "still_listed"]
    joined = still.merge(people, on="citizen")
    converted = joined["offence_day"].notna()  # a listed offence made it a term listing: its cause now
    assert len(joined) == len(still) > 0
    assert (joined.loc[~converted, "cause"] == joined.loc[~converted, "blacklist_cause"]).all()
    assert (joined.loc[converted, "blacklist_cause"] == "listed_offence").all()


def test_missing_values_are_nulls_not_empty_strings_or_minus_one(run_dir: Path) -> None:
    people = pd.read_parquet(path(run_dir, "people"), dtype_backend="numpy_nullable")
    assert (people["blacklist_cause"].isna() == ~people["blacklisted"]).all()
    assert people["blacklisted"].any()
    workers = people["occupation"].isin(["civil_servant", "employee", "business_owner"])
    assert (people["firm"].isna() == ~workers).all() and (people["firm"].dropna() >= 0).all()
    listings = pd.read_parquet(path(run_dir, "listings"), dtype_backend="numpy_nullable")
    still = listings["exit_reason"] == "still_listed"
    assert (listings["exit_day"].isna() == still).all() and (listings["wrongful_at_exit"].isna() == still).all()
    assert (listings[["entry_day", "exit_day", "offence_day"]].dropna() >= 0).all().all()
    # the listings still open are the people listed at the end
    assert sorted(listings.loc[still, "citizen"]) == sorted(people.loc[people["blacklisted"], "citizen"])
    for name in FILES:
        frame = pd.read_parquet(path(run_dir, name))
        for col, dtype in frame.dtypes.items():
            if dtype == np.dtype(object) or isinstance(dtype, pd.CategoricalDtype | pd.StringDtype):
                assert not (frame[col].dropna().astype(str) == "").any(), (name, col)


def test_summary_records_the_overrides_and_the_scenario_hash(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["overrides"] == OVERRIDES
    assert summary["scenario_hash"] == hashlib.sha256((run_dir / "scenario.toml").read_bytes()).hexdigest()
    assert list(summary) == [c.name for c in SUMMARY.columns]


def test_experiment_files_read_in_every_library_with_their_declared_columns(tmp_path: Path) -> None:
    small = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 800, "days": 10})
    opts = Options(executor=LocalExecutor(0), root=tmp_path)
    ens = ensemble(small, seeds=2, options=opts)
    sw = sweep(small, ["sources.cameras.coverage=0.2,0.6"], options=opts)
    declared = {o.file: [c.name for c in o.columns] for o in EXPERIMENTS}
    for directory, name in ((ens.directory, "bands"), (ens.directory, "intervals"), (sw.directory, "points"),
                            (sw.directory, "correlations")):  # fmt: skip
        file = directory / f"{name}.parquet"
        frame, polars = pd.read_parquet(file), pl.read_parquet(file)
        rows = one(f"SELECT count(*) FROM '{file}'")
        assert len(frame) == polars.height == rows > 0
        fixed = [c for c in declared[f"{name}.parquet"] if "{" not in c]
        assert [c for c in frame.columns if c in fixed] == [c for c in fixed if c in frame.columns]
        assert set(fixed) <= set(frame.columns) or name in ("points", "correlations"), name
    # each run's summary.json records the base scenario's --set keys and the point's
    point = json.loads((sw.directory / "runs" / "000000" / "summary.json").read_text())
    assert point["overrides"] == {"population.size": 800, "days": 10, "sources.cameras.coverage": 0.2}
    run = ens.directory / "runs" / "000000" / "timeseries.parquet"
    assert pq.read_schema(run).field("blacklisted").type == pa.int64()
    assert np.issubdtype(pd.read_parquet(run)["day"].dtype, np.integer)
