"""The lab command: the interactive web app (src/scslab/lab, docs/lab.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.cli.common import app, fail, out
from scslab.errors import ScslabError


@app.command()
def lab(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8521,
    host: Annotated[
        str, typer.Option(help="Address to bind (another than 127.0.0.1 opens the lab to the network).")
    ] = "127.0.0.1",
    root: Annotated[Path, typer.Option("--root", help="Folder the lab writes its runs into.")] = Path("runs"),
    max_runs: Annotated[
        int | None, typer.Option("--max-runs", min=1, help="Runs at once over all sessions (default: the cores).")
    ] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
) -> None:
    """Start the lab, a local web app to design a scoring system, run it live, compare designs and open the cases."""
    try:
        from scslab.lab import serve
        from scslab.lab.server import check_port, url
    except ImportError as exc:
        fail(f"the lab needs its extra: pip install 'scslab[lab]' ({exc.name} is missing)")
        return
    try:
        check_port(host, port)
        out.print(f"scslab lab on [bold]{url(host, port)}[/] (runs under {root}; Ctrl-C stops it)", highlight=False)
        serve(host, port, root, max_runs, open_browser=not no_browser)
    except ScslabError as exc:
        fail(str(exc))
