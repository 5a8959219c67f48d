"""What the commands print: each table is a `Sheet` (raw values and their text), shown in the terminal fitted
to its width, or as JSON or CSV for scripts (`emit`).

In the terminal a table wraps its cells at word boundaries and never cuts one; when its narrowest layout
is still wider than the terminal, each row is printed as a block of `column: value` lines instead.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text


class Format(StrEnum):
    """How a command prints its tables."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


@dataclass
class Sheet:
    """A table: `records` (raw values, for JSON and CSV) and how the terminal shows them.

    `name` is its key in the JSON object. The terminal shows `view` (column titles, and whether each is
    right-aligned) with `text` (one row of cells per shown row); by default the record keys with `cell` of
    each value."""

    name: str
    title: str
    records: list[dict[str, Any]]
    columns: list[str] | None = None  # the record keys in order (default: those of the first record)
    view: list[tuple[str, bool]] | None = None
    text: list[list[str | Text]] | None = None
    caption: str = ""

    def keys(self) -> list[str]:
        if self.columns is not None:
            return self.columns
        return list(self.records[0]) if self.records else []

    def terminal(self) -> tuple[list[tuple[str, bool]], list[list[str | Text]]]:
        """The terminal's columns and rows of cells."""
        keys = self.keys()
        view = self.view if self.view is not None else [(k, self._numeric(k)) for k in keys]
        if self.text is not None:
            return view, self.text
        return view, [[cell(r.get(k)) for k in keys] for r in self.records]

    def _numeric(self, key: str) -> bool:
        values = [r.get(key) for r in self.records if r.get(key) is not None]
        return bool(values) and all(isinstance(plain(v), int | float) and not isinstance(v, bool) for v in values)


def cell(value: Any) -> str:
    """A table cell: integers with separators, other numbers to 4 significant digits and never in scientific
    notation, a missing value as a dash."""
    import datetime as dt

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # a numpy scalar
        return cell(value.item())
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items())
    if type(value).__name__ == "NaTType":
        return "—"
    return str(value)


def number(value: float, digits: int = 4) -> str:
    """`value` to `digits` significant digits, in positional notation with thousands separators."""
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(value)))
    if decimals <= 0:
        return f"{round(value, decimals):,.0f}"
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


FOLD_AT = 16  # a text cell's word longer than this may wrap inside the word (an id, a path); numbers never do


def fitted(sheet: Sheet, console: Console) -> Table | Group:
    """`sheet` as a rich table that fits `console`'s width, or as one block per row when it cannot."""
    view, rows = sheet.terminal()
    cells = [[_text(c) for c in row] for row in rows]
    widths = column_widths(view, rows, console)
    if widths is None:
        return vertical(sheet.title, [title for title, _ in view], rows, sheet.caption, console.width)
    table = Table(title=sheet.title, caption=sheet.caption or None)
    for (title, right), width in zip(view, widths, strict=True):
        table.add_column(title, justify="right" if right else "left", overflow="fold", width=width)
    for row in cells:
        table.add_row(*row)
    return table


