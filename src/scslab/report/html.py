"""One self-contained HTML page: plotly.js inlined once, the figures as inert JSON, text escaped.

Scenario text reaches the page only through `html.escape` (tables, headings) or inside the
figures' JSON, where `<`, `>` and `&` are written as `\\u003c`-style escapes, so that no
scenario string can close the script block or be read as markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import plotly.graph_objects as go

# Loads nothing from the network: scripts and styles are inline, images and fonts data URLs.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1.5rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.description { font-size: 1.1rem; color: #444; white-space: pre-wrap; overflow-wrap: anywhere; }
.meta { color: #555; font-size: 0.9rem; }
.intro { color: #444; max-width: 80ch; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 0.25rem 0.8rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f6f6f6; }
.params td { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem; overflow-wrap: anywhere; }
.scs-figure { width: 100%; min-height: 300px; }
footer { margin-top: 3rem; color: #777; font-size: 0.85rem; }
"""
RENDER = """
(function () {
  var specs = JSON.parse(document.getElementById("scs-figures").textContent);
  specs.forEach(function (spec) {
    Plotly.newPlot(spec.id, spec.figure.data, spec.figure.layout, {responsive: true, displaylogo: false});
  });
})();
"""


@dataclass(frozen=True)
class Section:
    """A heading, a sentence saying what it shows, and a figure and/or trusted HTML built by `table`."""

    heading: str
    intro: str = ""
    figure: go.Figure | None = None
    html: str = ""
    level: int = 2  # 2: a section of the page; 3: a part of the section before it
    figure_id: str = ""  # the figure's element id (default figure-N)


@cache
def plotly_js() -> str:
    """plotly.js, as shipped with the plotly package."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def inert_json(value: str) -> str:
    """JSON text that cannot close a script block or be read as markup."""
    return (
        value.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def text(value: object) -> str:
    return html.escape(str(value), quote=True)


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], numeric_from: int = 1, css: str = "") -> str:
    """An HTML table with every cell escaped; columns from `numeric_from` on are right-aligned."""
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{text(cell)}</td>' if i >= numeric_from else f"<td>{text(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table class="{text(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def meta_line(items: Sequence[tuple[str, object]]) -> str:
    return '<p class="meta">' + " · ".join(f"{text(k)}: <b>{text(v)}</b>" for k, v in items) + "</p>"


def page(
    title: str, description: str, meta: Sequence[tuple[str, object]], sections: list[Section], footer: str = ""
) -> str:
    """The whole page as one string."""
    specs: list[dict[str, object]] = []
    parts = [f"<h1>{text(title)}</h1>"]
    if description:
        parts.append(f'<p class="description">{text(description)}</p>')
    parts.append(meta_line(meta))
    for n, section in enumerate(sections):
        h = f"h{section.level}"
        parts.append(f"<section><{h}>{text(section.heading)}</{h}>")
        if section.intro:
            parts.append(f'<p class="intro">{text(section.intro)}</p>')
        if section.figure is not None:
            div_id = text(section.figure_id or f"figure-{n}")
            specs.append({"id": div_id, "figure": json.loads(section.figure.to_json())})
            parts.append(f'<div class="scs-figure" id="{div_id}"></div>')
        parts.append(section.html + "</section>")
    if footer:
        parts.append(f"<footer>{text(footer)}</footer>")
    figures = inert_json(json.dumps(specs, separators=(",", ":"), allow_nan=False))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{text(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{STYLE}</style>"
        f'<script type="text/javascript">{plotly_js()}</script></head>\n<body>\n'
        + "\n".join(parts)
        + f'\n<script type="application/json" id="scs-figures">{figures}</script>'
        + f"\n<script>{RENDER}</script>\n</body></html>\n"
    )
