"""The version of scslab: its one source (pyproject.toml reads it, through hatch's version source)."""

__version__ = "0.1.0"
