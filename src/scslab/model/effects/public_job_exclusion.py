"""Public job exclusion and promotions: civil servants' promotions, blocked off the top tiers,
on the blacklist, or under this sanction (MODEL.md section 6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.catalogue import Metric
from scslab.model.draws import PROMOTION
from scslab.model.effects.base import Effect, severe
from scslab.model.params import applies
from scslab.model.trace import felt

if TYPE_CHECKING:
    from scslab.model.draws import Draws
    from scslab.model.state import State
    from scslab.model.surveillance import Charges

KEY = "public_job_exclusion"
BLOCKED = "promotion blocked"  # its trace rows


def promotions(state: State, draws: Draws, day: int) -> None:
    """Civil servants' promotion chances: granted at `min_tier` or above, off the blacklist,
    and without a public-job exclusion; otherwise blocked."""
    cs = state.civil_servants.astype(np.int64)
    rate = state.cp.p.promotion.rate_per_year / 365.0
    who, _ = draws.occurrences(cs, rate, PROMOTION)
    if who.size == 0:
        return
    ok = (state.tier[who] <= state.cp.promotion_min_tier) & ~state.blacklist.member[who]
    ok &= ~applies(state.cp.sanctions.get(KEY, ()), who, state.blacklist.member, state.tier)
    state.counters.add("promotions_granted", int(ok.sum()))
    state.counters.add("promotions_blocked", int((~ok).sum()))
    felt(state, KEY, BLOCKED, who[~ok])


def act(state: State, charges: Charges, draws: Draws, day: int) -> None:
    """The day's promotion chances."""
    promotions(state, draws, day)


EFFECT = Effect(
    key=KEY,
    role="sanction",
    description="Civil servants it reaches are not promoted (the blacklist and `promotion.min_tier` block too).",
    context="public employment",
    severity=severe("access to public employment"),
    metrics=(
        Metric(
            "promotions_granted",
            "flow",
            True,
            "Promotions granted",
            "Civil servants' promotions granted.",
            "promotions",
            counted=True,
        ),
        Metric(
            "promotions_blocked",
            "flow",
            True,
            "Promotions blocked",
            "Civil servants' promotion chances blocked by the blacklist, a low tier or this sanction.",
            "promotions",
            headline=9,
            counted=True,
        ),
    ),
    act=act,
    records=(BLOCKED,),
)
