"""Green channel: a reward of faster public services for the citizens it reaches (counted only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scslab.model.catalogue import Metric
from scslab.model.effects.base import Effect, reached

if TYPE_CHECKING:
    from scslab.model.state import State


def holders(state: State) -> float:
    """How many citizens a green channel currently reaches (tier rules read from the tier counts)."""
    total = 0
    tiers = state.index.tier_counts
    for rule in state.cp.rewards.get("green_channel", ()):
        if rule.kind == "tier_at_least":
            total += int(tiers[: rule.tier + 1].sum())
        elif rule.kind == "tier_at_most":
            total += int(tiers[rule.tier :].sum())
        elif rule.kind == "blacklist":
            total += state.blacklist.size
    return min(total, state.n)


EFFECT = Effect(
    key="green_channel",
    role="reward",
    description="Citizens it reaches get faster public services; it changes no behaviour.",
    metrics=(
        Metric(
            "green_channel_benefits",
            "stock",
            True,
            "Green channel holders at the end",
            "Citizens a green channel reaches (the sum over rules, at most everyone).",
            "citizens",
            headline=11,
        ),
    ),
    read={"green_channel_benefits": holders},
    holds=reached("green_channel"),
    reaches=reached("green_channel"),
    spans=("green channel granted", "green channel withdrawn"),
)
