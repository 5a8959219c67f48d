"""Case files: one citizen's story in a run, from the charges traced to them to the sanctions they felt.

A case file is built from tables a traced run (or a replay of one) wrote: the person, every
charge posted to them with its cause (trace.parquet), their listing episodes (listings.parquet)
and the sanctions they felt (sanctions.parquet). It formats: its summary sentences, its figures
and its timelines are drawn from those fields alone.
"""

from scslab.cases.casefile import CHARGE_COLUMNS, SANCTION_COLUMNS, CaseFile, Context, person_frame
from scslab.cases.pick import KINDS, candidates, pick, report_picks

__all__ = ["CHARGE_COLUMNS", "KINDS", "SANCTION_COLUMNS", "CaseFile", "Context", "candidates", "person_frame", "pick",
           "report_picks"]  # fmt: skip
