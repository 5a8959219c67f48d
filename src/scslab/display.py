"""How scslab's objects show in a notebook: a one-line repr and a small HTML table (never a dump of the state)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

ROWS = 12  # at most this many rows of a table in a notebook cell; the rest is counted


def cell(value: Any) -> str:
    """A value as a table cell: whole numbers and numbers from 1,000 up with separators, others to 4 significant
    figures (never in scientific notation above 1,000)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:,.0f}" if value.is_integer() or abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def html_table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    note: str = "",
    total: int | None = None,
    limit: int = ROWS,
) -> str:
    """An HTML table (every cell escaped) under a bold title, at most `limit` of `total` rows, and a note under it."""
    shown = list(rows)[:limit]
    more = (len(rows) if total is None else total) - len(shown)
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell(v))}</td>" for v in row) + "</tr>" for row in shown
    )
    foot = [f"{more:,} more rows" if more > 0 else "", note]
    tail = " · ".join(html.escape(t) for t in foot if t)
    return (
        f"<div><b>{html.escape(title)}</b><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        + (f"<small>{tail}</small>" if tail else "")
        + "</div>"
    )


def frame_table(title: str, frame: Any, note: str = "") -> str:
    """A pandas frame's first rows as `html_table`."""
    rows = list(frame.head(ROWS).itertuples(index=False, name=None))
    return html_table(title, [str(c) for c in frame.columns], rows, note, total=len(frame))
