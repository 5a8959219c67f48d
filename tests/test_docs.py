"""The documentation stands on its own: it names no file outside the repository, every page that
cites a source cites docs/sources.md, and every source that page lists is referenced in full."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "docs" / "sources.md"
# Files outside the repository that earlier pages sent readers to.
OUTSIDE = re.compile(r"MODEL\.md|DOMAIN\.md|STYLE\.md|shared/|\.\./shared")
# This test names them on purpose.
SELF = Path(__file__).relative_to(ROOT).as_posix()


def tracked() -> list[Path]:
    """The repository's files (git's index: what a clone has)."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / name for name in listing.stdout.split("\0") if name and (ROOT / name).is_file()]


def text_files() -> list[Path]:
    """The tracked files that hold text for readers: pages, code, scenarios, metadata."""
    kinds = {".md", ".py", ".toml", ".cff", ".txt", ".ipynb", ""}
    return [path for path in tracked() if path.suffix in kinds and path.stat().st_size < 2_000_000]


def flowing(text: str) -> str:
    """Text with its line breaks (and a comment's leading #) turned into spaces."""
    return re.sub(r"\s*\n\s*(#\s*)?", " ", text)


def table_rows(section: str) -> list[list[str]]:
    """The rows of the table under the heading `## section` of docs/sources.md, as cells."""
    text = SOURCES.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in body.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row] for row in rows[1:] if not set(row[0]) <= {"-", "|"}]


def reference_names() -> list[str]:
    """The short names of the references, aliases split out ("A; B")."""
    return [name for row in table_rows("References") for name in row[0].split("; ")]


def test_no_file_names_a_file_outside_the_repository() -> None:
    offending = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in text_files()
        if path.relative_to(ROOT).as_posix() != SELF
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offending == []


def test_every_section_that_a_page_cites_exists() -> None:
    headings = [line[3:] for line in SOURCES.read_text(encoding="utf-8").splitlines() if line.startswith("## ")]
    texts = [flowing(path.read_text(encoding="utf-8", errors="replace")) for path in text_files()]
    cited = {match for text in texts for match in re.findall(r'docs/sources\.md,? "([^"]+)"', text)}
    assert cited, "no page cites a section of docs/sources.md"
    assert {name for name in cited if not any(name.lower() in heading.lower() for heading in headings)} == set()


def test_every_fact_has_a_listed_source_and_every_reference_is_used() -> None:
    names = reference_names()
    assert len(names) == len(set(names))
    facts = ("The system as the press described it", "The system as documented", "Population")
    cells = [row[-1] for section in facts for row in table_rows(section)]
    cells += [row[0] for row in table_rows("Measured effects")]
    assert [cell for cell in cells if not any(name in cell for name in names)] == []
    text = SOURCES.read_text(encoding="utf-8").split("\n## References\n")[0]
    assert [name for name in names if name not in text] == []


def test_each_reference_gives_its_publisher_title_and_year() -> None:
    for row in table_rows("References"):
        assert len(row) == 5, row
        name, publisher, title, year, address = row
        assert publisher and title, name
        assert re.fullmatch(r"n\.d\.|\d{4}.*", year), name
        assert not address or address.startswith("https://"), name


PAGES = {ROOT / "README.md", ROOT / "src/scslab/audit/__init__.py", *ROOT.glob("docs/*.md"),
         *ROOT.glob("docs/scenarios/*.md"), *ROOT.glob("src/scslab/scenario/presets/*.toml")}  # fmt: skip


@pytest.mark.parametrize("page", sorted(PAGES - {SOURCES}), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_a_page_that_cites_a_source_cites_docs_sources(page: Path) -> None:
    text = flowing(page.read_text(encoding="utf-8"))
    distinctive = [name for name in reference_names() if re.search(r"\d{4}|NIST", name)]  # not "press, 2019"
    cited = [name for name in distinctive if name in text]
    if cited:
        assert "docs/sources.md" in text or "sources.md" in text, cited
