"""scslab: a simulation lab for social credit systems, on synthetic populations.

The API (scslab/api.py): `load_scenario`, `simulate`, `run`, `resume`, `plot`, `write_report`, `compare`,
`explain`, `Scenario`, `Result`, `CaseFile`. They are imported on first use, for start-up speed: `import scslab`
(and a worker's import of one module) does not load numba, pandas and plotly.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

from scslab.version import __version__

# The compiled kernels run some loops on several threads (OpenMP). Idle threads sleep instead
# of spinning, so that they do not slow the serial code between parallel loops (set the
# variable yourself to choose otherwise).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from scslab import compile_cache  # before any kernel is compiled

compile_cache.ensure()

_WHERE = {
    "compare": "api",
    "explain": "api",
    "CaseFile": "cases",
    "load_scenario": "api",
    "plot": "api",
    "resume": "api",
    "run": "api",
    "simulate": "api",
    "write_report": "api",
    "Result": "results",
    "Scenario": "scenario",
}
__all__ = ["CaseFile", "Result", "Scenario", "__version__", "compare", "explain", "load_scenario", "plot", "resume",
           "run", "simulate", "write_report"]  # fmt: skip

if TYPE_CHECKING:
    from scslab.api import compare, explain, load_scenario, plot, resume, run, simulate, write_report
    from scslab.cases import CaseFile
    from scslab.results import Result
    from scslab.scenario import Scenario


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"scslab.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'scslab' has no attribute {name!r}")
