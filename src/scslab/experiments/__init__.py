"""Experiments at scale: ensembles, sweeps, sensitivity analysis and calibration, with a run catalogue.

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
    "calibrate",
    "ensemble",
    "make_executor",
    "sensitivity",
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
    "calibrate": "calibration",
    "ensemble": "ensembles",
    "sensitivity": "sensitivity_analysis",
    "sweep": "sweeps",
}

if TYPE_CHECKING:
    from scslab.experiments.calibration import calibrate
    from scslab.experiments.catalog import Catalog
    from scslab.experiments.common import Options
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
