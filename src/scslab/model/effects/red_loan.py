"""Red loan: business owners with a recent detected party-promotion event hold a cheap loan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scslab.model.catalogue import Metric
from scslab.model.effects.base import Effect
from scslab.population.types import BUSINESS_OWNER

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.state import State
    from scslab.model.surveillance import Charges


def red_loans(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """Business owners with a detected party-promotion event in the last `window_days` hold a red loan."""
    entries = state.cp.reward_entries.get("red_loan", ())
    if not entries:
        return
    window = entries[-1][1].window_days  # (the last rule's window)
    hit = state.cp.events.party_promotion[charges.event]
    ids = charges.target[hit]
    ids = ids[state.pop.occupation[ids] == BUSINESS_OWNER]
    state.red_loan_until[ids] = day + window  # held on days day .. day + window - 1
    state.red_loan.add(ids)
    held = state.red_loan.ids()
    expired = held[state.red_loan_until[held] <= day]
    state.red_loan.discard(expired)


EFFECT = Effect(
    key="red_loan",
    role="reward",
    description="Business owners with a detected party-promotion event in the last `window_days` hold a loan.",
    bytes_per_citizen=4 + (1 + 4),  # the loan's end (int32) and the holders' id set (a mask and an int32 list)
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
    read={"red_loans": lambda state: state.red_loan.size},
    holds=lambda state, ids: state.red_loan.member[ids],
)
