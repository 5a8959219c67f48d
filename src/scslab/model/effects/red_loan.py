"""Red loan: business owners with a recent detected party-promotion event hold a cheap loan."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.catalogue import Metric
from scslab.model.effects.base import NEVER, Array, Effect
from scslab.model.trace import felt
from scslab.population.types import BUSINESS_OWNER

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.state import IdSet, State
    from scslab.model.surveillance import Charges

KEY = "red_loan"
GRANTED, ENDED = "red loan granted", "red loan ended"  # its trace rows


def red_loans(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """Business owners with a detected party-promotion event in the last `window_days` hold a red loan."""
    entries = state.cp.reward_entries.get(KEY, ())
    if not entries:
        return
    window = entries[-1][1].window_days  # (the last rule's window)
    hit = state.cp.events.party_promotion[charges.event]
    ids = charges.target[hit]
    ids = ids[state.pop.occupation[ids] == BUSINESS_OWNER]
    until, loans = state.kept.arrays["red_loan_until"], state.kept.sets["red_loan"]
    until[ids] = day + window  # held on days day .. day + window - 1
    felt(state, KEY, GRANTED, loans.add(ids))
    held = loans.ids()
    ended = held[until[held] <= day]
    loans.discard(ended)
    felt(state, KEY, ENDED, ended)


def holders(state: State, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` hold a red loan now."""
    loans: IdSet = state.kept.sets["red_loan"]
    return loans.member[ids]


EFFECT = Effect(
    key=KEY,
    role="reward",
    description="Business owners with a detected party-promotion event in the last `window_days` hold a loan.",
    arrays=(Array("red_loan_until", np.int32, fill=NEVER),),  # the day each citizen's loan ends
    id_sets=("red_loan",),  # the holders
    metrics=(
        Metric(
            "red_loans",
            "stock",
            True,
            "Red loans at the end",
            "Business owners holding a red loan.",
            "citizens",
            headline=12,
        ),
    ),
    act=red_loans,
    read={"red_loans": lambda state: state.kept.sets["red_loan"].size},
    holds=holders,
    records=(GRANTED, ENDED),
)
