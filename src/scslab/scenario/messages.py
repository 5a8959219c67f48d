"""pydantic's validation errors turned into `<key>: <what is wrong> (allowed: <what is allowed>)`.

What is allowed is read from the schema itself (the field's type and bounds), so that the
message and the rule cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from scslab.scenario.keys import KeyPath, parse_key, show
from scslab.scenario.schema import ScenarioParams

NAME_RULE = "a name of letters, digits, _ and -, not starting with a digit or -, at most 64 characters"
TRIGGER_RULE = '"blacklist", "tier <= NAME" or "tier >= NAME", NAME a tier of score.tiers'
TOP_LEVEL_EXTRA = ("extends",)

_BOUND_NAMES: dict[type, str] = {at.Ge: "ge", at.Gt: "gt", at.Le: "le", at.Lt: "lt"}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
_WHAT = {
    "int_type": "expected an integer, got {value}",
    "int_parsing": "expected an integer, got {value}",
    "int_from_float": "expected an integer, got {value}",
    "float_type": "expected a number, got {value}",
    "float_parsing": "expected a number, got {value}",
    "finite_number": "{value} is not a finite number",
    "bool_type": "expected true or false, got {value}",
    "bool_parsing": "expected true or false, got {value}",
    "string_type": "expected a string, got {value}",
    "string_pattern_mismatch": "{value} is not a valid name",
    "literal_error": "{value} is not allowed",
    "model_type": "expected a table, got {value}",
    "model_attributes_type": "expected a table, got {value}",
    "dict_type": "expected a table, got {value}",
    "list_type": "expected an array, got {value}",
    "date_type": "expected a date, got {value}",
    "date_parsing": "expected a date, got {value}",
    "date_from_datetime_parsing": "expected a date, got {value}",
    "date_from_datetime_inexact": "expected a date, got {value}",
    "missing": "required key missing",
}
# A validator's message may start with a key (absolute from the top level, or relative
# to the table it validates), as in "events.x.source: no source named 'radar' (...)".
_LEADING_KEY = re.compile(r"([A-Za-z0-9_\-]+(?:\[[0-9]+\])*(?:\.[A-Za-z0-9_\-]+(?:\[[0-9]+\])*)*): ")


def explain(error: ErrorDetails) -> tuple[KeyPath, str]:
    """The key an error is about, and what is wrong with it, on one line."""
    loc: KeyPath = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":  # a bad name for an entry of a table such as [sources]
        return loc[:-1], f"{show(loc[-2])} is not a valid name (allowed: {NAME_RULE})"
    if kind == "extra_forbidden":
        return loc, _unknown_key(loc)
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", error["msg"]))
        match = _LEADING_KEY.match(message)
        inner = parse_key(match.group(1)) if match else None
        if match and inner is not None:
            return loc + inner, message[match.end() :]
        return loc, message
    allowed = describe(loc) or _from_ctx(ctx)
    if kind in _RANGE_ERRORS or (kind == "float_type" and isinstance(value, int) and not isinstance(value, bool)):
        what = f"{show(value)} is out of range"  # an int too large for a float lands here too
    elif kind in ("too_short", "too_long"):
        what = f"{ctx.get('actual_length', 'the wrong number of')} items"
    elif kind == "string_too_long":
        what = f"a string of {len(value) if isinstance(value, str) else 'too many'} characters is too long"
    elif kind in _WHAT:
        what = _WHAT[kind].format(value=show(value))
    else:
        what = f"{show(value)}: {error['msg']}"
    return loc, f"{what} (allowed: {allowed or 'see the example: scslab scenarios --example'})"


def describe(loc: KeyPath) -> str | None:
    """What the schema allows at `loc`, in words; None when `loc` is not in the schema."""
    found = _field_at(loc)
    if found is None:
        return None
    tp, meta, name = found
    if name == "trigger":
        return TRIGGER_RULE
    return _describe_type(tp, meta)


@functools.cache  # (asked for every control on every render of the lab's Design page; the schema is fixed)
def is_flag(key: str) -> bool:
    """Whether `key` takes true or false and is never left out (`bool`, not `bool | None`)."""
    loc = parse_key(key)
    found = _field_at(loc[:-1]) if loc else None
    if loc is None or found is None or not (isinstance(found[0], type) and issubclass(found[0], BaseModel)):
        return False
    field = found[0].model_fields.get(str(loc[-1]))
    return field is not None and field.annotation is bool


def _unknown_key(loc: KeyPath) -> str:
    key = loc[-1] if loc else ""
    found = _field_at(loc[:-1])
    if found is None or not (isinstance(found[0], type) and issubclass(found[0], BaseModel)):
        return "unknown key"
    allowed = list(found[0].model_fields) + (list(TOP_LEVEL_EXTRA) if len(loc) == 1 else [])
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f", did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (allowed keys here: {', '.join(allowed)})"


def _field_at(loc: KeyPath) -> tuple[Any, list[Any], str | None] | None:
    """The bare type at `loc`, its constraints, and the name of the field it belongs to."""
    tp: Any = ScenarioParams
    name: str | None = None
    for segment in loc:
        tp, _ = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(segment, str) or segment not in tp.model_fields:
                return None
            field = tp.model_fields[segment]
            tp = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            name = segment
        elif get_origin(tp) is dict and isinstance(segment, str):
            tp = get_args(tp)[1]
        elif get_origin(tp) is list and isinstance(segment, int):
            tp = get_args(tp)[0]
        else:
            return None
    bare, meta = _unwrap(tp)
    return bare, meta, name


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """Strip `Annotated` and `| None`; collect the constraints met on the way."""
    meta: list[Any] = []
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *extra = get_args(tp)
            for item in extra:
                meta.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(options) != 1:
                return tp, meta
            tp = options[0]
        else:
            return tp, meta


def _describe_type(tp: Any, meta: list[Any]) -> str | None:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer" + _range(meta)
    if tp is float:
        bounds = _bounds(meta)
        if bounds.get("ge") == 0 and bounds.get("le") == 1:
            return "a probability in [0, 1]"
        return "a number" + _range(meta)
    if tp is str:
        if any(getattr(item, "pattern", None) for item in meta):
            return NAME_RULE
        longest = [item.max_length for item in meta if isinstance(item, at.MaxLen)]
        return "a string" + (f" of at most {longest[0]} characters" if longest else "")
    if tp is dt.date:
        return "a date such as 2020-01-01"
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(arg) for arg in get_args(tp))
    if get_origin(tp) is list:
        item, item_meta = _unwrap(get_args(tp)[0])
        fewest = next((m.min_length for m in meta if isinstance(m, at.MinLen)), None)
        most = next((m.max_length for m in meta if isinstance(m, at.MaxLen)), None)
        items = f"{fewest} items" if fewest is not None and fewest == most else "items"
        return f"an array of {items}, each {_describe_type(item, item_meta) or 'a value'}"
    if get_origin(tp) is dict:
        value, value_meta = _unwrap(get_args(tp)[1])
        if isinstance(value, type) and issubclass(value, BaseModel):
            return "a table of named tables"
        return f"a table of NAME = {_describe_type(value, value_meta) or 'value'}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a table with keys " + ", ".join(tp.model_fields)
    return None


def _bounds(meta: list[Any]) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in meta:
        attr = _BOUND_NAMES.get(type(item))
        if attr is not None:
            bounds[attr] = getattr(item, attr)
    return bounds


def _range(meta: list[Any]) -> str:
    return _range_text(_bounds(meta))


def _from_ctx(ctx: dict[str, Any]) -> str | None:
    if "expected" in ctx:
        return f"one of {ctx['expected']}"
    text = _range_text({k: v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt")})
    return f"a number{text}" if text else None


def _range_text(bounds: dict[str, Any]) -> str:
    low = ("[", bounds["ge"]) if "ge" in bounds else ("(", bounds["gt"]) if "gt" in bounds else None
    high = ("]", bounds["le"]) if "le" in bounds else (")", bounds["lt"]) if "lt" in bounds else None
    if low and high:
        return f" in {low[0]}{_number(low[1])}, {_number(high[1])}{high[0]}"
    if low:
        return f" {'>=' if low[0] == '[' else '>'} {_number(low[1])}"
    if high:
        return f" {'<=' if high[0] == ']' else '<'} {_number(high[1])}"
    return ""


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))
