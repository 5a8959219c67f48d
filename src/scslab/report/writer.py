"""A run's report.html, and saving a run with its baseline and report as one directory."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from scslab.atomic import new_directory, write_parquet, write_text
from scslab.report.cases import cases_sections
from scslab.report.data import BASELINE_FILE, RunData
from scslab.report.figures import build_figures
from scslab.report.html import Section, page, table
from scslab.report.tables import SHARES, headline_rows, parameter_rows, ratio_rows

if TYPE_CHECKING:
    from scslab.cases import CaseFile
    from scslab.results import Result

REPORT_FILE = "report.html"


def report_html(data: RunData) -> str:
    """The report page of one run."""
    s = data.summary
    figs = build_figures(data)
    scale = float(s["scale"])
    sections = [
        Section(
            "Headline figures",
            f"Counts over the whole run (flows) or on the last day (stocks), as simulated and multiplied by "
            f"{scale:,.1f} to the real population of {int(s['real_size']):,}.",
            html=table(("figure", "simulated", "scaled to the real population"), headline_rows(data)),
        ),
        Section(
            "Score over time",
            "The median score of all citizens each day, the band where 80% of them lie "
            "(10th to 90th percentile), the mean, and the lowest score of each tier.",
            figs["score"],
        ),
        Section("Tiers", "The share of citizens in each tier each day.", figs["tiers"]),
        Section(
            "Blacklist",
            "Citizens on the blacklist each day by the cause of their listing; the red line is "
            "the listings that are wrongful (they would not exist without misattribution or guilt by "
            "association, or a listed offence charged to the wrong person), and its share below.",
            figs["blacklist"],
        ),
        Section(
            "Trips denied and speech suppressed",
            "Running totals of the sanctions people felt; the hover shows the total scaled to the real population.",
            figs["sanctions"],
        ),
        Section(
            "Political events and the chilling effect",
            "Political events committed each day. With a "
            "baseline (the same run with every source's coverage at 0), the dashed line is their level "
            "without surveillance: the gap is the chilling effect.",
            figs["political"],
        ),
        Section(
            "Disparities",
            "The share of each group blacklisted, wrongfully blacklisted and holding a reward "
            "at the end; the table gives the ratios of those shares (n/a where the second group's share "
            "is 0).",
            figs["disparities"],
            table(("ratio of shares", *(label for _, label in SHARES)), ratio_rows(data)),
        ),
        *cases_sections(data.cases, data.cases_left_out),
        Section(
            "Scenario",
            "Every parameter of the resolved scenario; rerunning it with the same seed and "
            "version gives the same results.",
            html=table(("key", "value"), parameter_rows(data.scenario), numeric_from=2, css="params"),
        ),
    ]
    meta = [
        ("seed", s["seed"]),
        ("scslab", s["scslab_version"]),
        ("start", s["start_date"]),
        ("days", s["days"]),
        ("citizens", f"{int(s['population_size']):,}"),
        ("real population", f"{int(s['real_size']):,}"),
        ("origin", s.get("origin", "")),
    ]
    footer = (
        f"scslab {s['scslab_version']}, seed {s['seed']}. Synthetic population: no real person's records were used."
    )
    return page(f"scslab report: {data.name}", data.description, meta, sections, footer)


def write_report(
    run_dir: str | Path,
    baseline: pd.DataFrame | None = None,
    cases: Sequence[CaseFile] = (),
    cases_left_out: bool = False,
) -> Path:
    """Write report.html into a run directory, with `cases` in its Cases section (`cases_left_out`: some people
    picked for it were not traced); a `baseline` daily table is stored beside it first."""
    root = Path(run_dir)
    if baseline is not None:
        write_parquet(baseline, root / BASELINE_FILE)
    data = dataclasses.replace(RunData.from_dir(root, cases), cases_left_out=cases_left_out)
    return write_text(root / REPORT_FILE, report_html(data))


def save_run(
    result: Result,
    directory: str | Path,
    people: bool = False,
    baseline: pd.DataFrame | None = None,
    report: bool = True,
    cases: Sequence[CaseFile] = (),
    cases_left_out: bool = False,
) -> Path:
    """Save a run with its baseline's daily table (if given) and report.html (with `cases`); the directory
    appears complete or not at all."""
    with new_directory(directory) as staging:
        result.write_files(staging, people=people)
        if baseline is not None:
            baseline.to_parquet(staging / BASELINE_FILE, index=False)
        if report:
            write_report(staging, cases=cases, cases_left_out=cases_left_out)
    return Path(directory)
