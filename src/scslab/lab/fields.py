"""Text fields that apply what was typed on Enter or on leaving the field.

Solara's InputText keeps the typed text in the widget's value until Enter or blur, and any render
in between sets that value back to the one it was drawn with: an edit made while another thread
renders (a run's progress, a download) was lost without a sign, and the run used the old value.
These fields carry the text in the event that applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import solara


@solara.component_vue(str(Path(__file__).with_name("field.vue")))
def TextField(
    label: str,
    value: str,
    error: str = "",
    message: str = "",
    classes: list[str] = [],  # noqa: B006 (a trait's default, never mutated)
    event_commit: Callable[[str], None] | None = None,
) -> None:
    """A text field; `event_commit` is given the text on Enter, and on leaving the field when it changed."""


@solara.component
def IntField(label: str, value: int, on_value: Callable[[int], None], classes: list[str] = []) -> None:  # noqa: B006
    """A field for a whole number; other text is refused with a message and leaves `value` as it is."""
    refused, set_refused = solara.use_state("")

    def commit(text: str) -> None:
        try:
            number = int(text.strip().replace(",", "").replace("_", ""))
        except ValueError:
            set_refused(text)
            return
        set_refused("")
        on_value(number)

    TextField(label=label, value=refused or str(value), error="a whole number, e.g. 5" if refused else "",
              classes=classes, event_commit=commit)  # fmt: skip
