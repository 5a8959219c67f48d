"""The lab in a real browser: `scslab lab` on a free port, driven by Playwright through Debian's Chromium.

Every page is opened with a guard that fails on any request leaving 127.0.0.1 and on any console
error; each page's screenshot goes to tests/artifacts/. The figures the page draws are read back
from plotly's own data in the page and checked against the run's Parquet files.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import scslab
from runkit import cli
from scslab.audit import audit
from scslab.lab.server import free_port
from test_browser import ARTIFACTS, CHROMIUM

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed: `make test` installs Debian's chromium (apt-get install -y chromium, as root)",
)
# The brief's flags, and no name resolution at all: a request off this machine cannot even start.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]  # fmt: skip
PAGES = ("Design", "Run", "Compare", "People", "Audit", "Sessions")
SIZE, DAYS = 20_000, 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`scslab lab` on a free port, with its root in a temporary folder."""
    root = tmp_path_factory.mktemp("lab-runs")
    log = tmp_path_factory.mktemp("lab-log") / "server.log"  # the server's terminal, shown when it fails
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "scslab", "lab", "--port", str(port), "--root", str(root),
                             "--no-browser", "--max-runs", "2"], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the lab did not answer within 60 s"
            time.sleep(0.3)
    yield {"url": url, "root": root, "proc": proc, "log": log}
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


class Guard:
    """What a page did that it must not: requests off 127.0.0.1, console errors, script errors."""

    def __init__(self) -> None:
        self.off_machine: list[str] = []
        self.errors: list[str] = []

    def watch(self, context: Any) -> None:
        def route(r: Any) -> None:
            address = r.request.url
            if re.match(r"^(https?|wss?)://127\.0\.0\.1[:/]", address) or address.startswith(("data:", "blob:")):
                r.continue_()
            else:
                self.off_machine.append(r.request.url)
                r.abort()

        context.route("**/*", route)

    def page(self, context: Any) -> Any:
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def check(self) -> None:
        assert self.off_machine == [], self.off_machine
        assert self.errors == [], self.errors


def open_lab(chromium: Any, server: dict[str, Any]) -> tuple[Any, Any, Guard]:
    guard = Guard()
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    guard.watch(context)
    page = guard.page(context)
    page.goto(server["url"])
    page.get_by_text("Start from").wait_for(timeout=60_000)
    return context, page, guard


def tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def field(page: Any, key: str) -> Any:
    return page.locator(".scs-key-" + key.replace(".", "-").replace("[", "-").replace("]", ""))


def expand(page: Any, group: str) -> None:
    """Open a group of controls of the Design page."""
    page.locator(".v-expansion-panel-header").get_by_text(group, exact=True).click()


def set_value(page: Any, key: str, text: str) -> None:
    box = field(page, key).locator("input").first
    box.fill(text)
    box.press("Enter")


def values(y: Any) -> list[Any]:
    """A trace's values as the page holds them: a list, or plotly's typed array ({dtype, bdata: base64})."""
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"])).tolist()
    return list(y)


def plotted(page: Any, chart: str) -> dict[str, list[Any]]:
    """The y values of each trace of a chart, by trace name, as plotly holds them in the page."""
    traces = page.evaluate(
        """(chart) => { const gd = document.querySelector('.scs-chart-' + chart + ' .js-plotly-plot');
           return gd.data.map((t) => [t.name, t.y]); }""",
        chart,
    )
    return {name: values(y) for name, y in traces}


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("""() => { document.activeElement?.blur();  // the page from its top, as a reader first sees it
        for (const e of document.querySelectorAll('*')) if (e.scrollTop) e.scrollTop = 0; window.scrollTo(0, 0); }""")
    page.wait_for_timeout(600)  # the tabs' slide from one page to the next
    page.screenshot(path=str(ARTIFACTS / f"lab-{name.lower()}.png"), full_page=True)


def only_run(root: Path, before: set[Path]) -> Path:
    new = [p for p in root.iterdir() if p not in before and not p.name.startswith(".")]
    assert len(new) == 1, new
    return new[0]


