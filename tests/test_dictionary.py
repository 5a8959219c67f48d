"""The data dictionary: docs/outputs.md is generated from the catalogue and the declarations, and is fresh."""

from __future__ import annotations

from pathlib import Path

from scslab.dictionary import EXPERIMENTS, SUMMARY, render, table
from scslab.model.metrics import catalogue, describe
from scslab.outputs import run_outputs

DOC = Path(__file__).parent.parent / "docs" / "outputs.md"


def test_outputs_md_is_the_generated_text() -> None:
    assert DOC.read_text("utf-8") == render(), "docs/outputs.md is stale: run `python -m scslab.dictionary`"


def test_every_file_and_every_metric_has_its_rows() -> None:
    text = render()
    for output in (*run_outputs(), SUMMARY, *EXPERIMENTS):
        assert f"## {output.file}\n" in text
        for c in output.columns:
            assert f"| `{c.name}` |" in table(output), (output.file, c.name)
    for m in catalogue():
        assert f"| `{m.name}` | {m.kind} | {m.unit} |" in text, m.name
        assert m.description in text


def test_describe_fills_a_pattern_row_with_the_column() -> None:
    tier = describe("tier_A")
    assert tier["kind"] == "stock" and tier["scales"] and tier["unit"] == "citizens"
    assert tier["label"] == "Citizens in tier A"
    cause = describe("blacklisted_association")
    assert cause["label"] == "Blacklisted for association" and cause["description"] == catalogue()[
        "blacklisted_association"].description  # fmt: skip
    share = describe("wrongful_share")
    assert share == {**share, "kind": "stock", "scales": False, "unit": "share", "daily": False}
