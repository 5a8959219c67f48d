"""The tutorials (docs/tutorials/*.ipynb) run from the first cell to the last, small, and end in a figure."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = sorted((Path(__file__).parent.parent / "docs" / "tutorials").glob("*.ipynb"))
# Small enough that the three take well under a minute together (numba's cache warm).
SMALL = {"SCSLAB_TUTORIAL_SIZE": "1500", "SCSLAB_TUTORIAL_DAYS": "90", "SCSLAB_TUTORIAL_SEEDS": "1"}
PLOTLY = "application/vnd.plotly.v1+json"


def test_there_are_the_three_tutorials() -> None:
    assert [p.stem for p in TUTORIALS] == ["a-design-that-passes-the-audit", "chilling-effect-vs-association",
                                           "wrongful-share-vs-camera-accuracy"]  # fmt: skip


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_without_warnings_and_ends_in_a_figure(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in SMALL.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit tutorials without outputs"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "warn" not in stderr.lower(), stderr
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    figure = next(o for o in last.outputs if PLOTLY in o.get("data", {}))
    data = figure["data"][PLOTLY]
    spec = json.loads(data) if isinstance(data, str) else data
    assert spec["data"] and all(len(trace.get("x", ())) > 0 for trace in spec["data"])
    # every headline table a Result shows is short HTML, not a dump of the state
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert html and all(len(h) < 20_000 for h in html)
