"""The trace (docs/model.md, "The trace"): every ledger row and every felt sanction of the traced
citizens, derived from the model: the rows replay the ledgers exactly, a hand-built history is
listed row for row, tracing changes no output, a checkpoint carries it, the felt sanctions add up
to the run's counters, and a trace that would not fit is refused naming one that would."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import scslab
from modelkit import build_state, charges, offence, population, scenario, step
from scslab import engine, memory, runner
from scslab.checkpoint import load_checkpoint, save_checkpoint
from scslab.cli import app
from scslab.errors import ResourceError, ScslabError
from scslab.model import effects
from scslab.model.ledgers import L_MERIT
from scslab.model.listings import frame
from scslab.model.params import MISATTRIBUTION, compile_params
from scslab.model.trace import CHARGE_SCHEMA, LEDGERS, SANCTION_SCHEMA, TraceSpec, attach, parse_trace
from scslab.results import Result, simulate
from scslab.scenario import Scenario
from scslab.scenario.schema import CAUSES

# beijing-2020, small, with everything the trace records at work: association, misattribution,
# recovery after 5 clean days, listings from a high threshold, and appeals won.
BUSY = {
    "population.size": 3000,
    "days": 90,
    "recovery.clean_days": 5,
    "blacklist.threshold": 790,
    "blacklist.min_days": 10,
    "appeal.rate": 0.2,
    "appeal.success_wrongful": 0.9,
    "sources.cameras.misattribution": 0.5,
}
# per_day 1.0 is ten histogram bins a day (scheduled recovery, in closed form); 0.35 is not (eager)
RECOVERY = {"scheduled": 1.0, "eager": 0.35}


def busy(crn: bool, recovery: str) -> Scenario:
    return scslab.load_scenario("beijing-2020").with_overrides(
        {**BUSY, "crn": crn, "recovery.per_day": RECOVERY[recovery]}
    )


def replayed(result: Result) -> np.ndarray:
    """Each citizen's four ledgers from the trace, adding the rows' points in row order."""
    c = result.charges
    assert list(c["ledger"].cat.categories) == list(LEDGERS)
    acc = np.zeros((result.state.n, L_MERIT + 1))
    np.add.at(acc, (c["citizen"].to_numpy(), c["ledger"].cat.codes.to_numpy()), c["points"].to_numpy())
    return acc


@pytest.fixture(scope="module", params=[(crn, rec) for crn in (False, True) for rec in RECOVERY])
def pair(request: pytest.FixtureRequest) -> tuple[Result, Result, bool, str]:
    """The busy run without a trace and with `--trace all`."""
    crn, rec = request.param
    sc = busy(crn, rec)
    return simulate(sc, 5), simulate(sc, 5, trace="all"), crn, rec


def test_the_rows_replay_every_ledger_exactly(pair: tuple[Result, Result, bool, str]) -> None:
    """At --trace all, for every citizen, the traced rows of each ledger add up to the final ledger bit
    for bit (recovery and appeals included), in both randomness modes and both recovery modes."""
    _, traced, _, rec = pair
    c = traced.charges
    assert np.array_equal(replayed(traced), traced.state.ledgers[:, : L_MERIT + 1])
    # every kind of row is there, so that the equality is not that of empty ledgers
    assert set(c["ledger"].unique()) == set(LEDGERS)
    assert {"recovery", "appeal_won"} <= set(c["event"].unique())
    people = traced.people
    for name in LEDGERS:
        assert (c["ledger"] == name).sum() > 10 and (people[name] != 0).any()
    recovery = c[c["event"] == "recovery"]
    assert (recovery["points"] > 0).all() and recovery["source"].isna().all()
    span = recovery["posted_day"] - recovery["event_day"]
    if rec == "eager":
        assert (span == 0).all()  # a row a day
    else:
        assert (span >= 0).all() and (span > 0).any()  # a row a settled span


def test_each_row_says_where_it_came_from(pair: tuple[Result, Result, bool, str]) -> None:
    """Rows carry the model's fields: a charge lands its source's delay after its event; a
    misattributed charge names another citizen of the target's district and group as its actor;
    an association row names a contact tied to the citizen in its layer, and alpha times the points
    of the contact's charge."""
    _, traced, _, _ = pair
    state = traced.state
    c = traced.charges
    cp = state.cp
    charge = c[~c["event"].isin(["recovery", "appeal_won"])]
    delay = dict(zip(cp.sources.names, cp.sources.delay, strict=True))
    assert (charge["posted_day"] - charge["event_day"] == charge["source"].astype(str).map(delay)).all()
    points = dict(zip(cp.events.names, cp.events.points, strict=True))
    direct = charge[charge["ledger"] != "association"]
    assert np.array_equal(direct["points"].to_numpy(), direct["event"].astype(str).map(points).to_numpy())
    mis = direct[direct["ledger"] == "misattributed"]
    assert (
        len(mis) > 0
        and mis["actor"].notna().all()
        and direct[direct["ledger"] != "misattributed"]["actor"].isna().all()
    )
    actor, target = mis["actor"].to_numpy(dtype=np.int64), mis["citizen"].to_numpy()
    assert (actor != target).all()
    assert (state.pop.district[actor] == state.pop.district[target]).all()
    assert (state.pop.group[actor] == state.pop.group[target]).all()
    assoc = charge[charge["ledger"] == "association"]
    assert len(assoc) > 0 and assoc["contact"].notna().all() and assoc["layer"].notna().all()
    alpha = {"family": 0.5, "work": 0.1, "friends": 0.2}
    expected = assoc["event"].astype(str).map(points) * assoc["layer"].astype(str).map(alpha)
    assert np.allclose(assoc["points"].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    for name, layer in state.pop.layers.items():
        rows = assoc[assoc["layer"] == name]
        who, contact = rows["citizen"].to_numpy(), rows["contact"].to_numpy(dtype=np.int64)
        keys = set(
            zip(np.repeat(np.arange(state.n), np.diff(layer.indptr)), layer.indices.astype(np.int64), strict=True)
        )
        assert all((int(a), int(b)) in keys for a, b in zip(contact, who, strict=True))


def table_bytes(result: Result) -> dict[str, bytes]:
    """The run's tables as Parquet bytes."""
    out = {}
    for name, table in (
        ("timeseries", result.timeseries),
        ("breakdowns", result.breakdowns),
        ("people", result.people),
    ):
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
        out[name] = buf.getvalue()
    buf = io.BytesIO()
    pq.write_table(result.listings_table(), buf)
    out["listings"] = buf.getvalue()
    return out


def test_tracing_changes_no_output(pair: tuple[Result, Result, bool, str]) -> None:
    """Tracing everyone leaves the timeseries, breakdowns, listings and people byte for byte; without a
    trace the trace tables are empty with their columns."""
    plain, traced, _, _ = pair
    assert table_bytes(plain) == table_bytes(traced)
    assert not plain.traced and len(plain.charges) == 0 and len(plain.sanctions) == 0
    assert plain.charges_table().schema == CHARGE_SCHEMA and plain.sanctions_table().schema == SANCTION_SCHEMA
    assert list(plain.charges.columns) == [f.name for f in CHARGE_SCHEMA]


def test_a_panel_and_listed_are_parts_of_all(pair: tuple[Result, Result, bool, str]) -> None:
    """`panel:N` traces N citizens drawn from the seed (the same N on a second run), `listed` those ever
    listed: their rows are exactly the rows of `all` for those citizens, and no output changes."""
    plain, traced, crn, rec = pair
    if (crn, rec) != (False, "scheduled"):
        pytest.skip("one mode is enough")
    sc = busy(crn, rec)
    everyone = traced.charges
    panel = simulate(sc, 5, trace="panel:300")
    assert table_bytes(panel) == table_bytes(plain)
    chosen = np.flatnonzero(panel.state.trace.mask)
    assert chosen.size == 300 and np.array_equal(
        chosen, np.flatnonzero(simulate(sc, 5, trace="panel:300").state.trace.mask)
    )
    expected = everyone[everyone["citizen"].isin(chosen)].reset_index(drop=True)
    pd.testing.assert_frame_equal(panel.charges, expected)
    listed = simulate(sc, 5, trace="listed")
    ever = np.flatnonzero(listed.state.ever_blacklisted)
    assert ever.size > 0 and set(listed.charges["citizen"]) <= set(ever)
    pd.testing.assert_frame_equal(listed.charges, everyone[everyone["citizen"].isin(ever)].reset_index(drop=True))
    s = traced.sanctions
    pd.testing.assert_frame_equal(listed.sanctions, s[s["citizen"].isin(ever)].reset_index(drop=True))


def felt(result: Result, effect: str, what: str, detail: str | None = None) -> int:
    s = result.sanctions
    rows = s[(s["effect"] == effect) & (s["what"] == what)]
    if detail is not None:
        rows = rows[rows["detail"] == detail]
    return int(rows["count"].sum())


def test_felt_sanctions_add_up_to_the_counters(pair: tuple[Result, Result, bool, str]) -> None:
    """With everyone traced, each effect's rows add up to the run's own figures: trips denied (by mode),
    speech suppressed, promotions blocked, children restricted, red loans, and those a loan penalty,
    a discount loan or a green channel reaches at the end (starts minus ends)."""
    _, traced, _, _ = pair
    ts = traced.timeseries
    state = traced.state
    assert felt(traced, "travel_ban", "trip denied") == ts["trips_denied"].sum() > 0
    assert felt(traced, "travel_ban", "trip denied", "plane") == ts["trips_denied_plane"].sum()
    assert felt(traced, "travel_ban", "trip denied", "train") == ts["trips_denied_train"].sum()
    assert felt(traced, "speech_block", "speech suppressed") == ts["speech_suppressed"].sum()
    assert felt(traced, "public_job_exclusion", "promotion blocked") == ts["promotions_blocked"].sum()
    children = felt(traced, "education_restriction", "children restricted")
    assert (
        children > 0
        and children - felt(traced, "education_restriction", "children freed") == ts["children_restricted"].iloc[-1]
    )
    assert (
        felt(traced, "red_loan", "red loan granted") - felt(traced, "red_loan", "red loan ended")
        == ts["red_loans"].iloc[-1]
    )
    everyone = np.arange(state.n, dtype=np.int64)
    for effect in effects.REGISTRY:
        assert set(traced.sanctions[traced.sanctions["effect"] == effect.key]["what"]) <= set(effect.recorded)
        if effect.reaches is not None and effect.spans is not None:
            held = felt(traced, effect.key, effect.spans[0]) - felt(traced, effect.key, effect.spans[1])
            assert held == int(effect.reaches(state, everyone).sum()), effect.key
    assert felt(traced, "loan_penalty", "loan penalised") > 0


def test_a_known_history_is_listed_row_for_row() -> None:
    """A hand-built population: citizen 0's friend (1) criticises on day 10, and 0 gets alpha_friends
    times its points as association; on day 20 a camera charges 0 for the jaywalking of citizen 2 (the
    wrong face). The trace lists exactly those two rows, with their days, points, contact, layer and
    actor; 0 is listed on day 20 for misattribution; nothing is traced for the untraced citizen 1."""
    pop = population(10, edges={"friends": (np.array([0]), np.array([1]))})
    params = scenario(
        10,
        30,
        score={"start": 100.0, "min": 0.0, "max": 200.0, "tiers": {"A": 150.0, "B": 0.0}},
        events={"criticism": offence(points=-4.0), "jaywalking": offence(points=-5.0)},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 0.2}},
        blacklist={"threshold": 95.0},
    )
    state = build_state(params, pop)
    attach(state, TraceSpec("ids", ids=(0, 2)), seed=1)
    criticism, jaywalking = (state.cp.events.names.index(e) for e in ("criticism", "jaywalking"))
    for day in range(30):
        todays = None
        if day == 10:
            todays = charges([1], criticism)
        elif day == 20:
            todays = charges([0], jaywalking, misattributed=True, actor=2)
        step(state, day, todays)
    result_rows = frame_of(state)
    assert result_rows == [
        {"citizen": 0, "event_day": 10, "posted_day": 10, "event": "criticism", "source": "cameras",
         "points": 0.2 * -4.0, "ledger": "association", "actor": None, "contact": 1, "layer": "friends"},
        {"citizen": 0, "event_day": 20, "posted_day": 20, "event": "jaywalking", "source": "cameras",
         "points": -5.0, "ledger": "misattributed", "actor": 2, "contact": None, "layer": None},
    ]  # fmt: skip
    listings = frame(state.listings.table())
    assert listings["citizen"].tolist() == [0] and listings["entry_day"].tolist() == [20]
    assert listings["cause"].tolist() == [CAUSES[MISATTRIBUTION]]


