"""`scslab` and `python -m scslab`: the command line, with SIGINT and SIGTERM one line from the first moment.

The command line's modules take a moment to import; a signal during that moment is a stop like
any other (one line, exit code 130 / 143), not a traceback.
"""

from __future__ import annotations

import sys

from scslab.signals import Stopped, raising_on_signals


def main() -> None:
    """Import the command line and run it, a stop during the import included."""
    try:
        with raising_on_signals():
            from scslab.cli import main as cli_main

            cli_main()
    except Stopped as stop:
        sys.stderr.write(f"error: {stop.line}\n")
        sys.exit(stop.exit_code)


if __name__ == "__main__":
    main()
