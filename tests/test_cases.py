"""Case files: a citizen's charges, listings and sanctions told, drawn and replayed.

The hand-built story (docs/model.md sections 5 and 6, derived by hand): threshold 750, S0 800, the friends
layer passing on half of a criticism's points. Day 10: citizen 0's friend 1 criticises (-20, own), and 0 is
charged -10 by association. Day 20: a camera charges 0 with jaywalking (-50) that citizen 2 did: 0's score
falls to 740 and 0 is listed, with cause misattribution (the misattributed ledger, -50, is the larger negative
one; the counterfactual 800 is above the threshold: wrongful). Day 21: 0 appeals and wins (every wrongful
appeal does): the -50 are struck out, the score is back at 790 and the listing ends with reason appeal_won.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scslab.cases import KINDS, CaseFile, Context, pick, report_picks
from scslab.cases.casefile import CHARGE_COLUMNS, end_of_day_scores, write_cases
from scslab.errors import ScslabError
from scslab.model.listings import APPEAL_WON, ListingLog, frame
from scslab.report.cases import cases_sections
from scslab.scenario.schema import CAUSES

START = dt.date(2018, 1, 1)
STORY_DAYS = 30
STORY_SUMMARY = (
    "Citizen 0 (minority, employee, district 3) was listed on 21 January 2018 for charges misattributed to them, "
    "wrongfully. One charge of −10 for criticism passed on from citizen 1 via the friends layer and one charge of "
    "−50 for jaywalking seen by cameras, not theirs (the source matched the wrong person; true actor citizen 2) "
    "brought their score from 800 to 740 (threshold 750). Then an appeal cleared them on 22 January 2018."
)


def context(days: int = STORY_DAYS, threshold: float | None = 750.0, name: str = "story") -> Context:
    return Context(name, 1, "0.1.0", START, days, 800.0, 350.0, 950.0, threshold)


def story_charges() -> pd.DataFrame:
    """Citizen 0's rows as the trace writes them (friend 1's own criticism is a row of 1's, not of 0's)."""
    rows = [
        (0, 10, 10, "criticism", "internet", -10.0, "association", pd.NA, 1, "friends"),
        (0, 20, 20, "jaywalking", "cameras", -50.0, "misattributed", 2, pd.NA, None),
        (0, 21, 21, "appeal_won", None, 50.0, "misattributed", pd.NA, pd.NA, None),
        (1, 10, 10, "criticism", "internet", -20.0, "own", pd.NA, pd.NA, None),
    ]
    out = pd.DataFrame(rows, columns=list(CHARGE_COLUMNS))
    for col in ("actor", "contact"):
        out[col] = out[col].astype("Int64")
    return out


def story_listings() -> pd.DataFrame:
    log = ListingLog(10)
    log.opened(np.array([0]), np.array([CAUSES.index("misattribution")], dtype=np.int8), np.array([True]), 20)
    log.closed(np.array([0]), APPEAL_WON, np.array([True]), 21)
    return frame(log.table())


def people() -> pd.DataFrame:
    return pd.DataFrame({"citizen": [0, 1], "group": ["minority", "minority"], "occupation": ["employee"] * 2,
                         "age_band": ["adult"] * 2, "district": [3, 3], "income_q": [2, 4],
                         "party_member": [False, True], "score": [790.0, 780.0]})  # fmt: skip


def no_sanctions() -> pd.DataFrame:
    return pd.DataFrame({"citizen": pd.Series([], dtype="int64"), "day": pd.Series([], dtype="int32"),
                         "effect": [], "what": [], "detail": [], "count": pd.Series([], dtype="int32")})  # fmt: skip


def story_case() -> CaseFile:
    return CaseFile.build(0, people(), story_charges(), story_listings(), no_sanctions(), context())


def test_story_case_file_from_its_tables() -> None:
    """The case holds exactly the person's rows, the score after each, and the story's sentences."""
    case = story_case()
    assert case.charges["citizen"].tolist() == [0, 0, 0]
    assert case.charges["posted_day"].tolist() == [10, 20, 21]
    assert case.charges["score"].tolist() == [790.0, 740.0, 790.0]  # 800 - 10; - 50; + 50 struck out
    scores = case.score_by_day()["score"].to_numpy()
    assert scores[:10].tolist() == [800.0] * 10 and scores[10:20].tolist() == [790.0] * 10
    assert scores[20] == 740.0 and scores[21:].tolist() == [790.0] * 9
    assert case.listings[["entry_day", "exit_day"]].values.tolist() == [[20, 21]]
    assert case.summary() == STORY_SUMMARY
    lines = case.timeline()
    assert lines["kind"].tolist() == ["association", "misattributed", "listed", "appeal", "left the list"]
    assert lines["day"].tolist() == [10, 20, 20, 21, 21]
    assert lines["date"].tolist()[0] == "11 January 2018"
    net = case.network().table
    assert net[["contact", "layer", "charges", "points", "their_charge", "contact_listings"]].values.tolist() == [
        [1, "friends", 1, -10.0, "own offence", "never listed"]
    ]


def test_story_figures_and_data() -> None:
    case = story_case()
    fig = case.plot()
    names = [t.name for t in fig.data]
    assert names == ["score", "misattributed", "association"]  # a trace per ledger present, the appeal unmarked
    assert list(fig.data[1].y) == [740.0] and list(fig.data[2].y) == [790.0]
    assert [s.y0 for s in fig.layout.shapes if s.type == "line"] == [750.0]  # the threshold
    star = case.network().figure
    assert list(star.data[1].text) == ["1"]
    doc = json.loads(json.dumps(case.to_dict()))
    assert doc["summary"] == STORY_SUMMARY and [r["points"] for r in doc["charges"]] == [-10.0, -50.0, 50.0]
    html = case._repr_html_()
    assert "Citizen 0 (minority, employee, district 3)" in html and "appeal cleared them" in html


def test_never_listed_and_listed_twice() -> None:
    """Sentences for a person never listed, and the count of listings for one listed twice."""
    ch = story_charges()
    quiet = CaseFile.build(1, people(), ch, story_listings(), no_sanctions(), context())
    assert quiet.summary() == (
        "Citizen 1 (minority, employee, district 3, party member) was never listed. One charge of −20 for "
        "criticism (their own, seen by internet) moved their score from 800 to 780 (lowest 780 on 11 January 2018)."
    )
    log = ListingLog(10)
    for day in (5, 12):
        log.opened(np.array([0]), np.array([CAUSES.index("own_conduct")], dtype=np.int8), np.array([False]), day)
        log.closed(np.array([0]), APPEAL_WON if day == 5 else 0, np.array([False]), day + 3)
    felt = pd.DataFrame({"citizen": [0, 0, 0], "day": [6, 7, 13], "effect": ["travel_ban"] * 3,
                         "what": ["trip denied"] * 3, "detail": ["train", "plane", "train"], "count": [2, 1, 1]})
    twice = CaseFile.build(0, people(), ch.iloc[:0], frame(log.table()), felt, context())
    assert twice.summary().endswith(
        "No charge had been posted to them: their score was 800 (threshold 750). They were refused two train trips "
        "and one plane trip before an appeal cleared them on 9 January 2018. They were listed two times in all."
    )
    lines = twice.timeline()
    assert lines[lines["kind"] == "sanction"]["text"].tolist() == [
        "2 × trip denied (train)", "1 × trip denied (plane)", "1 × trip denied (train)"
    ]


def test_recovery_spans_spread_over_their_days() -> None:
    """A recovery row covering days 3..6 (scheduled recovery) gives each day a quarter of its points."""
    rows = pd.DataFrame([(0, 0, 0, "fraud", "cameras", -20.0, "own", pd.NA, pd.NA, None),
                         (0, 3, 6, "recovery", None, 8.0, "own", pd.NA, pd.NA, None)], columns=list(CHARGE_COLUMNS))
    scores = end_of_day_scores(rows, context(days=8))
    assert scores.tolist() == [780.0, 780.0, 780.0, 782.0, 784.0, 786.0, 788.0, 788.0]
    clamped = end_of_day_scores(rows.assign(points=[-900.0, 0.0]), context(days=3))
    assert clamped.tolist() == [350.0] * 3


def listings_of_every_kind() -> pd.DataFrame:
    """Citizens 10..14 rightful own conduct, 20..22 wrongful misattribution, 30 association turned wrongful,
    40..41 listed offences (41 wrongful), 50 joint punishment."""
    log = ListingLog(100)
    groups = [(range(10, 15), "own_conduct", False), (range(20, 23), "misattribution", True),
              (range(30, 31), "association", False), (range(40, 41), "listed_offence", False),
              (range(41, 42), "listed_offence", True), (range(50, 51), "joint_punishment", False)]  # fmt: skip
    for ids, cause, wrong in groups:
        a = np.asarray(ids)
        log.opened(a, np.full(a.size, CAUSES.index(cause), dtype=np.int8), np.full(a.size, wrong), 1)
    log.day_end(np.asarray([30]), np.asarray([True]), 4)  # 30's listing turns wrongful on day 4
    return frame(log.table())


def test_pick_chooses_the_right_kinds_reproducibly() -> None:
    listings = listings_of_every_kind()
    assert pick(listings, "wrongful", 10, seed=1) == [20, 21, 22, 30, 41]
    assert pick(listings, "misattribution", 2, seed=1) == pick(listings, "misattribution", 2, seed=1)
    assert set(pick(listings, "misattribution", 2, seed=1)) < {20, 21, 22}
    assert pick(listings, "association", 3, seed=5) == [30]
    assert pick(listings, "listed_offence", 5, seed=5) == [40, 41]
    assert pick(listings, "joint_punishment", 1, seed=5) == [50]
    draws = {tuple(pick(listings, "misattribution", 1, seed=s)) for s in range(30)}
    assert draws == {(20,), (21,), (22,)}  # every one can be drawn
    with pytest.raises(ScslabError, match="allowed: wrongful, misattribution"):
        pick(listings, "guilt", 1, seed=1)
    with pytest.raises(ScslabError, match="no citizen of that kind"):
        pick(listings.iloc[:0], "wrongful", 1, seed=1)
    assert set(KINDS) - {"wrongful"} < set(CAUSES)


def test_report_picks_wrongful_first_one_of_each_cause() -> None:
    listings = listings_of_every_kind()
    chosen = report_picks(listings, seed=3)
    assert len(chosen) == len(set(chosen)) == 5
    wrongful, rightful = chosen[:3], chosen[3:]
    assert wrongful[0] in {20, 21, 22} and wrongful[1:] == [30, 41]
    assert rightful[0] in set(range(10, 15)) and rightful[1:] == [50]
    assert report_picks(listings, seed=3) == chosen


def test_cases_written_as_parquet(tmp_path: Path) -> None:
    case = story_case()
    out = write_cases([case, CaseFile.build(1, people(), story_charges(), story_listings(), no_sanctions(),
                                            context())], tmp_path / "cases")  # fmt: skip
    charges = pd.read_parquet(out / "charges.parquet")
    assert charges["citizen"].tolist() == [0, 0, 0, 1]
    assert pd.read_parquet(out / "person.parquet")["citizen"].tolist() == [0, 1]
    assert pd.read_parquet(out / "listings.parquet")["citizen"].tolist() == [0]
    with pytest.raises(ScslabError, match="already exists"):
        write_cases([case], out)


def test_scenario_strings_are_escaped() -> None:
    """An event, source or layer named with markup reaches the page and the figures only escaped."""
    evil = "<script>window.__pwned=1</script>"
    ch = story_charges()
    ch["event"] = ch["event"].replace("jaywalking", evil)
    ch["layer"] = ch["layer"].replace("friends", evil)
    case = CaseFile.build(0, people(), ch, story_listings(), no_sanctions(), context(name=evil))
    assert evil in case.summary()  # the sentence is plain text; every place that shows it escapes it
    assert evil not in case._repr_html_() and "&lt;script&gt;" in case._repr_html_()
    fig = case.plot().to_json() + case.network().figure.to_json()
    assert evil not in fig and "&lt;script&gt;" in fig
    from scslab.report.html import page

    html = page("t", "", [], cases_sections([case]))
    body = html[html.index("<body>"):]
    assert "<script>window.__pwned" not in body.replace("\\u003c", "<").split('id="scs-figures"')[0]
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body


# --- the hand-built story, run by the model ------------------------------------------------------


def story_run() -> tuple[CaseFile, dict[str, np.ndarray]]:
    """The story of the module's docstring, day by day through `engine.one_day`, citizens 0 and 1 traced."""
    from modelkit import build_state, offence, population, scenario, step
    from scslab.cases import person_frame
    from scslab.model import trace
    from scslab.model.metrics import MetricTable
    from scslab.model.surveillance import Charges
    from scslab.population.types import EMPLOYEE

    n = 10
    params = scenario(
        n, STORY_DAYS,
        start_date="2018-01-01",
        sources={"cameras": {"coverage": 1.0}, "internet": {"coverage": 1.0}},
        events={"criticism": offence(points=-20.0, source="internet", political=True),
                "jaywalking": offence(points=-50.0)},
        association={"events": ["criticism"]},
        networks={"friends": {"alpha": 0.5}},
        blacklist={"threshold": 750, "min_days": 100},
        appeal={"rate": 1.0, "success_wrongful": 1.0, "success_rightful": 0.0},
        recovery={"per_day": 0.0},
    )  # fmt: skip
    pop = population(n, group=1, district=3, occupation=EMPLOYEE, income_q=2,
                     edges={"friends": (np.array([0]), np.array([1]))})  # fmt: skip
    state = build_state(params, pop)
    trace.attach(state, trace.TraceSpec("ids", ids=(0, 1)), seed=1)  # (1's own rows: whose charge 0 got)
    table = MetricTable(state.cp, STORY_DAYS)
    criticism, jaywalking = 0, 1
    todays = {
        10: Charges(np.array([1]), np.array([criticism]), np.array([False]), np.array([1])),
        20: Charges(np.array([0]), np.array([jaywalking]), np.array([True]), np.array([2])),
    }
    for day in range(STORY_DAYS):
        step(state, day, todays.get(day), table=table)
    context = Context.of(params, 1, "0.1.0")
    case = CaseFile.build(0, person_frame(state, [0]), trace.frame(trace.charge_table(state)),
                          frame(state.listings.table()), trace.frame(trace.sanction_table(state)), context)  # fmt: skip
    return case, {"ledgers": state.ledgers[0, :4].copy(), "blacklisted": table.columns["blacklisted"][:STORY_DAYS]}