def frame_of(state: Any) -> list[dict[str, Any]]:
    from scslab.model.trace import charge_table

    return charge_table(state).to_pylist()


def test_a_resumed_run_has_the_same_trace(tmp_path: Path) -> None:
    """A run checkpointed on day 40 and resumed writes the same trace.parquet and sanctions.parquet bytes
    as the run straight through."""
    sc = busy(False, "scheduled")
    params = sc.params
    spec = parse_trace("panel:500")
    straight = engine.run(params, 3, trace=spec)
    path = tmp_path / "state.npz"

    class StopError(Exception):
        pass

    def after_day(at: engine.Midway) -> None:
        if at.day == 40:
            save_checkpoint(path, at)
            raise StopError

    with pytest.raises(StopError):
        engine.run(params, 3, trace=spec, after_day=after_day)
    at = load_checkpoint(path, compile_params(params))
    resumed = engine.run(params, 3, resume=at)
    for name in ("charge_table", "sanction_table"):
        a, b = (parquet_bytes(getattr(__import__("scslab.model.trace", fromlist=[name]), name)(r.state))
                for r in (straight, resumed))  # fmt: skip
        assert a == b and len(a) > 0


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_trace_files_are_written_only_when_asked(tmp_path: Path) -> None:
    """`scslab.run(trace=ids)` writes trace.parquet and sanctions.parquet with the traced ids only; a run
    without a trace writes neither."""
    sc = busy(True, "scheduled").with_overrides({"days": 30, "population.size": 1500})
    plain = scslab.run(sc, 2, tmp_path / "plain", report=False)
    assert not (tmp_path / "plain" / "trace.parquet").exists() and not plain.traced
    ids = tmp_path / "ids.txt"
    ids.write_text("# chosen\n7\n12\n\n1499\n")
    traced = scslab.run(sc, 2, tmp_path / "traced", report=False, trace=f"ids:{ids}")
    table = pq.read_table(tmp_path / "traced" / "trace.parquet")
    assert table.schema == CHARGE_SCHEMA and set(table.column("citizen").to_pylist()) <= {7, 12, 1499}
    assert pq.read_table(tmp_path / "traced" / "sanctions.parquet").schema == SANCTION_SCHEMA
    assert traced.charges.equals(scslab.simulate(sc, 2, trace=[7, 12, 1499]).charges)
    for name in ("timeseries.parquet", "listings.parquet"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "traced" / name).read_bytes()


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("everyone", "unknown trace"),
        ("panel:0", "not a positive whole number"),
        ("panel:x", "not a positive whole number"),
        ("ids:/nonexistent/ids.txt", "no such file"),
    ],
)
def test_bad_specs_are_one_line(value: str, said: str) -> None:
    with pytest.raises(ScslabError, match=said):
        parse_trace(value)


