"""Phase 5, feedback: perceived risk and tie cutting (docs/model.md section 7).

`rho_i <- (1 - eta) * rho_i + eta * min(1, pen_i + gamma * n_i)`. Untouched citizens only
decay, so their `rho` is stored with the day it was last written and decayed on read; the
population mean is kept as a running sum. Only citizens charged today and their contacts
are written.
"""

from __future__ import annotations

import numpy as np

from scslab.model.contacts import gather_contacts, reverse_slots, row_spans
from scslab.model.draws import TIE, Draws
from scslab.model.risk import apply_risk
from scslab.model.state import State, concat
from scslab.population.types import Layer


def perceived_risk_update(state: State, day: int) -> None:
    """Raise the perceived risk of the charged and of their contacts; decay everyone else's.

    n_i is counted by listing, for every citizen charged for an event today, their active
    contacts, and sorting the list with the penalised: then one pass in id order updates
    everyone touched. (With gamma = 0 a contact's update is its plain decay, already lazy.)
    """
    fb = state.cp.p.feedback
    if fb.eta == 0:  # rho <- (1 - 0) * rho + 0 * x: nothing to do
        return
    penalised = state.scratch.distinct(concat(state.charged_negative))
    direct = charged_today(state) if fb.gamma > 0 else np.empty(0, dtype=np.int64)
    # one key a penalised citizen (2 i) and one a tie to a citizen charged today (2 k + 1)
    spans = [(layer, *row_spans(layer.indptr, direct)) for layer in state.pop.layers.values()]
    reach = sum(int(offset[-1]) for _, _, offset in spans)
    keys = np.empty(penalised.size + reach, dtype=np.int64 if state.n >= 2**30 else np.int32)
    keys[: penalised.size] = 2 * penalised
    n = penalised.size
    for layer, start, offset in spans:
        gather_contacts(layer.indices, layer.active, start, offset, keys, n)
        n += int(offset[-1])
    keys = np.sort(keys)
    x_sum = apply_risk(keys, fb.gamma, state.risk, day, fb.eta, state.cp.risk_decay)
    state.rho_sum = (1.0 - fb.eta) * state.rho_sum + fb.eta * x_sum


def charged_today(state: State) -> np.ndarray:
    """Citizens charged a negative point for an event today, each once, in ascending order."""
    return np.sort(state.scratch.distinct(concat(state.charged_direct)))


def cut_ties(state: State, draws: Draws) -> None:
    """Each active tie to a blacklisted citizen, in a layer with alpha > 0, is cut with `tie_cut_rate`.

    Every slot of the listed citizens' rows (cut or not) is drawn with `tie_cut_rate`, then the
    slots of ties already cut are dropped: in sequential mode the cost is O(listed + chosen)
    instead of O(ties). A tie between two listed citizens is drawn from one end only.
    """
    rate = state.cp.p.feedback.tie_cut_rate
    listed = state.blacklist.ids()
    if rate <= 0 or listed.size == 0:
        return
    for number, (name, layer) in enumerate(state.pop.layers.items()):
        if state.cp.alpha.get(name, 0.0) <= 0:
            continue
        starts = layer.indptr[listed].astype(np.int64)
        slots, owner = draws.chosen(starts, layer.indptr[listed + 1] - starts, rate, TIE, number)
        active = layer.active[slots]
        slots, owner = drawn_once(state, layer, listed, slots[active], owner[active])
        if slots.size:
            cut(state, name, layer, slots, listed[owner].astype(np.int64))


def drawn_once(
    state: State, layer: Layer, listed: np.ndarray, slots: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Drop the slots of ties between two listed citizens seen from their higher-numbered end, so
    that such a tie is drawn once, from its lower-numbered end."""
    other = layer.indices[slots].astype(np.int64)
    keep = ~(state.blacklist.member[other] & (other < listed[owner]))
    return slots[keep], owner[keep]


def cut(state: State, name: str, layer: Layer, slots: np.ndarray, rows: np.ndarray) -> None:
    """Cut the ties at `slots` (rows -> contacts) and their reverse ties; both ends lose alpha_l of exposure."""
    back = reverse_slots(layer, slots, rows)
    all_slots, first = np.unique(np.concatenate([slots, back]), return_index=True)
    ends = np.concatenate([rows, layer.indices[slots].astype(np.int64)])[first]
    layer.active[all_slots] = False
    np.subtract.at(state.exposure, ends, state.cp.alpha[name])
    state.counters.add("ties_cut", all_slots.size // 2)


def feedback(state: State, draws: Draws, day: int) -> None:
    """Phase 5: perceived risk, then tie cutting."""
    perceived_risk_update(state, day)
    cut_ties(state, draws)
