"""The audit's contexts and severities: where each record comes from, where each sanction is applied.

These tables are the audit's reading of the v1 format, which has no context keys: a
source's context comes from a word in its name, an event's flags take precedence, and
each sanction has one context and a severity, declared by its effect (`model.effects`).
They are data, so that a reader can see and dispute them (docs/audit.md).
"""

from __future__ import annotations

from scslab.model.effects import by_key
from scslab.scenario.schema import Event

# A source's context from words in its name, first match wins; unmatched names are
# "unmapped", which counts as unrelated to every sanction (the report says so).
SOURCE_CONTEXTS: tuple[tuple[str, str], ...] = (
    ("camera", "public space"),
    ("traffic", "road traffic"),
    ("transit", "transport"),
    ("rail", "transport"),
    ("airline", "transport"),
    ("internet", "online activity"),
    ("online", "online activity"),
    ("social", "online activity"),
    ("payment", "consumption"),
    ("bank", "finance"),
    ("tax", "finance"),
    ("credit", "finance"),
    ("court", "judicial"),
    ("police", "public order"),
    ("regulator", "business"),
    ("market", "business"),
    ("workplace", "work"),
    ("employer", "work"),
    ("neighbour", "private and community life"),
    ("home", "private and community life"),
    ("hospital", "health"),
    ("medical", "health"),
    ("school", "education"),
    ("record", "government records"),
)

# The context in which each sanction is applied and its severity are declared by its effect
# (`model.effects`); the promotion rule built into the blacklist has these.
PROMOTION_CONTEXT = "public employment"
PROMOTION_SEVERITY = ("moderate", "delays a career step")


def sanction_context(effect: str) -> str:
    """The context in which a sanction (or the promotion rule, "promotion") is applied."""
    declared = by_key().get(effect)
    return PROMOTION_CONTEXT if declared is None else declared.context


# Different contexts that are still related: the data may fairly be used there.
RELATED: frozenset[tuple[str, str]] = frozenset(
    {
        ("consumption", "finance"),  # payment data in credit decisions: high-risk (Annex III), not prohibited
        ("political speech", "online speech"),
        ("online activity", "online speech"),
        ("work", "public employment"),
    }
)


def source_context(name: str) -> str:
    """The context of a data source, from its name."""
    lowered = name.lower()
    for word, context in SOURCE_CONTEXTS:
        if word in lowered:
            return context
    return f"unmapped source '{name}'"


def event_context(event: Event) -> str:
    """The context of an event's data: its flags first, then its source."""
    if event.political:
        return "political speech"
    if event.party_promotion:
        return "political activity"
    if event.financial:
        return "finance"
    return source_context(event.source)


def related(data_context: str, sanction_context: str) -> bool:
    return data_context == sanction_context or (data_context, sanction_context) in RELATED


def severity(effect: str, size: float) -> tuple[str, str]:
    """("severe" or "moderate", why) for a sanction of `size` (or the promotion rule)."""
    declared = by_key().get(effect)
    return PROMOTION_SEVERITY if declared is None else declared.severity(size)
