"""Reports: report.html for a run, its figures for notebooks, and compare.html for two scenarios.

Only formatting: what they show was run elsewhere (scslab.api, scslab.experiments).
"""

from scslab.report.compare import COMPARE_FILE, Comparison, compare_html, write_compare
from scslab.report.data import BASELINE_FILE, RunData
from scslab.report.figures import CHARTS, build_figures
from scslab.report.writer import REPORT_FILE, report_html, save_run, write_report

__all__ = [
    "BASELINE_FILE",
    "CHARTS",
    "COMPARE_FILE",
    "REPORT_FILE",
    "Comparison",
    "RunData",
    "build_figures",
    "compare_html",
    "report_html",
    "save_run",
    "write_compare",
    "write_report",
]
