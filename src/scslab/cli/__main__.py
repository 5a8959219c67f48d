"""`python -m scslab.cli`: the `scslab` command."""

from scslab.cli import main

main()