def test_design_run_live_people_and_download(chromium: Any, server: dict[str, Any], tmp_path: Path) -> None:
    """Change a control, run 20,000 citizens for 60 days, check the charts against the run's Parquet files,
    the scenario download against `scslab run`, and a wrongful case file against `scslab explain`."""
    context, page, guard = open_lab(chromium, server)
    expand(page, "Blacklist")
    set_value(page, "blacklist.threshold", "780")  # many listings, and wrongful ones, within 60 days
    set_value(page, "sources.cameras.misattribution", "0.05")
    expand(page, "Reproducibility")
    set_value(page, "start_date", "2019-06-01")  # a control of a group added with the scenario format's every key
    shoot(page, "Design")
    with page.expect_download() as download:
        page.get_by_text("Download scenario.toml").click()
    design_file = tmp_path / "scenario.toml"
    download.value.save_as(design_file)
    tab(page, "Run")
    set_value(page, "days", str(DAYS))
    assert field(page, "population.size").locator("input").input_value() == str(SIZE)
    before = set(server["root"].iterdir())
    page.locator(".scs-run").click()
    page.locator(".scs-chart-blacklist .js-plotly-plot").wait_for(timeout=60_000)
    page.locator(".scs-state-done").wait_for(timeout=90_000)
    page.wait_for_function("""() => { const gd = document.querySelector('.scs-chart-political .js-plotly-plot');
        return gd && gd.data.some((t) => t.name.startsWith('without surveillance')); }""", timeout=30_000)
    shoot(page, "Run")
    run = only_run(server["root"], before)
    ts = pd.read_parquet(run / "timeseries.parquet")
    assert len(ts) == DAYS
    blacklist = plotted(page, "blacklist")
    assert blacklist["wrongfully listed"] == ts["blacklisted_wrongful"].tolist()
    assert blacklist["own conduct"] == ts["blacklisted_own_conduct"].tolist()
    score = plotted(page, "score")
    assert score["median"] == pytest.approx(ts["score_p50"].tolist())
    base = pd.read_parquet(run / "baseline_timeseries.parquet")
    assert plotted(page, "political")["without surveillance, 7-day mean"] == pytest.approx(
        base["political_events"].rolling(7, min_periods=1).mean().tolist())
    ran = scslab.load_scenario(run / "scenario.toml").params
    assert ran.sources["cameras"].misattribution == 0.05 and ran.blacklist.threshold == 780
    assert ran.days == DAYS and ran.population.size == SIZE and str(ran.start_date) == "2019-06-01"
    # the downloaded design reproduces the run with `scslab run`, byte for byte
    text = design_file.read_text()
    assert "--seed 1" in text.splitlines()[0]
    again = tmp_path / "again"
    design_file.write_text(text.replace("days = 120", f"days = {DAYS}"))  # the download came before the days changed
    done = cli("run", str(design_file), "--seed", "1", "--out", str(again), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in run.iterdir())
    for name in ("timeseries.parquet", "breakdowns.parquet", "listings.parquet", "baseline_timeseries.parquet",
                 "scenario.toml"):  # fmt: skip
        assert (again / name).read_bytes() == (run / name).read_bytes(), name
    # the report and the summary name where the scenario came from (a preset changed in the lab; the file)
    origins = [json.loads((folder / "summary.json").read_text())["origin"] for folder in (run, again)]
    assert origins == ["preset beijing-2020", str(design_file)]
    report = (run / "report.html").read_text().replace(html.escape(origins[0]), html.escape(origins[1]))
    assert report == (again / "report.html").read_text()
    with page.expect_download() as zipped:
        page.get_by_text("Download run").click()
    assert zipped.value.suggested_filename == f"{run.name}.zip"
    # People: a random wrongful case, checked against `scslab explain` (a replay of the run folder)
    tab(page, "People")
    page.locator(".scs-random-case").click()
    card = page.locator(".scs-case")
    card.wait_for(timeout=30_000)
    found = re.search(r"Case of citizen (\d+)", card.inner_text())
    assert found is not None, card.inner_text()
    citizen = int(found.group(1))
    case = scslab.explain(run, citizen)
    assert page.locator(".scs-case-summary").inner_text() == case.summary()
    lines = card.locator(".scs-case-line").all_inner_texts()
    assert lines == [f"{row.date}: {row.text}" for row in case.timeline().itertuples(index=False)]
    listings = pd.read_parquet(run / "listings.parquet").fillna({"exit_day": -1})
    mine = listings[listings["citizen"] == citizen]
    # wrongful when it ended, or (still listed) at entry flipped by each change of status since
    now = [bool(row.wrongful_at_exit) if row.exit_day >= 0
           else bool(row.wrongful_at_entry) ^ (len(row.wrongful_changes) % 2 == 1)
           for row in mine.itertuples()]  # fmt: skip
    assert any(now)
    page.locator(".scs-chart-case-score .js-plotly-plot").wait_for(timeout=10_000)
    shoot(page, "People")
    guard.check()
    context.close()


