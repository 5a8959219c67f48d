"""The lab's other flows in a real browser: a scenario file dropped on the Design page (and the files it
refuses), a comparison against a design saved in the session, and "Download run" from the Run and the
Sessions pages.

Uses tests/test_lab.py's server (`scslab lab` on a free port, its own root), Chromium and guard: every
page fails on a request leaving 127.0.0.1 and on any console or script error.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

import scslab
from scslab.errors import ScslabError
from scslab.lab.design import read_upload
from scslab.report.compare import metric_rows
from scslab.scenario.loader import MAX_FILE_BYTES
from test_browser import CHROMIUM
from test_lab import chromium, expand, field, only_run, open_lab, server, set_value, shoot, tab  # noqa: F401

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed: `make test` installs Debian's chromium (apt-get install -y chromium, as root)",
)
SIZE, DAYS = 5_000, 20  # the runs here are small: what is checked is the flow, not the model


def drop(page: Any, path: Path) -> None:
    """Drag a file from this machine's disk onto the Design page's drop zone, as a person does.

    Solara's FileDrop is a <div> with no <input type=file>, so Playwright's `set_input_files` has nothing to
    fill; and a DataTransfer made in the page's script gives no file entries (`webkitGetAsEntry()` is null),
    which the zone's drop handler reads. Chromium's own drag input (DevTools' Input.dispatchDragEvent, with
    the file's path) is a real drag of a real file: the browser reads it from disk and sends it in chunks."""
    zone = page.locator(".solara-file-drop")
    zone.scroll_into_view_if_needed()  # (the drag's point is in the window's coordinates)
    box = zone.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    devtools = page.context.new_cdp_session(page)
    data = {"items": [], "files": [str(path)], "dragOperationsMask": 1}  # 1: copy
    for kind in ("dragEnter", "dragOver", "drop"):
        devtools.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    devtools.detach()


def threshold(page: Any) -> str:
    return str(field(page, "blacklist.threshold").locator("input").input_value())


def message(page: Any, text: str) -> None:
    """`text` is on the page once, as the upload's message, and no traceback is."""
    page.get_by_text(text, exact=True).wait_for(timeout=30_000)
    assert page.get_by_text(text, exact=True).count() == 1
    body = page.inner_text("body")
    assert "Traceback" not in body and "Error:" not in body, body


def test_upload_a_scenario_file_and_refuse_damaged_ones(chromium: Any, server: dict[str, Any],  # noqa: F811
                                                         tmp_path: Path) -> None:  # fmt: skip
    """A scenario file dropped on the Design page becomes the design; a damaged TOML file, a binary file and a
    file over the size limit each give the loader's one-line message and leave the design as it was."""
    context, page, guard = open_lab(chromium, server)
    expand(page, "Blacklist")
    assert threshold(page) == "650"  # beijing-2020's
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "beijing-2020"\n\n[blacklist]\nthreshold = 712\n')
    drop(page, mine)
    message(page, "loaded mine.toml")
    page.wait_for_function("() => document.querySelector('.scs-key-blacklist-threshold input').value === '712'",
                           timeout=10_000)  # fmt: skip
    assert read_upload(mine.name, mine.read_bytes()).params.blacklist.threshold == 712
    refused = {
        "damaged.toml": b'extends = "beijing-2020"\n\n[blacklist\nthreshold = 600\n',
        "picture.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        "huge.toml": b'extends = "beijing-2020"\n' + b"# padding\n" * (MAX_FILE_BYTES // 10 + 1),
    }
    assert len(refused["huge.toml"]) > MAX_FILE_BYTES
    for name, data in refused.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ScslabError) as exc:
            read_upload(name, data)
        said = str(exc.value)
        assert said.startswith(f"{name}: ") and "\n" not in said, said
        drop(page, path)
        message(page, said)
        assert page.get_by_text("loaded mine.toml").count() == 0  # the message replaces the last one
        assert threshold(page) == "712", name  # the uploaded design is still the design
        shoot(page, f"upload-{path.stem}")
    # and the design the page keeps is the file's: its scenario download has the file's threshold
    with page.expect_download() as download:
        page.get_by_text("Download scenario.toml").click()
    kept = tmp_path / "kept.toml"
    download.value.save_as(kept)
    assert scslab.load_scenario(kept).params.blacklist.threshold == 712
    guard.check()
    context.close()