def test_bad_ids_are_refused_in_one_line(tmp_path: Path) -> None:
    """A file with a word, an id outside the population or a CSV without a citizen column: one line, exit 2,
    nothing written."""
    words = tmp_path / "words.txt"
    words.write_text("12\nabc\n")
    far = tmp_path / "far.txt"
    far.write_text("5\n999999\n")
    csv = tmp_path / "people.csv"
    csv.write_text("id\n3\n")
    cli = CliRunner()
    for path, said in ((words, "'abc' is not a citizen id"), (far, "citizen 999999 is not in the population"),
                       (csv, "no citizen column")):  # fmt: skip
        out = tmp_path / f"run-{path.stem}"
        res = cli.invoke(app, ["run", "beijing-2020", "--set", "population.size=2000", "--set", "days=5", "--quiet",
                               "--out", str(out), "--trace", f"ids:{path}"])  # fmt: skip
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and said in lines[0] and "--trace ids:" in lines[0], res.output
        assert not out.exists()


def test_a_trace_that_does_not_fit_is_refused_naming_one_that_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With memory forced to just above what the run needs without a trace, `--trace all` is refused in one
    line, exit 2, naming a panel that fits: that panel passes the same check, a panel twice its size not."""
    sc = busy(False, "scheduled")
    params = sc.params
    need = memory.estimate_peak_bytes(params)
    all_bytes = memory.trace_bytes(params, TraceSpec("all"))[0]
    have = need + all_bytes // 4
    monkeypatch.setattr(memory, "available_bytes", lambda: have / 0.9)
    with pytest.raises(ResourceError) as refused:
        memory.check_memory(params, sc.origin, trace=TraceSpec("all"))
    message = str(refused.value)
    assert "--trace all" in message and "GB of memory" in message and "would fit" in message
    fits = int(message.split("--trace panel:")[1].split(" ")[0])
    assert 0 < fits < params.population.size
    memory.check_memory(params, sc.origin, trace=TraceSpec("panel", size=fits))
    with pytest.raises(ResourceError):
        memory.check_memory(params, sc.origin, trace=TraceSpec("panel", size=2 * fits))
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", "beijing-2020", *[a for k, v in BUSY.items() for a in ("--set", f"{k}={v}")],
                                   "--quiet", "--out", str(out), "--trace", "all"])  # fmt: skip
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and "--trace panel:" in res.output
    assert not out.exists()


def test_a_trace_that_does_not_fit_on_disk_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With the disk forced nearly full, the trace is refused before the run, naming a panel that fits."""
    sc = busy(False, "scheduled")
    disk = memory.trace_bytes(sc.params, TraceSpec("all"))[1]

    class Usage:
        free = disk // 3

    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(ResourceError, match=r"--trace all: needs about .* GB of disk here, .* --trace panel:\d+ "):
        scslab.run(sc, 1, tmp_path / "run", trace="all", report=False)
    assert not (tmp_path / "run").exists()