def test_the_story_told_by_the_model() -> None:
    """The model's case file of citizen 0 holds exactly the story's charges, days, points, contact and exit,
    and tells it in the story's sentences."""
    case, seen = story_run()
    expected = story_case()
    columns = ["event_day", "posted_day", "event", "source", "points", "ledger", "actor", "contact", "layer", "score"]
    got = case.charges[columns].astype(object).where(case.charges[columns].notna(), None).values.tolist()
    want = expected.charges[columns].astype(object).where(expected.charges[columns].notna(), None).values.tolist()
    assert got == want
    pd.testing.assert_frame_equal(case.listings, expected.listings)
    assert case.listings[["cause", "entry_day", "exit_day", "exit_reason"]].astype(object).values.tolist() == [
        ["misattribution", 20, 21, "appeal_won"]]
    assert len(case.sanctions) == 0
    assert case.summary() == STORY_SUMMARY
    assert case.network().table[["contact", "layer", "points", "their_charge"]].values.tolist() == [
        [1, "friends", -10.0, "own offence"]]
    # the rebuilt score is the model's: the ledgers at the end, and listed on day 20 only
    assert seen["ledgers"].tolist() == [0.0, 0.0, -10.0, 0.0]  # own, misattributed (struck out), association, merit
    assert case.person["score"].iloc[0] == case.score_by_day()["score"].iloc[-1] == 790.0
    below = case.score_by_day()["score"].to_numpy() < 750
    assert np.flatnonzero(below).tolist() == [20] and seen["blacklisted"].tolist() == [0] * 20 + [1] + [0] * 9


