"""The report's "Cases" section: a few people of each cause, wrongfully listed ones first, each with the
score plot and the sentences of their case file."""

from __future__ import annotations

from collections.abc import Sequence

from scslab.cases import CaseFile
from scslab.cases.story import profile, who
from scslab.report.html import Section, text

INTRO = (
    "A few people of each cause of listing, the wrongfully listed first, drawn from the run's seed. Each "
    "sentence is generated from the person's case file: the charges traced to them with their causes, their "
    "listing episodes and the sanctions they felt (scslab explain RUN_DIR --citizen ID gives the whole file)."
)
NONE = "Nobody was listed in this run, so there is no case to show."


def cases_sections(cases: Sequence[CaseFile]) -> list[Section]:
    """The section's heading, then one sub-section per case: who, the summary, the plot."""
    head = Section("Cases", INTRO if cases else NONE)
    return [head, *(_case(case) for case in cases)]


def _case(case: CaseFile) -> Section:
    causes = ", ".join(str(c) for c in case.listings["cause"]) if len(case.listings) else "never listed"
    detail = f'<p class="meta">{text(profile(case))}; listings: {text(causes)}</p>'
    return Section(who(case), case.summary(), case.plot(), detail, level=3, figure_id=f"case-{case.citizen}")
