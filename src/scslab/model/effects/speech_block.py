"""Speech block: political events of the citizens it reaches are suppressed (counted, not kept)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.catalogue import Metric
from scslab.model.effects.base import Effect, severe
from scslab.model.params import applies
from scslab.model.trace import felt

if TYPE_CHECKING:
    from scslab.model.state import State

KEY = "speech_block"
SUPPRESSED = "speech suppressed"  # its trace rows (detail: the event type)


def suppress(state: State, e: int, ids: np.ndarray) -> np.ndarray:
    """The actors of event type `e` whose speech is not blocked; the blocked ones are counted."""
    cp = state.cp
    speech_rules = cp.sanctions.get(KEY, ())
    if cp.events.political[e] and speech_rules and ids.size:
        blocked = applies(speech_rules, ids, state.blacklist.member, state.tier)
        state.counters.add("speech_suppressed", int(blocked.sum()))
        felt(state, KEY, SUPPRESSED, ids[blocked], cp.events.names[e])
        ids = ids[~blocked]
    return ids


EFFECT = Effect(
    key=KEY,
    role="sanction",
    description="Political events of the citizens it reaches do not happen.",
    context="online speech",
    severity=severe("freedom of expression"),
    metrics=(
        Metric(
            "speech_suppressed",
            "flow",
            True,
            "Speech suppressed (events)",
            "Political events that a speech block prevented.",
            "events",
            headline=7,
            experiment=8,
            counted=True,
        ),
    ),
    events=suppress,
    records=(SUPPRESSED,),
)
