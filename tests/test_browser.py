"""The pages as a person sees them: opened in headless Chromium, every figure drawn, no script error.

Each page is opened twice: a copy with a probe (which collects script errors, CSP
violations and network loads, then writes them and the count of drawn figures into the
DOM for `--dump-dom`), and the page itself for a screenshot under tests/artifacts/.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import scslab
from runkit import SMALL, small
from scslab.cases import report_picks
from scslab.experiments import compare
from scslab.report import CHARTS, COMPARE_FILE, REPORT_FILE, save_run, write_compare

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-extensions",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--virtual-time-budget=15000",
)
PROBE_HEAD = """<script>
window.__probe = {errors: [], csp: []};
window.addEventListener("error", function (e) { window.__probe.errors.push(String(e.message)); });
window.addEventListener("unhandledrejection", function (e) { window.__probe.errors.push("rejection: " + e.reason); });
document.addEventListener("securitypolicyviolation", function (e) {
  window.__probe.csp.push(e.violatedDirective + " " + e.blockedURI);
});
var __consoleError = console.error;
console.error = function () {
  window.__probe.errors.push("console: " + Array.from(arguments).join(" "));
  __consoleError.apply(console, arguments);
};
</script>"""
PROBE_TAIL = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var figures = Array.from(document.querySelectorAll(".scs-figure"));
  var marker = "<scr" + "ipt>";
  var report = {
    errors: window.__probe.errors, csp: window.__probe.csp, figures: figures.length,
    drawn: figures.filter(function (f) { return f.querySelector(".main-svg") !== null; }).length,
    cases: figures.filter(function (f) { return f.id.indexOf("case-") === 0; }).map(function (f) {
      return [f.id, f.querySelector(".main-svg") !== null, f.querySelectorAll("g.trace").length]; }),
    traces: figures.map(function (f) { return (f.data || []).length; }),
    drawn_traces: figures.map(function (f) { return f.querySelectorAll("g.trace").length; }),
    network: performance.getEntriesByType("resource").map(function (r) { return r.name; })
      .filter(function (n) { return /^(https?|wss?):/.test(n); }),
    pwned: window.__pwned === undefined ? null : window.__pwned,
    shows_markup_as_text: document.body.innerText.indexOf(marker) >= 0
  };
  var out = document.createElement("pre");
  out.id = "scs-probe";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
}, 1000); });
</script>"""

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed: `make test` installs Debian's chromium (apt-get install -y chromium, as root)",
)


def chromium(page: Path, *args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def open_page(page: Path, tmp_path: Path, screenshot: str | None) -> dict[str, Any]:
    """What the probe saw in `page`; a screenshot of the page goes to tests/artifacts/."""
    text = page.read_text(encoding="utf-8")
    probed = tmp_path / f"probed-{page.name}"
    head = text.index("<head>") + len("<head>")
    tail = text.rindex("</body>")
    probed.write_text(text[:head] + PROBE_HEAD + text[head:tail] + PROBE_TAIL + text[tail:], encoding="utf-8")
    dom = chromium(probed, "--dump-dom", profile=tmp_path / "profile-dom")
    match = re.search(r'<pre id="scs-probe">(.*?)</pre>', dom.stdout, re.S)
    assert match, f"the probe did not report: rc {dom.returncode}, stderr {dom.stderr[-2000:]}"
    if screenshot is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / screenshot).unlink(missing_ok=True)
        shot = chromium(
            page, f"--screenshot={ARTIFACTS / screenshot}", "--window-size=1280,3000", profile=tmp_path / "profile-shot"
        )
        assert (ARTIFACTS / screenshot).stat().st_size > 10_000, shot.stderr[-2000:]
    return json.loads(html.unescape(match.group(1)))


def assert_clean(seen: dict[str, Any], figures: int) -> None:
    assert seen["errors"] == [], seen["errors"]
    assert seen["csp"] == [], seen["csp"]
    assert seen["network"] == [], seen["network"]
    assert seen["figures"] == figures
    assert seen["drawn"] == figures, seen
    assert all(n > 0 for n in seen["traces"]), seen["traces"]
    assert seen["drawn_traces"] == seen["traces"], seen


# Listings of several causes in a small run, for the report's Cases section.
LISTED = {"blacklist.threshold": 780, "blacklist.term_days": 15, "blacklist.min_days": 5, "recovery.clean_days": 5,
          "recovery.per_day": 2.0, "appeal.rate": 0.05}  # fmt: skip


def test_report_renders_every_figure(tmp_path: Path) -> None:
    """Every chart and every case of the Cases section is drawn, each with all its traces."""
    scenario = small().with_overrides(LISTED)
    result = scslab.run(scenario, 2, tmp_path / "run", baseline=True)
    cases = report_picks(result.listings, 2)
    assert len(cases) >= 2
    seen = open_page(tmp_path / "run" / REPORT_FILE, tmp_path, "report.png")
    assert_clean(seen, len(CHARTS) + len(cases))
    assert [(i, drawn) for i, drawn, _ in seen["cases"]] == [(f"case-{c}", True) for c in cases]
    assert all(n >= 2 for *_, n in seen["cases"])  # the score line and at least one kind of charge


def test_compare_renders_every_figure(tmp_path: Path) -> None:
    a = small()
    b = a.with_overrides({"events.criticism.points": -80})
    out = write_compare(compare(a, b, seeds=2, crn=False), tmp_path / "cmp")
    seen = open_page(out / COMPARE_FILE, tmp_path, "compare.png")
    assert_clean(seen, 1)


def test_scenario_text_is_shown_not_run(tmp_path: Path) -> None:
    """A description holding markup is shown as text; none of it runs."""
    evil = '<script>window.__pwned = 1;</script><img src="x" onerror="window.__pwned = 2"> & "quotes"'
    path = tmp_path / "evil.toml"
    path.write_text(f'extends = "beijing-2020"\nname = "evil"\ndescription = {json.dumps(evil)}\n', encoding="utf-8")
    scenario = scslab.load_scenario(path).with_overrides(SMALL)
    run_dir = save_run(scslab.simulate(scenario, seed=1), tmp_path / "run")
    page = (run_dir / REPORT_FILE).read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in page and 'onerror="window' not in page
    assert "&lt;script&gt;window.__pwned = 1;&lt;/script&gt;" in page
    seen = open_page(run_dir / REPORT_FILE, tmp_path, "report-escaped.png")
    assert seen["pwned"] is None
    assert seen["shows_markup_as_text"]
    assert_clean(seen, len(CHARTS))


def test_probe_sees_a_broken_page(tmp_path: Path) -> None:
    """The probe is not blind: a page whose drawing code fails reports the error and no figure."""
    scenario = small()
    run_dir = save_run(scslab.simulate(scenario, seed=2), tmp_path / "run")
    broken = tmp_path / "broken.html"
    broken.write_text(
        (run_dir / REPORT_FILE).read_text(encoding="utf-8").replace("Plotly.newPlot(", "noSuchPlot("), encoding="utf-8"
    )
    seen = open_page(broken, tmp_path, None)
    assert any("noSuchPlot" in e for e in seen["errors"]), seen
    assert seen["figures"] == len(CHARTS) and seen["drawn"] == 0