# --- replays of finished runs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def busy() -> object:
    """A small Beijing run with listings of several causes and sanctions."""
    import scslab

    return scslab.load_scenario("beijing-2020").with_overrides(
        {"population.size": 6000, "days": 60, "blacklist.threshold": 780, "blacklist.term_days": 15,
         "blacklist.min_days": 5, "recovery.clean_days": 5, "recovery.per_day": 2.0, "appeal.rate": 0.05}
    )  # fmt: skip


def same_case(a: CaseFile, b: CaseFile) -> None:
    for name in ("person", "charges", "listings", "sanctions"):
        pd.testing.assert_frame_equal(a.tables()[name], b.tables()[name], check_dtype=False, obj=name)
    assert a.summary() == b.summary()


def test_a_replay_gives_the_run_s_tables_and_the_traced_case(busy: object, tmp_path: Path) -> None:
    import scslab
    from scslab import api

    run = scslab.run(busy, 4, tmp_path / "run", people=True, report=False)
    chosen = report_picks(run.listings, 4)[:3]
    explained = api.explain_run(tmp_path / "run", chosen)
    assert explained.reproduced == ("timeseries.parquet", "breakdowns.parquet", "listings.parquet", "people.parquet")
    traced = scslab.simulate(busy, 4, trace=chosen)
    for c, case in zip(chosen, explained.cases, strict=True):
        same_case(case, traced.case(c))
        assert "reproduced timeseries.parquet" in case.provenance
    # one citizen, as the API's short form; a citizen the run did not trace is refused by Result.case
    assert scslab.explain(tmp_path / "run", chosen[0]).summary() == explained.cases[0].summary()
    with pytest.raises(ScslabError, match="not traced in this run"):
        traced.case(next(i for i in range(6000) if i not in chosen))


