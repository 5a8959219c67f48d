"""Errors that the CLI turns into one clear line and exit code 2."""

from __future__ import annotations


class ScslabError(Exception):
    """A bad input: the message is one line naming the file, the key and what is allowed."""

    exit_code = 2


class ScenarioError(ScslabError):
    """A scenario that cannot be loaded or does not validate."""


class ResourceError(ScslabError):
    """A run that would not fit this machine (memory, disk)."""


class WriteError(ScslabError):
    """A file or folder that could not be written (disk full, read-only, permissions, I/O error)."""
