"""Reports: report.html for a run, Result.plot() for notebooks, and compare.html for two scenarios."""

from scslab.report.compare import COMPARE_FILE, Comparison, compare, compare_html, write_compare
from scslab.report.data import BASELINE_FILE, RunData, baseline_scenario, simulate_baseline
from scslab.report.figures import CHARTS, build_figures
from scslab.report.writer import REPORT_FILE, report_html, save_run, write_report

__all__ = [
    "BASELINE_FILE",
    "CHARTS",
    "COMPARE_FILE",
    "REPORT_FILE",
    "Comparison",
    "RunData",
    "baseline_scenario",
    "build_figures",
    "compare",
    "compare_html",
    "report_html",
    "save_run",
    "simulate_baseline",
    "write_compare",
    "write_report",
]
