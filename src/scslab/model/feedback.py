"""Phase 5, feedback: perceived risk and tie cutting (MODEL.md section 7).

`rho_i <- (1 - eta) * rho_i + eta * min(1, pen_i + gamma * n_i)`. Untouched citizens only
decay, so their `rho` is stored with the day it was last written and decayed on read; the
population mean is kept as a running sum. Only citizens charged today and their contacts
are written.
"""

from __future__ import annotations

import numpy as np

from scslab.model.behaviour import perceived_risk
from scslab.model.contacts import contacts, edge_slots, reverse_slots
from scslab.model.state import State, concat


def perceived_risk_update(state: State, day: int) -> None:
    """Raise the perceived risk of the charged and of their contacts; decay everyone else's."""
    fb = state.cp.p.feedback
    penalised = np.unique(concat(state.charged_negative))
    direct = np.unique(concat(state.charged_direct))
    reached = [penalised]
    for layer in state.pop.layers.values():
        contact, _ = contacts(layer, direct)
        reached.append(contact)
    everyone = concat(reached)
    ids, first = np.unique(everyone, return_inverse=True)
    # n_i: ties to directly charged citizens (everyone minus the `penalised` block)
    n_contacts = np.bincount(first[penalised.size :], minlength=ids.size)
    pen = np.zeros(ids.size)
    pen[np.searchsorted(ids, penalised)] = 1.0
    x = np.minimum(1.0, pen + fb.gamma * n_contacts)
    rho_before = perceived_risk(state, ids, day)
    state.rho[ids] = (1.0 - fb.eta) * rho_before + fb.eta * x
    state.rho_day[ids] = day
    state.rho_sum = (1.0 - fb.eta) * state.rho_sum + fb.eta * float(x.sum())


def cut_ties(state: State, rng: np.random.Generator) -> None:
    """Each active tie to a blacklisted citizen, in a layer with alpha > 0, is cut with `tie_cut_rate`."""
    rate = state.cp.p.feedback.tie_cut_rate
    listed = state.blacklist.ids()
    if rate <= 0 or listed.size == 0:
        return
    for name, layer in state.pop.layers.items():
        if state.cp.alpha.get(name, 0.0) <= 0:
            continue
        slots, owner = edge_slots(layer, listed)
        cut = rng.random(slots.size) < rate
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
    cut_ties(state, rng)
