"""Numba kernels for the walks numpy cannot vectorise without large temporaries.

Each kernel is a plain loop over the day's ids and their ties; compiled once and cached on
disk (`cache=True`), so only the first run after an install pays the compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def spread_to_contacts(  # pragma: no cover - compiled
    indptr: np.ndarray,
    indices: np.ndarray,
    active: np.ndarray,
    sources: np.ndarray,
    weight: float,
    tally: np.ndarray,
    mark: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Add `weight` to `tally[k]` for every active tie i-k with i in `sources`.

    Each contact seen for the first time (`mark[k]` False) is marked and appended to
    `touched`; returns the new length of `touched`.
    """
    for i in sources:
        for slot in range(indptr[i], indptr[i + 1]):
            if active[slot]:
                k = indices[slot]
                tally[k] += weight
                if not mark[k]:
                    mark[k] = True
                    touched[n_touched] = k
                    n_touched += 1
    return n_touched


@njit(cache=True, nogil=True)
def deterrence_factor(  # pragma: no cover - compiled
    ids: np.ndarray,
    rho: np.ndarray,
    rho_day: np.ndarray,
    day: int,
    keep: float,
    strength: float,
    psi: float,
    alphas: np.ndarray,
    deg_family: np.ndarray,
    deg_work: np.ndarray,
    deg_friends: np.ndarray,
) -> np.ndarray:
    """`exp(-strength * rho_i * (1 + psi * A_i))` with rho decayed by `keep` a day since it was written.

    `strength = beta_e * |w_e| / 100`; `A_i = sum_l alphas[l] * deg_l(i)` (alphas all 0 when the
    event type is not under association).
    """
    out = np.empty(ids.size)
    log_keep = np.log(keep) if keep > 0 else -np.inf
    for j in range(ids.size):
        i = ids[j]
        age = day - 1 - rho_day[i]
        r = rho[i] if age == 0 else (rho[i] * np.exp(log_keep * age) if keep > 0 else 0.0)
        a = alphas[0] * deg_family[i] + alphas[1] * deg_work[i] + alphas[2] * deg_friends[i]
        out[j] = np.exp(-strength * r * (1.0 + psi * a))
    return out
