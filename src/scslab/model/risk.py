"""Perceived risk and deterrence (docs/model.md sections 3 and 7): each citizen's risk record and the
kernels that decay, raise and read it.

`State.risk` is one record of three float64 a citizen: `rho_i` as last written (RHO), the day it
was written (RHO_DAY, -1 for rho0) and `A_i = sum_l alpha_l * deg_l(i)` over active ties (EXPOSURE).
Untouched citizens only decay, so `rho` is decayed on read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from scslab.model.compiled import AHEAD, CHUNK, fill_records, prefetch
from scslab.model.contacts import add_degrees

if TYPE_CHECKING:
    from scslab.model.params import Compiled
    from scslab.population.types import Population

RHO, RHO_DAY, EXPOSURE = range(3)


@njit(cache=True, nogil=True, inline="always")
def decayed_risk(risk: np.ndarray, i: int, day: int, decay: np.ndarray) -> float:  # pragma: no cover - compiled
    """`rho_i` at the start of `day`: the stored value times `1 - eta` for each day since it was written.

    `decay[a] = (1 - eta) ** a` (a table over the run's days; beyond it the power is taken).
    """
    age = day - 1 - int(risk[i, RHO_DAY])
    if age < decay.size:
        return risk[i, RHO] * decay[age]
    return risk[i, RHO] * decay[1] ** age


@njit(cache=True, nogil=True)
def decayed_risks(  # pragma: no cover - compiled
    ids: np.ndarray, risk: np.ndarray, day: int, decay: np.ndarray
) -> np.ndarray:
    """`decayed_risk` for each of `ids`."""
    out = np.empty(ids.size)
    for j in range(ids.size):
        if j + AHEAD < ids.size:
            prefetch(risk, ids[j + AHEAD])
        out[j] = decayed_risk(risk, ids[j], day, decay)
    return out


@njit(cache=True, nogil=True, parallel=True)
def apply_risk(  # pragma: no cover - compiled
    keys: np.ndarray, gamma: float, risk: np.ndarray, day: int, eta: float, decay: np.ndarray
) -> float:
    """`rho_i <- (1 - eta) rho_i + eta min(1, pen_i + gamma n_i)` for every citizen with a key.

    `keys` is ascending: `2 i` once if i was charged a negative point today (pen_i = 1), and
    `2 i + 1` once per active tie of i to a citizen charged for an event today (n_i times);
    negative keys are skipped. Each run of equal i is one update, the records read in address
    order; chunks of runs go in parallel. Each citizen written is stamped with `day`; returns
    the sum of `min(1, pen_i + gamma n_i)` (summed by chunk, in chunk order).
    """
    first = int(np.searchsorted(keys, 0))
    n_chunks = (keys.size - first + CHUNK - 1) // CHUNK
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks + 1):
        b: int = min(first + c * CHUNK, keys.size)
        while first < b < keys.size and keys[b] >> 1 == keys[b - 1] >> 1:
            b += 1  # chunks start where a run starts
        bounds[c] = max(b, bounds[c - 1]) if c > 0 else b
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        j = bounds[c]
        end = bounds[c + 1]
        total = 0.0
        while j < end:
            if j + AHEAD < keys.size:
                prefetch(risk, keys[j + AHEAD] >> 1)
            i = keys[j] >> 1
            pen = 0.0
            n_i = 0
            while j < end and keys[j] >> 1 == i:
                if keys[j] & 1:
                    n_i += 1
                else:
                    pen = 1.0
                j += 1
            x = min(1.0, pen + gamma * n_i)
            risk[i, RHO] = (1.0 - eta) * decayed_risk(risk, i, day, decay) + eta * x
            risk[i, RHO_DAY] = day
            total += x
        partial[c] = total
    out = 0.0
    for c in range(n_chunks):  # in chunk order (an array sum here would become a parallel reduction)
        out += partial[c]
    return out


@njit(cache=True, nogil=True, parallel=True)
def deterrence_factor(  # pragma: no cover - compiled
    ids: np.ndarray, risk: np.ndarray, day: int, decay: np.ndarray, strength: float, psi: float, associated: bool
) -> np.ndarray:
    """`exp(-strength * rho_i * (1 + psi * A_i))` with rho decayed since it was written (`decayed_risk`).

    `strength = beta_e * |w_e| / 100`; `A_i = sum_l alpha_l * deg_l(i)` (the EXPOSURE column) when the
    event type is under association, else 0.
    """
    out = np.empty(ids.size)
    for j in prange(ids.size):
        if j + AHEAD < ids.size:
            prefetch(risk, ids[j + AHEAD])
        i = ids[j]
        a = risk[i, EXPOSURE] if associated else 0.0
        out[j] = np.exp(-strength * decayed_risk(risk, i, day, decay) * (1.0 + psi * a))
    return out


def initial_risk(cp: Compiled, pop: Population) -> np.ndarray:
    """The risk records at the start: rho0 written on day -1, exposure from the degrees."""
    start = np.zeros(3)
    start[RHO], start[RHO_DAY] = cp.p.feedback.rho0, -1.0
    risk = np.empty((pop.size, 3))
    fill_records(risk, start)
    for name, layer in pop.layers.items():
        if cp.alpha.get(name, 0.0):
            add_degrees(risk, EXPOSURE, layer.indptr, cp.alpha[name])
    return risk
