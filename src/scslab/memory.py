"""Estimate a run's peak memory before allocating anything, and refuse runs that would not fit."""

from __future__ import annotations

import os

from scslab.errors import ResourceError
from scslab.scenario.schema import ScenarioParams

# Bytes per citizen held by the run state (model/state.py): six float64 arrays (ledgers,
# score, rho), three id sets (mask + int64 list), the int32/int8 bookkeeping arrays, the
# lookup orders (two int64), the active degrees (3 x int32), and the per-day scratch.
STATE_BYTES = 6 * 8 + 3 * 9 + 4 * 4 + 6 * 1 + 2 * 8 + 3 * 4 + 16
# Per event type: eligible ids (int64) and the cumulative propensity (float64).
EVENT_BYTES = 16
# Building the people table at the end (Result.people) and the end-of-run breakdowns.
RESULT_BYTES = 120
FIXED_BYTES = 300 * 2**20  # interpreter, numpy, pandas, pyarrow
# Measured peaks (bench/README.md) sit within 5% of the estimate at 2 M citizens; the margin
# covers the people table written with --save-people and allocator fragmentation.
MARGIN = 1.15


def estimate_peak_bytes(params: ScenarioParams) -> int:
    """The peak memory of a run of `params`, in bytes."""
    from scslab.population import estimate_bytes_per_citizen

    per_citizen = (
        estimate_bytes_per_citizen(params.population, params.networks)
        + STATE_BYTES
        + EVENT_BYTES * len(params.events)
        + RESULT_BYTES
    )
    return int(FIXED_BYTES + MARGIN * per_citizen * params.population.size)


def available_bytes() -> int:
    """Memory this process can still take: MemAvailable, or physical memory where that is unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**62


def check_memory(params: ScenarioParams, source: str) -> None:
    """Raise a one-line ResourceError when the run would not fit in available memory."""
    need = estimate_peak_bytes(params)
    have = int(available_bytes() * 0.9)
    if need <= have:
        return
    per_citizen = (need - FIXED_BYTES) / params.population.size
    fits = max(0, int((have - FIXED_BYTES) / per_citizen))
    raise ResourceError(
        f"{source}: population.size: {params.population.size:,} citizens need about {need / 2**30:.1f} GiB "
        f"but {have / 2**30:.1f} GiB is available (allowed here: at most {fits:,} citizens)"
    )