def column_widths(view: Sequence[tuple[str, bool]], rows: Sequence[Sequence[str | Text]],
                  console: Console) -> list[int] | None:  # fmt: skip
    """Each column's width so that the table fits the console and no word is cut (None: it cannot fit).

    A column starts at its longest word (if that cannot fit, a text column's at most FOLD_AT), and the room
    left goes to the columns in proportion to what their longest line still lacks."""
    cells = [[_text(c) for c in row] for row in rows]
    measures = [[Text(title).__rich_measure__(console, console.options),
                 *(row[i].__rich_measure__(console, console.options) for row in cells)]
                for i, (title, _) in enumerate(view)]  # fmt: skip
    words = [max(1, *(m.minimum for m in column)) for column in measures]
    lines = [max(1, *(m.maximum for m in column)) for column in measures]
    space = console.width - (3 * len(view) + 1)  # borders and one space either side of each cell
    lows = words
    if sum(lows) > space:
        lows = [w if right else min(w, FOLD_AT) for w, (_, right) in zip(words, view, strict=True)]
    room = space - sum(lows)
    if room < 0:
        return None
    lack = [max(0, h - lo) for lo, h in zip(lows, lines, strict=True)]
    if sum(lack) <= room:
        return [lo + la for lo, la in zip(lows, lack, strict=True)]
    return [lo + room * la // sum(lack) for lo, la in zip(lows, lack, strict=True)]


def vertical(title: str, labels: Sequence[str], rows: Sequence[Sequence[str | Text]], caption: str,
             width: int) -> Group:  # fmt: skip
    """One block per row: each column's title and value on a line of its own."""
    parts: list[Any] = [Text(title, style="italic")]
    for row in rows:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", overflow="fold", max_width=max(10, width // 3))
        grid.add_column(overflow="fold")
        for label, value in zip(labels, row, strict=True):
            grid.add_row(Text(label), _text(value))
        parts += [Text(""), grid]
    if caption:
        parts += [Text(""), Text(caption, style="italic")]
    return Group(*parts)


def _text(value: str | Text) -> Text:
    """A cell as rich text: a string is shown as it is (brackets are not markup)."""
    return value if isinstance(value, Text) else Text(value)


def plain(value: Any) -> Any:
    """A raw value as JSON holds it: numpy scalars as Python numbers, NaN as null, paths and times as text."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if type(value).__name__ == "NaTType":
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def as_json(sheets: Sequence[Sheet], path: Path | str | None = None, extra: Mapping[str, Any] | None = None) -> str:
    """One JSON object: the results path (if any), then each sheet's title and rows under its name."""
    obj: dict[str, Any] = {} if path is None else {"path": str(path)}
    obj.update({k: plain(v) for k, v in (extra or {}).items()})
    for sheet in sheets:
        obj[sheet.name] = {"title": sheet.title, "rows": [{k: plain(r.get(k)) for k in sheet.keys()}
                                                         for r in sheet.records]}  # fmt: skip
    return json.dumps(obj, ensure_ascii=False)


def as_csv(sheet: Sheet) -> str:
    """The sheet's records as CSV (a header line, then one line per row; a missing value is empty)."""
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = sheet.keys()
    writer.writerow(keys)
    for record in sheet.records:
        values = [plain(record.get(k)) for k in keys]
        writer.writerow(["" if v is None else json.dumps(v) if isinstance(v, dict | list) else v for v in values])
    return buffer.getvalue()


def emit(
    sheets: Sequence[Sheet],
    how: Format,
    out: Console,
    path: Path | str | None = None,
    path_line: str = "results in",
    extra: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    show_tables: bool = True,
) -> None:
    """Print `sheets` as `how` says, then where the results are.

    As a table: each sheet fitted to the terminal, the `notes`, then "`path_line` PATH". As JSON: one object on
    stdout. As CSV: the first sheet on stdout, and the path line on stderr (stdout stays one CSV table)."""
    if how is Format.JSON:
        sys.stdout.write(as_json(sheets, path, {**(extra or {}), **({"notes": list(notes)} if notes else {})}) + "\n")
        return
    if how is Format.CSV:
        sys.stdout.write(as_csv(sheets[0]))
        if path is not None:
            Console(stderr=True).print(f"{path_line} {path}", highlight=False, soft_wrap=True)
        return
    if show_tables:
        for sheet in sheets:
            out.print(fitted(sheet, out))
    for note in notes:
        out.print(note, highlight=False)
    if path is not None:
        out.print(f"{path_line} [bold]{path}[/]", highlight=False, soft_wrap=True)


def frame_sheet(frame: Any, name: str, title: str, max_rows: int | None = None, caption: str = "") -> Sheet:
    """A pandas DataFrame as a sheet; the terminal shows its first `max_rows` rows (JSON and CSV all of them)."""
    keys = [str(c) for c in frame.columns]
    records = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    view = [(str(c).replace("_", " "), _numeric_dtype(frame[c])) for c in frame.columns]  # titles wrap at words
    shown = records if max_rows is None else records[:max_rows]
    if len(shown) < len(records):
        caption = f"first {len(shown):,} of {len(records):,} rows (all of them with --json or --csv)"
    text: list[list[str | Text]] = [[cell(r.get(k)) for k in keys] for r in shown]
    return Sheet(name, title, records, keys, view, text, caption)


def _numeric_dtype(series: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


def headline_table(result: object) -> Sheet:
    """The headline figures: simulated, and scaled to the real population with its 95% interval; a note for small
    counts."""
    from scslab.results import Result
    from scslab.uncertainty import headline_rows

    assert isinstance(result, Result)
    s = result.summary

    title = (
        f"{s['scenario']} · seed {s['seed']} · {s['days']} days · "
        f"{s['population_size']:,} citizens (1:{s['scale']:,.0f} of {s['real_size']:,})"
    )
    figures = s["figures"]
    records: list[dict[str, Any]] = []
    text: list[list[str | Text]] = []
    for row in headline_rows(s):
        entry = figures[row.metric]
        interval = entry.get("interval")
        factor = float(s["scale"]) if entry.get("scales") else 1.0
        records.append({"metric": row.metric, "figure": row.figure.strip(), "simulated": entry["value"],
                        "real": entry["value"] * factor if entry.get("scales") else None,
                        "low": interval[0] * factor if interval else None,
                        "high": interval[1] * factor if interval else None,
                        "small": bool(entry.get("small"))})  # fmt: skip
        span = f"{row.low} to {row.high}" if row.low else ""  # wraps at its spaces, never cut
        text.append([row.figure, f"{row.simulated} {row.note}".strip(), row.estimate, span])
    view = [("figure", False), ("simulated", True), ("real pop.", True), ("95% interval", True)]
    caption = "95% intervals (docs/uncertainty.md); few: from fewer than 30 simulated people or events"
    return Sheet("figures", title, records, ["metric", "figure", "simulated", "real", "low", "high", "small"], view,
                 text, caption)


def profile_table(profile: dict[str, float], days: int) -> Sheet:
    """Time per phase, in total and per simulated day."""
    total = sum(profile.values())
    records: list[dict[str, Any]] = [
        {"phase": phase, "seconds": seconds, "ms_per_day": None if phase == "population" else 1000 * seconds / days,
         "share": seconds / total if total else None}
        for phase, seconds in profile.items()
    ]  # fmt: skip
    records.append({"phase": "total", "seconds": total, "ms_per_day": None, "share": None})
    text: list[list[str | Text]] = [
        [r["phase"], f"{r['seconds']:.3f}", "" if r["ms_per_day"] is None else f"{r['ms_per_day']:.2f}",
         "" if r["share"] is None else f"{r['share']:.0%}"]
        for r in records
    ]  # fmt: skip
    view = [("phase", False), ("seconds", True), ("ms per day", True), ("share", True)]
    return Sheet("profile", "Time per phase", records, None, view, text)


def audit_table(report: object) -> Sheet:
    """One row per rule: (a) a score over time, (i) unrelated data, (ii) disproportion, and the verdict."""
    from scslab.audit import AuditReport

    assert isinstance(report, AuditReport)
    records: list[dict[str, Any]] = []
    text: list[list[str | Text]] = []
    for f in report.findings:
        records.append({"rule": f.rule, "sanction": f.effect, "trigger": f.trigger,
                        "scores_over_time": f.scores_over_time, "records": len(f.data),
                        "unrelated_records": len(f.unrelated), "disproportionate_reasons": len(f.disproportionate),
                        "prohibited": f.prohibited})  # fmt: skip
        text.append([
            f.rule,
            f"{f.effect} ({f.trigger})",
            "yes" if f.scores_over_time else "no",
            f"{len(f.unrelated)} of {len(f.data)}" if f.unrelated else "no",
            f"{len(f.disproportionate)}" if f.disproportionate else "no",
            Text("yes", style="bold red") if f.prohibited else Text("no", style="green"),
        ])  # fmt: skip
    view = [("rule", False), ("sanction", False), ("(a) score", False), ("(i) unrelated", False),
            ("(ii) reasons", False), ("meets it", False)]  # fmt: skip
    return Sheet("rules", f"{report.scenario} · {report.article}", records, None, view, text)
