"""scslab: a simulation lab for social credit systems, on synthetic populations.

The API: `load_scenario`, `simulate`, `Scenario`, `Result` (imported on first use, so that
`import scslab` stays light).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# The compiled kernels run some loops on several threads (OpenMP). Idle threads sleep instead
# of spinning, so that they do not slow the serial code between parallel loops (set the
# variable yourself to choose otherwise).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from scslab import compile_cache  # before any kernel is compiled

compile_cache.ensure()

__version__ = "0.1.0"
__all__ = ["Result", "Scenario", "__version__", "load_scenario", "simulate"]

if TYPE_CHECKING:
    from scslab.api import load_scenario, simulate
    from scslab.results import Result
    from scslab.scenario import Scenario


def __getattr__(name: str) -> Any:
    if name in ("load_scenario", "simulate"):
        from scslab import api

        return getattr(api, name)
    if name == "Result":
        from scslab.results import Result

        return Result
    if name == "Scenario":
        from scslab.scenario import Scenario

        return Scenario
    raise AttributeError(f"module 'scslab' has no attribute {name!r}")
