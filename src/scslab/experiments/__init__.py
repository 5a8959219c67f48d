"""Experiments: ensembles, sweeps, sensitivity analysis, calibration and A/B comparison, with a run catalogue;
and the no-surveillance baseline of a run.

    from scslab.experiments import ensemble, Options
    res = ensemble("beijing-2020", seeds=100, options=Options(executor="dask"))
    res.intervals, res.bands

Names are imported on first use, so that a worker unpickling a task imports only what it runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "HEADLINE_METRICS",
    "Catalog",
    "DaskExecutor",
    "LocalExecutor",
    "Options",
    "Target",
    "baseline_scenario",
    "calibrate",
    "compare",
    "ensemble",
    "make_executor",
    "sensitivity",
    "simulate_baseline",
    "sweep",
]

_WHERE = {
    "HEADLINE_METRICS": "metrics",
    "Catalog": "catalog",
    "DaskExecutor": "executors",
    "LocalExecutor": "executors",
    "make_executor": "executors",
    "Options": "common",
    "Target": "targets",
    "baseline_scenario": "baseline",
    "calibrate": "calibration",
    "compare": "comparison",
    "ensemble": "ensembles",
    "sensitivity": "sensitivity_analysis",
    "simulate_baseline": "baseline",
    "sweep": "sweeps",
}

if TYPE_CHECKING:
    from scslab.experiments.baseline import baseline_scenario, simulate_baseline
    from scslab.experiments.calibration import calibrate
    from scslab.experiments.catalog import Catalog
    from scslab.experiments.common import Options
    from scslab.experiments.comparison import compare
    from scslab.experiments.ensembles import ensemble
    from scslab.experiments.executors import DaskExecutor, LocalExecutor, make_executor
    from scslab.experiments.metrics import HEADLINE_METRICS
    from scslab.experiments.sensitivity_analysis import sensitivity
    from scslab.experiments.sweeps import sweep
    from scslab.experiments.targets import Target


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"scslab.experiments.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'scslab.experiments' has no attribute {name!r}")
