"""Discount loan: a reward that adds a share of income to the citizens it reaches."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.effects.base import Effect, reached

if TYPE_CHECKING:
    from scslab.model.state import State


def discount(state: State, ids: np.ndarray, multiplier: np.ndarray) -> None:
    """`multiplier += x` for each discount of size x that reaches a citizen of `ids`."""
    for rule, r in state.cp.reward_entries.get("discount_loan", ()):
        multiplier += r.size * rule.hits(ids, state.blacklist.member, state.tier)


EFFECT = Effect(
    key="discount_loan",
    role="reward",
    description="The income multiplier of the citizens it reaches rises by the rule's `size`.",
    income=discount,
    holds=reached("discount_loan"),
    reaches=reached("discount_loan"),
    spans=("loan discounted", "loan discount ended"),
)