def test_invalid_value_shows_its_message(chromium: Any, server: dict[str, Any]) -> None:
    context, page, guard = open_lab(chromium, server)
    expand(page, "Events")
    set_value(page, "events.criticism.rate", "-1")
    message = field(page, "events.criticism.rate").locator(".v-messages")
    message.get_by_text("-1 is out of range (allowed: a number in [0, 100])").wait_for(timeout=10_000)
    set_value(page, "sources.cameras.coverage", "lots")
    field(page, "sources.cameras.coverage").get_by_text("(allowed: a probability in [0, 1])").wait_for(timeout=10_000)
    assert "Traceback" not in page.inner_text("body")
    guard.check()
    context.close()


def test_a_value_typed_is_kept_through_a_render_before_it_is_applied(chromium: Any, server: dict[str, Any]) -> None:
    """The page rendered between typing a value and applying it (here by the chilling-effect checkbox,
    toggled by a script so that the days field keeps the focus, as a run's progress or a download's
    thread renders it) keeps the text typed, and the run has those days: Solara's own text field put the
    old value back, and the run silently had 120 days."""
    context, page, guard = open_lab(chromium, server)
    tab(page, "Run")
    box = field(page, "days").locator("input").first
    box.fill("7")
    page.evaluate("""() => [...document.querySelectorAll('.v-input--checkbox')]
        .find((e) => e.innerText.includes('also run without surveillance')).querySelector('input').click()""")
    page.wait_for_timeout(1_500)  # the server's render of the Run page has come back
    assert box.input_value() == "7"
    box.press("Enter")
    before = set(server["root"].iterdir())
    page.locator(".scs-run").click()
    page.locator(".scs-state-done").wait_for(timeout=90_000)
    run = only_run(server["root"], before)
    assert len(pd.read_parquet(run / "timeseries.parquet")) == 7
    assert not (run / "baseline_timeseries.parquet").exists()  # the checkbox, too, was applied
    guard.check()
    context.close()


def test_a_flag_is_a_box_to_tick(chromium: Any, server: dict[str, Any], tmp_path: Path) -> None:
    """A true-or-false key is a box; ticking it changes the design's scenario file (and nothing else)."""
    context, page, guard = open_lab(chromium, server)
    expand(page, "Reproducibility")
    box = field(page, "crn")
    assert not box.locator("input").is_checked()
    box.locator("label").click()
    page.wait_for_function("() => document.querySelector('.scs-key-crn input').checked")
    with page.expect_download() as download:
        page.get_by_text("Download scenario.toml").click()
    download.value.save_as(tmp_path / "scenario.toml")
    ticked = scslab.load_scenario(tmp_path / "scenario.toml").params
    start = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 20_000, "days": 120}).params
    assert ticked.crn and ticked.model_copy(update={"crn": False}) == start
    guard.check()
    context.close()


