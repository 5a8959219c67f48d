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
LEFT_OUT = (
    " Some people picked for this section were left out: the run did not trace them (a run traces the listed "
    "for its report only while that takes a tenth of its memory or less). scslab explain RUN_DIR --pick wrongful "
    "replays the run with anyone traced."
)


def cases_sections(cases: Sequence[CaseFile], left_out: bool = False) -> list[Section]:
    """The section's heading, then one sub-section per case: who, the summary, the plot."""
    intro = (INTRO if cases else NONE if not left_out else "No case is shown.") + (LEFT_OUT if left_out else "")
    head = Section("Cases", intro)
    return [head, *(_case(case) for case in cases)]


def _case(case: CaseFile) -> Section:
    causes = ", ".join(str(c) for c in case.listings["cause"]) if len(case.listings) else "never listed"
    detail = f'<p class="meta">{text(profile(case))}; listings: {text(causes)}</p>'
    return Section(who(case), case.summary(), case.plot(), detail, level=3, figure_id=f"case-{case.citizen}")
