"""Dotted keys (`events.criticism.rate`, `sanctions[2].trigger`) and values shown on one line.

Error messages name a key and show the offending value; both may come from any input
(a quoted TOML key may hold a newline), so everything shown here is kept to one line.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_\-]+")
_SEGMENT = re.compile(r"([A-Za-z0-9_\-]+)((?:\[[0-9]+\])*)")
_INDEX = re.compile(r"\[([0-9]+)\]")
# Characters that str.splitlines() breaks on, beyond those json.dumps and repr escape.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_MAX_SHOWN = 60


def parse_key(text: str) -> KeyPath | None:
    """`"sanctions[2].trigger"` -> `("sanctions", 2, "trigger")`; None if it is not a key."""
    path: list[str | int] = []
    for part in text.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            return None
        path.append(match.group(1))
        path.extend(int(index) for index in _INDEX.findall(match.group(2)))
    return tuple(path)


def format_key(path: KeyPath) -> str:
    """`("sanctions", 2, "trigger")` -> `"sanctions[2].trigger"`; odd names are quoted as in TOML."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
            continue
        if not _BARE.fullmatch(segment):
            segment = json.dumps(_shorten(segment), ensure_ascii=False)
        text = f"{text}.{segment}" if text else segment
    return text


def show(value: Any) -> str:
    """A value as a message shows it: short, on one line, TOML words for TOML types."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value.bit_length() > 128:  # str() of a huge int is slow, and refused past 4300 digits
            return f"an integer of about {int(value.bit_length() * 0.30103)} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(_shorten(value))
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, (dt.date, dt.time)):  # dt.datetime is a dt.date
        return value.isoformat()
    if value is None:
        return "nothing"
    return f"a value of type {type(value).__name__}"


def one_line(text: str) -> str:
    """Escape every line break, so that a message is exactly one line."""
    return _LINE_BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