def test_panel_draws_do_not_touch_the_runs_streams() -> None:
    """The panel is drawn from the seed apart from the run's streams: the streams' states after a traced
    run's start equal those of an untraced one."""
    sc = busy(False, "scheduled").with_overrides({"days": 5})
    a = engine.start(sc.params, 4)
    b = engine.start(sc.params, 4, trace=TraceSpec("panel", size=100))
    assert {k: g.bit_generator.state for k, g in a.rng.items()} == {k: g.bit_generator.state for k, g in b.rng.items()}
    assert b.state.trace is not None and b.state.trace.mask.sum() == 100


def test_rows_in_blocks_are_the_rows_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorder's blocks (doubling up to a block, then new blocks) keep every row in order: with
    blocks of 64 rows the tables are those of one block."""
    from scslab.model import trace

    sc = busy(True, "eager").with_overrides({"days": 40})
    whole = simulate(sc, 9, trace="all")
    monkeypatch.setattr(trace, "FIRST_CAPACITY", 8)
    monkeypatch.setattr(trace, "BLOCK", 64)
    small = simulate(sc, 9, trace="all")
    assert small.state.trace is not None and len(small.state.trace.charges.full) > 10
    assert parquet_bytes(small.charges_table()) == parquet_bytes(whole.charges_table())
    assert parquet_bytes(small.sanctions_table()) == parquet_bytes(whole.sanctions_table())