def test_the_same_case_after_a_checkpoint_and_resume(busy: object, tmp_path: Path) -> None:
    """A run stopped after a checkpoint and resumed replays to the same tables, and its case files are those of
    the uninterrupted run; a traced run resumed gives them from its own trace."""
    import scslab

    whole = scslab.simulate(busy, 5, trace="listed")
    chosen = report_picks(whole.listings, 5)[:2]

    def crash(day: int, _: int) -> None:
        if day == 33:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scslab.run(busy, 5, tmp_path / "run", report=False, checkpoint_every=10, progress=crash)
    scslab.resume(tmp_path / "run")
    replayed = scslab.explain(tmp_path / "run", chosen)
    for c, case in zip(chosen, replayed, strict=True):
        same_case(case, whole.case(c))
    with pytest.raises(KeyboardInterrupt):
        scslab.run(busy, 5, tmp_path / "traced", report=False, checkpoint_every=10, progress=crash, trace=chosen)
    resumed = scslab.resume(tmp_path / "traced")
    for c in chosen:
        same_case(resumed.case(c), whole.case(c))


def test_another_version_or_a_changed_table_is_refused(busy: object, tmp_path: Path) -> None:
    import scslab
    from runkit import cli
    from scslab import api

    scslab.run(busy, 6, tmp_path / "run", report=False)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    other = tmp_path / "old"
    other.mkdir()
    for f in (tmp_path / "run").iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    (other / "summary.json").write_text(json.dumps(summary | {"scslab_version": "0.0.9"}))
    with pytest.raises(ScslabError, match=r"made by scslab 0\.0\.9, this is scslab"):
        api.explain_run(other, [1])
    done = cli("explain", str(other), "--citizen", "1", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "0.0.9" in done.stderr
    ts = pd.read_parquet(tmp_path / "run" / "timeseries.parquet")
    ts.loc[3, "blacklisted"] += 1
    ts.to_parquet(tmp_path / "run" / "timeseries.parquet", index=False)
    with pytest.raises(ScslabError, match=r"the replay differs from the run in timeseries\.parquet"):
        api.explain_run(tmp_path / "run", [1])
    done = cli("explain", str(tmp_path / "run"), "--citizen", str(10**6), cwd=tmp_path)
    assert done.returncode == 2 and "not in the run's population" in done.stderr


def test_explain_command_prints_json_and_writes_parquet(busy: object, tmp_path: Path) -> None:
    import scslab
    from runkit import cli

    run = scslab.run(busy, 7, tmp_path / "run", report=False)
    done = cli("explain", str(tmp_path / "run"), "--pick", "wrongful", "--n", "2", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [c["citizen"] for c in doc["cases"]] == pick(run.listings, "wrongful", 2, 7)
    assert doc["reproduced"] == ["timeseries.parquet", "breakdowns.parquet", "listings.parquet"]
    for c in doc["cases"]:
        assert c["listings"] and any(ep["wrongful_at_entry"] or ep["wrongful_changes"] for ep in c["listings"])
    done = cli("explain", str(tmp_path / "run"), "--citizen", str(doc["cases"][0]["citizen"]), "--out",
               str(tmp_path / "cases"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "byte for byte" in done.stdout and doc["cases"][0]["summary"][:40] in " ".join(done.stdout.split())
    assert pd.read_parquet(tmp_path / "cases" / "person.parquet")["citizen"].tolist() == [doc["cases"][0]["citizen"]]


def test_network_tells_whose_charge_was_passed_on() -> None:
    """A contact's charge passed on is their own, misattributed to them (with its true actor), or unknown when
    the contact was not traced."""
    rows = [
        (0, 5, 5, "criticism", "internet", -10.0, "association", pd.NA, 1, "friends"),
        (0, 8, 8, "criticism", "internet", -10.0, "association", pd.NA, 3, "family"),
        (0, 9, 9, "criticism", "internet", -10.0, "association", pd.NA, 4, "work"),
        (1, 5, 5, "criticism", "internet", -20.0, "own", pd.NA, pd.NA, None),
        (3, 8, 8, "criticism", "internet", -20.0, "misattributed", 7, pd.NA, None),
    ]
    charges = pd.DataFrame(rows, columns=list(CHARGE_COLUMNS)).astype({"actor": "Int64", "contact": "Int64"})
    case = CaseFile.build(0, people(), charges, story_listings(), no_sanctions(), context())
    net = case.network()
    assert net.table[["contact", "layer", "their_charge"]].values.tolist() == [
        [1, "friends", "own offence"], [3, "family", "misattributed to them (true actor citizen 7)"],
        [4, "work", "not traced"]]
    assert list(net.figure.data[1].marker.color) == ["#9467bd", "#d62728", "#9467bd"]
