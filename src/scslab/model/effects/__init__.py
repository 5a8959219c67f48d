"""Sanction and reward effects: one file each, one line each in the registry (docs/model.md section 6).

REGISTRY is in a fixed order: the daily hooks run in it (so random draws keep their order),
the effects' flows and stocks take their columns in it, and the audit lists them in it.
Adding an effect is one new file with an `EFFECT` and one line here (and its name in the
scenario vocabulary, `scenario.schema.SANCTION_EFFECTS` or `REWARD_EFFECTS`).
"""

from __future__ import annotations

from scslab.model.effects import (
    discount_loan,
    education_restriction,
    green_channel,
    loan_penalty,
    public_job_exclusion,
    red_loan,
    speech_block,
    travel_ban,
)
from scslab.model.effects.base import Effect

REGISTRY: tuple[Effect, ...] = (
    travel_ban.EFFECT,
    speech_block.EFFECT,
    public_job_exclusion.EFFECT,
    loan_penalty.EFFECT,
    green_channel.EFFECT,
    discount_loan.EFFECT,
    red_loan.EFFECT,
    education_restriction.EFFECT,
)


def by_key() -> dict[str, Effect]:
    """The registered effects by their scenario key."""
    return {e.key: e for e in REGISTRY}


__all__ = ["REGISTRY", "Effect", "by_key"]