def rows_shown(page: Any) -> list[tuple[str, ...]]:
    """The Compare page's table, row by row, without its index column."""
    cells = (
        page.locator("table")
        .last.locator("tbody tr")
        .evaluate_all("rows => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.innerText.trim()))")
    )
    return [tuple(row[1:]) for row in cells]


def test_compare_against_a_saved_design(chromium: Any, server: dict[str, Any]) -> None:  # noqa: F811
    """Save the design (Sessions), change a control, compare the current design (A) with the saved one (B):
    every figure of the table is `scslab.compare`'s for the same designs, seeds and size."""
    context, page, guard = open_lab(chromium, server)
    tab(page, "Sessions")
    name = page.get_by_label("name")
    name.fill("as it was")
    name.press("Enter")
    page.get_by_role("button", name="Save the current design").click()
    page.get_by_text("as it was", exact=True).wait_for(timeout=10_000)
    tab(page, "Design")
    expand(page, "Blacklist")
    set_value(page, "blacklist.threshold", "780")
    tab(page, "Compare")
    page.locator(".v-select").filter(has=page.get_by_text("B", exact=True)).click()
    page.get_by_role("option", name="saved as it was").click()
    k, size, days = 2, SIZE, 30
    for key, value in (("seeds", k), ("size", size), ("days", days)):
        box = page.locator(f".scs-compare-{key} input").first
        box.fill(str(value))
        box.press("Enter")
    page.locator(".scs-compare").click()
    page.locator(".scs-compare-status").get_by_text("done").wait_for(timeout=90_000)
    page.locator(".scs-chart-compare .js-plotly-plot").wait_for(timeout=30_000)
    shoot(page, "compare-saved")
    start = scslab.load_scenario("beijing-2020").with_overrides({"population.size": 20_000, "days": 120})
    comparison = scslab.compare(start.with_overrides({"blacklist.threshold": 780}), start, seeds=k,
                                overrides={"population.size": size, "days": days})  # fmt: skip
    rows = metric_rows(comparison)
    assert len(rows) > 10 and any(row[3] not in ("0", "0.0", "0.0%") for row in rows)  # the change shows
    assert rows_shown(page) == rows
    guard.check()
    context.close()


def zipped(download: Any, tmp_path: Path, run: Path) -> None:
    """A "Download run" zip holds the run folder's files, byte for byte, under the folder's name."""
    assert download.suggested_filename == f"{run.name}.zip"
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        members = {info.filename: z.read(info) for info in z.infolist()}
    files = {f"{run.name}/{p.name}": p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert sorted(members) == sorted(files)
    for member, data in files.items():
        assert members[member] == data, member


def test_download_run_from_the_run_and_sessions_pages(chromium: Any, server: dict[str, Any],  # noqa: F811
                                                      tmp_path: Path) -> None:  # fmt: skip
    context, page, guard = open_lab(chromium, server)
    tab(page, "Run")
    set_value(page, "population.size", str(SIZE))
    set_value(page, "days", str(DAYS))
    before = set(server["root"].iterdir())
    page.locator(".scs-run").click()
    page.locator(".scs-state-done").wait_for(timeout=90_000)
    run = only_run(server["root"], before)
    assert {"timeseries.parquet", "scenario.toml", "summary.json", "report.html"} <= {p.name for p in run.iterdir()}
    with page.expect_download() as download:
        page.get_by_text("Download run").click()
    zipped(download.value, tmp_path / "run-page", run)
    tab(page, "Sessions")
    row = page.locator(".v-card").filter(has_text="Runs of this session")
    row.get_by_text(str(run)).wait_for(timeout=10_000)
    with page.expect_download() as download:
        row.get_by_role("button", name="Download", exact=True).click()
    zipped(download.value, tmp_path / "sessions-page", run)
    shoot(page, "sessions-download")
    guard.check()
    context.close()
