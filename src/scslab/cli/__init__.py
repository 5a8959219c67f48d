"""The command line: a thin layer over the Python API, one module per concern.

Each command imports what it runs when it runs (start-up speed: `scslab --help` and the usage errors do
not load numba, pandas and plotly); none of these imports avoids a cycle (pyproject.toml's layers).
Commands over single runs are in `run`, the experiments and the run catalogue in `experiments`,
the audit in `audit`; `common` holds the app and the shared options, `tables` what they print.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

# The commands register on import, in the order `--help` lists them (hence the splits).
from scslab.cli import run
from scslab.cli.common import app, err, out
from scslab.signals import Stopped, raising_on_signals

# isort: split
from scslab.cli import experiments

# isort: split
from scslab.cli import explain

# isort: split
from scslab.cli import audit

# isort: split
from scslab.cli import lab

__all__ = ["app", "audit", "experiments", "explain", "lab", "main", "run"]


def main() -> None:
    """Entry point of the `scslab` command: usage errors too are one line and exit code 2."""
    try:
        with raising_on_signals():
            code = app(standalone_mode=False)
    except Stopped as stop:  # outside a run's own handling: start-up, experiments, reports
        err.print(f"[bold red]error:[/] {escape(stop.line)}", highlight=False, soft_wrap=True)
        sys.exit(stop.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # the usage errors of typer's bundled click
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            out.print(message, highlight=False)
            sys.exit(2)
        ctx = getattr(exc, "ctx", None)
        where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        line = " ".join(f"{message}{where}".split())
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        sys.exit(int(getattr(exc, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)
