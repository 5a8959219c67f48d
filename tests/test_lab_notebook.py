"""The lab inside Jupyter: `scslab.lab.Lab()` in a JupyterLab notebook, driven by Playwright through Debian's Chromium.

JupyterLab runs on a free port with its news and update checks off; the notebook's cell
displays the lab, and the test opens its pages, runs a small city and reads the Audit page's
verdict, with the same guard as the standalone app's tests (no request off 127.0.0.1 from the
lab, no console error from the lab's own code).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from scslab.audit import audit
from scslab.lab.server import free_port
from scslab.scenario import load_scenario
from test_browser import ARTIFACTS, CHROMIUM
from test_lab import FLAGS, PAGES, Guard, plotted

playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("jupyterlab")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed: `make test` installs Debian's chromium (apt-get install -y chromium, as root)",
)
# JupyterLab's own requests to the network (news, update checks) are off; what it may still try (fonts of
# extensions, say) is not the lab's and is only recorded, not failed on. The lab's requests all go to the
# notebook server.
JUPYTER_ARGS = ["--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
                "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=None",
                "--LabApp.extension_manager=readonly",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]  # fmt: skip


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """JupyterLab on a free port, serving a folder with one notebook whose cell is `Lab()`."""
    folder = tmp_path_factory.mktemp("lab-notebook")
    runs = folder / "runs"
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None, "id": "lab", "metadata": {}, "outputs": [],
            "source": f"from scslab.lab import Lab\nLab(root={str(runs)!r}, max_runs=1)"}  # fmt: skip
    notebook = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    (folder / "lab.ipynb").write_text(json.dumps(notebook))
    home = folder / "home"  # JupyterLab's settings and workspaces: none of the user's
    notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)  # no "notified about Jupyter news?" prompt over the page
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1] / "src"),
                        "JUPYTER_CONFIG_DIR": str(home / "config"),
                        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
                        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}  # fmt: skip
    log = folder / "jupyter.log"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", f"--port={port}", f"--ServerApp.root_dir={folder}",
                             *JUPYTER_ARGS], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "api/status", timeout=2).read()
            break
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
            time.sleep(0.5)
    yield {"url": url, "runs": runs, "log": log}
    proc.terminate()
    proc.wait(20)


class LabGuard(Guard):
    """The standalone guard, for the lab's part of the page: JupyterLab's own requests off the machine are kept."""

    def check(self) -> None:
        assert self.off_machine == [], self.off_machine
        ours = [e for e in self.errors if "favicon" not in e]
        assert ours == [], ours


def test_the_lab_in_a_jupyterlab_notebook(jupyter: dict[str, Any]) -> None:
    """The cell displays the lab; its pages open, a run of 5,000 citizens ends with its chart equal to its
    Parquet file, and Audit gives the verdict."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        guard = LabGuard()
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        guard.watch(context)
        page = guard.page(context)
        page.goto(jupyter["url"] + "lab/tree/lab.ipynb")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)  # the kernel is connected
        prompt = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first
        for _ in range(3):  # (a cell run in the moment the kernel's connection settles is dropped: run it again)
            page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
            page.keyboard.press("Control+Enter")
            try:
                page.wait_for_function("(p) => /\\[(\\*|\\d+)\\]/.test(p.textContent)", arg=prompt.element_handle(),
                                       timeout=10_000)  # fmt: skip
                break
            except playwright.Error:
                continue
        lab = page.locator(".jp-OutputArea-output")
        try:
            lab.get_by_text("Start from").wait_for(timeout=120_000)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "lab-notebook-failed.png"), full_page=True)
            log = jupyter["log"].read_text()[-4000:]
            raise AssertionError(f"the lab was not shown: {guard.errors}\n{log}") from None
        for name in PAGES:
            lab.get_by_role("tab", name=name).click()
            lab.get_by_role("tab", name=name, selected=True).wait_for(timeout=20_000)
        lab.get_by_role("tab", name="Run").click()
        for key, value in (("population.size", "5000"), ("days", "20")):
            box = lab.locator(".scs-key-" + key.replace(".", "-")).locator("input").first
            box.fill(value)
            box.press("Enter")
        lab.locator(".scs-run").click()
        lab.locator(".scs-chart-blacklist .js-plotly-plot").wait_for(timeout=120_000)
        lab.locator(".scs-state-done").wait_for(timeout=180_000)
        written = [r for r in jupyter["runs"].iterdir() if not r.name.startswith(".")]
        assert len(written) == 1, written
        ts = pd.read_parquet(written[0] / "timeseries.parquet")
        assert len(ts) == 20
        page.wait_for_function("""() => { const gd = document.querySelector('.scs-chart-blacklist .js-plotly-plot');
            return gd && gd.data && gd.data[0].x && gd.data[0].x.length === 20; }""", timeout=30_000)
        assert plotted(page, "blacklist")["own conduct"] == ts["blacklisted_own_conduct"].tolist()
        lab.get_by_role("tab", name="Audit").click()
        report = audit(load_scenario("beijing-2020"))
        verdict = lab.locator(".scs-verdict").inner_text()
        assert verdict.startswith("No rule meets" if report.passes else f"{len(report.prohibited)} rule(s) meet")
        ARTIFACTS.mkdir(exist_ok=True)
        page.wait_for_timeout(600)  # the tabs' slide from one page to the next
        page.screenshot(path=str(ARTIFACTS / "lab-notebook.png"), full_page=True)
        guard.check()
        browser.close()
