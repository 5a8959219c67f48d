"""Phase 5, feedback: perceived risk and tie cutting (MODEL.md section 7).

`rho_i <- (1 - eta) * rho_i + eta * min(1, pen_i + gamma * n_i)`. Untouched citizens only
decay, so their `rho` is stored with the day it was last written and decayed on read; the
population mean is kept as a running sum. Only citizens charged today and their contacts
are written.
"""

from __future__ import annotations

import numpy as np

from scslab.model.behaviour import perceived_risk
from scslab.model.contacts import edge_slots, reverse_slots
from scslab.model.draws import TIE, uniform
from scslab.model.kernels import spread_to_contacts
from scslab.model.state import State, concat


def perceived_risk_update(state: State, day: int) -> None:
    """Raise the perceived risk of the charged and of their contacts; decay everyone else's."""
    fb = state.cp.p.feedback
    if fb.eta == 0:  # rho <- (1 - 0) * rho + 0 * x: nothing to do
        return
    penalised = state.scratch.distinct(concat(state.charged_negative))
    direct = state.scratch.distinct(concat(state.charged_direct))
    # pen_i + gamma * n_i, summed in a per-citizen column; `mark` collects each citizen once
    tally, mark = state.tally, state.mark
    reach = sum(int((layer.indptr[direct + 1] - layer.indptr[direct]).sum()) for layer in state.pop.layers.values())
    touched = np.empty(penalised.size + reach, dtype=np.int64)
    touched[: penalised.size] = penalised
    mark[penalised] = True
    n = penalised.size
    for layer in state.pop.layers.values():
        n = spread_to_contacts(layer.indptr, layer.indices, layer.active, direct, fb.gamma, tally, mark, touched, n)
    ids = touched[:n]
    tally[penalised] += 1.0
    x = np.minimum(1.0, tally[ids])
    tally[ids] = 0.0
    mark[ids] = False
    rho_before = perceived_risk(state, ids, day)
    state.rho[ids] = (1.0 - fb.eta) * rho_before + fb.eta * x
    state.rho_day[ids] = day
    state.rho_sum = (1.0 - fb.eta) * state.rho_sum + fb.eta * float(x.sum())


def cut_ties(state: State, rng: np.random.Generator, day: int) -> None:
    """Each active tie to a blacklisted citizen, in a layer with alpha > 0, is cut with `tie_cut_rate`."""
    rate = state.cp.p.feedback.tie_cut_rate
    listed = state.blacklist.ids()
    if rate <= 0 or listed.size == 0:
        return
    for number, (name, layer) in enumerate(state.pop.layers.items()):
        if state.cp.alpha.get(name, 0.0) <= 0:
            continue
        slots, owner = edge_slots(layer, listed)
        # a tie between two listed citizens is drawn once, from its lower-numbered end
        other = layer.indices[slots].astype(np.int64)
        once = ~(state.blacklist.member[other] & (other < listed[owner]))
        slots, owner = slots[once], owner[once]
        cut = uniform(state, rng, day, slots, TIE, number) < rate
        slots, rows = slots[cut], listed[owner[cut]].astype(np.int64)
        if slots.size == 0:
            continue
        back = reverse_slots(layer, slots, rows)
        all_slots, first = np.unique(np.concatenate([slots, back]), return_index=True)
        ends = np.concatenate([rows, layer.indices[slots].astype(np.int64)])[first]
        layer.active[all_slots] = False
        np.subtract.at(state.active_degree[name], ends, 1)
        state.counters.ties_cut += all_slots.size // 2


def feedback(state: State, rng: np.random.Generator, day: int) -> None:
    """Phase 5: perceived risk, then tie cutting."""
    perceived_risk_update(state, day)
    cut_ties(state, rng, day)
