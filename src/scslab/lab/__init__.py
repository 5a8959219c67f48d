"""The lab: an interactive web app to design a scoring system, run it live, compare designs and open the cases.

    scslab lab                      # a local web app on http://127.0.0.1:8521/
    import scslab.lab; scslab.lab.Lab()   # the same app in a notebook cell

docs/lab.md describes its pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scslab.lab.server import configure, serve

__all__ = ["Lab", "serve"]


def Lab(root: Path | str = "runs", max_runs: int | None = None) -> Any:
    """The lab as a Solara element: the last expression of a notebook cell displays it."""
    config = configure(root, max_runs)
    config.queue.workers.warm()  # a worker process ready for the first Run, as `scslab lab` has
    from scslab.lab.app import Page
    from scslab.lab.charts import NOTEBOOK

    NOTEBOOK["on"] = True

    return Page()
