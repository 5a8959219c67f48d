"""`scslab explain`: the case files of chosen citizens of a finished run, by a replay checked against it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from scslab.cli.common import app, fail, out
from scslab.errors import ScslabError

if TYPE_CHECKING:
    from scslab.cases import CaseFile

KIND_STYLE = {"misattributed": "red", "association": "magenta", "own": "", "merit": "green", "recovery": "cyan",
              "listed": "bold red", "left the list": "bold green", "still listed": "bold red", "listing": "yellow",
              "sanction": "yellow"}  # fmt: skip


def case_panel(case: CaseFile) -> Panel:
    """One case: who, the summary, and the timeline with the score after each line against the threshold."""
    from scslab.cases.story import number, profile, who

    ctx = case.context
    table = Table(show_edge=False, expand=True)
    for col, justify in (("date", "left"), ("what", "left"), ("detail", "left"), ("score", "right")):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in case.timeline().itertuples(index=False):
        below = ctx.threshold is not None and r.score < ctx.threshold
        style = KIND_STYLE.get(r.kind, "")
        table.add_row(escape(r.date), f"[{style}]{escape(r.kind)}[/]" if style else escape(r.kind),
                      escape(r.text), f"[red]{number(r.score)}[/]" if below else number(r.score))  # fmt: skip
    bar = "no blacklist" if ctx.threshold is None else f"blacklist threshold {number(ctx.threshold)}"
    head = f"{escape(profile(case))}; {bar}\n\n{escape(case.summary())}\n"
    from rich.console import Group

    return Panel(Group(head, table), title=escape(who(case)), title_align="left")


@app.command("explain")
def explain_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `scslab run`.")],
    citizen: Annotated[
        list[int] | None, typer.Option("--citizen", min=0, metavar="ID", help="A citizen to explain (repeatable).")
    ] = None,
    pick: Annotated[
        str | None,
        typer.Option("--pick", metavar="KIND", help="Also K citizens of a kind: wrongful, misattribution, "
                     "association, listed_offence or joint_punishment (drawn from the run's seed)."),
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, metavar="K", help="How many to --pick.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the case files as JSON.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", metavar="DIR", help="Write the case files as Parquet into DIR (new).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Explain citizens of a finished run: replay it with them traced (checked byte for byte against the run),
    then show each one's charges and their causes, score, listings and sanctions."""
    from scslab import api
    from scslab.cases.casefile import write_cases

    try:
        if out_dir is not None and out_dir.exists():
            raise ScslabError(f"--out {out_dir}: already exists (allowed: a new directory)")
        explained = api.explain_run(run_dir, citizen or (), kind=pick, n=n,
                                    progress=not quiet and not as_json and sys.stderr.isatty())  # fmt: skip
        if out_dir is not None:
            write_cases(explained.cases, out_dir)
    except ScslabError as exc:
        fail(str(exc), exc.exit_code)
        return
    if as_json:
        doc = {"run": str(explained.run.path), "reproduced": list(explained.reproduced),
               "cases": [case.to_dict() for case in explained.cases]}  # fmt: skip
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    out.print(escape(explained.line()), highlight=False)
    for case in explained.cases:
        out.print(case_panel(case))
    if out_dir is not None:
        out.print(f"case files in [bold]{escape(str(out_dir))}[/]")
