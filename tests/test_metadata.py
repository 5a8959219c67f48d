"""The project's metadata agree with each other: LICENSE with pyproject.toml, CITATION.cff (valid
Citation File Format 1.2.0) and CHANGELOG.md with the version's one source."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import yaml  # PyYAML, installed with distributed (a dependency of scslab)

from scslab.version import __version__

ROOT = Path(__file__).resolve().parents[1]
# The keys that Citation File Format 1.2.0 requires, and those it allows at the top level.
CFF_REQUIRED = {"cff-version", "message", "title", "authors"}
CFF_KEYS = CFF_REQUIRED | {
    "abstract", "commit", "contact", "date-released", "doi", "identifiers", "keywords", "license",
    "license-url", "preferred-citation", "references", "repository", "repository-artifact",
    "repository-code", "type", "url", "version",
}  # fmt: skip


def test_license_is_the_one_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]["text"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == "MIT" and text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text and "WITHOUT WARRANTY OF ANY KIND" in text


def test_citation_cff_is_valid_cff_1_2_0() -> None:
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert isinstance(cff, dict)
    assert CFF_REQUIRED <= set(cff) <= CFF_KEYS, set(cff) ^ CFF_KEYS
    assert cff["cff-version"] == "1.2.0"
    assert isinstance(cff["message"], str) and cff["message"].strip()
    assert isinstance(cff["title"], str) and cff["title"].strip()
    authors = cff["authors"]
    assert isinstance(authors, list) and authors
    assert all(isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in authors)
    assert cff["type"] in {"software", "dataset"}
    assert cff["version"] == __version__  # a string: YAML would read 0.1 as a number
    assert cff["license"] == "MIT"
    dt.date.fromisoformat(cff["date-released"])  # a quoted YYYY-MM-DD, as the format wants


def test_changelog_has_the_current_version_in_keep_a_changelog_form() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, flags=re.M)
    assert versions and versions[0][0] == "Unreleased"
    released = [(name, date) for name, date in versions[1:]]
    assert released and released[0][0] == __version__, "the newest released section is the version of version.py"
    assert all(date for _, date in released), "each released version has its date"
    dates = [dt.date.fromisoformat(date) for _, date in released]
    assert dates == sorted(dates, reverse=True)
    kinds = set(re.findall(r"^### (\w+)$", text, flags=re.M))
    assert kinds and kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
