"""Loan penalty: the citizens it reaches lose a share of income (raising financial stress)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from scslab.model.effects.base import Effect
from scslab.model.params import applies

if TYPE_CHECKING:
    from scslab.model.params import Compiled
    from scslab.model.state import State

SEVERE_INCOME_LOSS = 0.20  # a loan penalty above this share of income is severe


def penalty(state: State, ids: np.ndarray, multiplier: np.ndarray) -> None:
    """`multiplier -= x` for each penalty of size x that reaches a citizen of `ids`."""
    for rule, s in state.cp.sanction_entries.get("loan_penalty", ()):
        multiplier -= s.size * rule.hits(ids, state.blacklist.member, state.tier)


def penalised(state: State, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` a loan penalty reaches now."""
    return applies(state.cp.sanctions.get("loan_penalty", ()), ids, state.blacklist.member, state.tier)


def largest_loss(cp: Compiled) -> float:
    """The largest share of income the penalties can take together."""
    return sum(s.size for _, s in cp.sanction_entries.get("loan_penalty", ()))


def severity(size: float) -> tuple[str, str]:
    """Severe above SEVERE_INCOME_LOSS of income."""
    return ("severe" if size > SEVERE_INCOME_LOSS else "moderate"), f"takes {size:.0%} of income"


EFFECT = Effect(
    key="loan_penalty",
    role="sanction",
    description="The income multiplier of the citizens it reaches falls by the rule's `size`.",
    context="finance",
    severity=severity,
    income=penalty,
    income_loss=largest_loss,
    reaches=penalised,
    spans=("loan penalised", "loan penalty lifted"),
)