def test_cancel_stops_the_run_and_leaves_nothing(chromium: Any, server: dict[str, Any]) -> None:
    context, page, guard = open_lab(chromium, server)
    tab(page, "Run")
    set_value(page, "days", "3000")
    set_value(page, "population.size", "50000")
    before = set(server["root"].iterdir())
    page.locator(".scs-run").click()
    page.locator(".scs-state-running").wait_for(timeout=60_000)
    page.locator(".scs-cancel").click()
    page.locator(".scs-state-cancelled").wait_for(timeout=5_000)
    assert set(server["root"].iterdir()) == before  # nothing of the cancelled run is left
    guard.check()
    context.close()


def test_two_sessions_are_independent_and_a_closed_one_frees_its_run(chromium: Any, server: dict[str, Any]) -> None:
    first, page_a, guard_a = open_lab(chromium, server)
    second, page_b, guard_b = open_lab(chromium, server)
    expand(page_a, "Blacklist")
    set_value(page_a, "blacklist.threshold", "700")
    field(page_a, "blacklist.threshold").locator("input").blur()
    page_b.reload()
    page_b.get_by_text("Start from").wait_for(timeout=60_000)
    expand(page_b, "Blacklist")
    assert field(page_b, "blacklist.threshold").locator("input").input_value() == "650"
    assert field(page_a, "blacklist.threshold").locator("input").input_value() == "700"
    tab(page_a, "Run")
    set_value(page_a, "days", "5000")
    page_a.locator(".scs-run").click()
    page_a.locator(".scs-state-running").wait_for(timeout=60_000)
    tab(page_b, "Run")
    assert page_b.locator(".scs-status").count() == 0  # no run of the other session shows here
    tab(page_b, "Sessions")
    page_b.locator(".scs-refresh").click()
    page_b.locator(".scs-server").get_by_text("1 run(s) going").wait_for(timeout=10_000)
    guard_a.check()
    first.close()  # a session that closes frees its run (10 s after its last page went)
    deadline = time.monotonic() + 40
    while "0 run(s) going" not in page_b.locator(".scs-server").inner_text():
        assert time.monotonic() < deadline, "the closed session's run still holds its slot"
        page_b.locator(".scs-refresh").click()
        page_b.wait_for_timeout(1000)
    guard_b.check()
    second.close()


def test_every_page_compare_and_audit(chromium: Any, server: dict[str, Any]) -> None:
    """Every page opens with no console error and no request off the machine; Compare and Audit give the
    project's own figures."""
    context, page, guard = open_lab(chromium, server)
    for name in PAGES:
        tab(page, name)
        page.wait_for_timeout(300)
        shoot(page, name) if name in ("Sessions",) else None
    tab(page, "Audit")
    report = audit(scslab.load_scenario("beijing-2020"))
    verdict = page.locator(".scs-verdict").inner_text()
    assert verdict.startswith("No rule meets" if report.passes else f"{len(report.prohibited)} rule(s) meet")
    for finding in report.findings:
        page.get_by_text(f"{finding.rule}: {finding.effect.replace('_', ' ')} ({finding.trigger})").wait_for()
    shoot(page, "Audit")
    tab(page, "Compare")
    for name, value in (("seeds", "2"), ("size", "3000"), ("days", "40")):
        box = page.locator(f".scs-compare-{name} input").first
        box.fill(value)
        box.press("Enter")
    page.locator(".scs-compare").click()
    page.locator(".scs-compare-status").get_by_text("done").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").last.wait_for()
    cells = page.locator("table").last.inner_text()
    comparison = scslab.compare(scslab.load_scenario("beijing-2020").with_overrides({"population.size": 20_000,
                                "days": 120}), "rights-respecting", seeds=2,
                                overrides={"population.size": 3_000, "days": 40})  # fmt: skip
    from scslab.report.compare import metric_rows

    rows = metric_rows(comparison)
    assert len(rows) > 10
    for figure, _, _, difference, span, _ in rows:  # each headline figure's B − A and its interval, as computed here
        assert f"{figure}\t" in cells and f"\t{difference}\t{span}" in cells, (figure, difference, span)
    shoot(page, "Compare")
    guard.check()
    context.close()
