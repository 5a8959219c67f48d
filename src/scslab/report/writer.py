"""A run's report.html, and saving a run with its baseline and report as one directory."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from scslab.atomic import new_directory, write_parquet, write_text
from scslab.errors import ScslabError
from scslab.intervals import FEW
from scslab.report.cases import cases_sections
from scslab.report.data import BASELINE_FILE, RunData
from scslab.report.figures import build_figures
from scslab.report.html import Section, page, table
from scslab.report.tables import HEADLINE_HEADER, SHARES, headline_rows, headline_titles, parameter_rows, ratio_rows
from scslab.scenario import load_scenario
from scslab.uncertainty import add_chilling, quoted

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
        Section("Key findings", key_findings(s)),
        Section(
            "Headline figures",
            f"Counts over the whole run (flows) or on the last day (stocks), as simulated and multiplied by "
            f"{scale:,.1f} to the real population of {int(s['real_size']):,}, with their 95% intervals at the "
            f"precision the intervals support (docs/uncertainty.md). \"few\": the figure rests on fewer than "
            f"{FEW} simulated people or events; quote it with care.",
            html=table(HEADLINE_HEADER, headline_rows(data), titles=headline_titles(data)),
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
            "Political events committed each day. The dashed line is their level in the baseline (the same "
            "run and seed with every source's coverage at 0; `scslab run` runs it unless told --no-baseline): "
            "the gap is the chilling effect, measured over the shaded window after the burn-in, when the "
            "perceived risk everyone starts with has worn off in the baseline (docs/uncertainty.md).",
            figs["political"],
        ),
        Section(
            "Disparities",
            "The share of each group blacklisted and holding a reward at the end (top), and wrongfully "
            "blacklisted (below, on its own axis), with 95% intervals; the table gives the ratios of those "
            "shares with their 95% Katz intervals and the counts behind them (n/a where the second group's "
            "share is 0; few: a count below 30).",
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


def key_findings(summary: dict[str, Any]) -> str:
    """A plain-language paragraph from the headline figures and their intervals (text, escaped by the page)."""
    f, scale = summary["figures"], float(summary["scale"])
    few: list[str] = []

    def said(name: str) -> str:
        entry = f[name]
        if entry.get("small"):
            few.append(str(entry.get("label", name)).lower())
        return quoted(entry, scale)

    parts = [
        f"In this run of {summary['scenario']} ({int(summary['population_size']):,} simulated citizens standing "
        f"for {int(summary['real_size']):,}, over {summary['days']} days)"
    ]
    if "blacklisted" in f:
        parts[0] += f", {said('blacklisted')} people are on the blacklist at the end"
        if "blacklisted_wrongful" in f:
            parts[0] += f", of whom {said('blacklisted_wrongful')} wrongfully"
        parts[0] += "."
    else:
        parts[0] += "."
    if "ever_wrongfully_listed" in f:
        parts.append(f"Over the run, {said('ever_wrongfully_listed')} people were wrongfully listed at some time.")
    if "chilling_effect" in f:
        first, last = f["chilling_effect"]["window"]
        parts.append(
            f"Surveillance suppressed {said('chilling_effect')} of political events (the chilling effect, days "
            f"{first} to {last}, against the same run without surveillance)."
        )
    else:
        parts.append("This run has no baseline without surveillance, so it does not measure the chilling effect.")
    ratio = summary.get("disparities", {}).get("wrongful_share_minority_to_majority")
    if ratio is not None and ratio.get("interval") is not None:
        low, high = ratio["interval"]
        parts.append(
            f"Minority citizens were {ratio['value']:.2f} times as likely as majority citizens to be wrongfully "
            f"listed at the end (95% interval {low:.2f} to {high:.2f})"
            + (", from few cases." if ratio.get("small") else ".")
        )
    if few:
        parts.append(f"Quote with care: {len(few)} of these figures rest on fewer than {FEW} simulated people or "
                     f"events (marked few below).")  # fmt: skip
    parts.append("Counts are rounded to the precision their 95% intervals support.")
    return " ".join(parts)


def write_report(
    run_dir: str | Path,
    baseline: pd.DataFrame | None = None,
    cases: Sequence[CaseFile] = (),
    cases_left_out: bool = False,
    out: str | Path | None = None,
) -> Path:
    """Write report.html into a run directory, with `cases` in its Cases section (`cases_left_out`: some people
    picked for it were not traced); a `baseline` daily table is stored beside it first, and the chilling effect
    measured against it goes into summary.json. With `out`, report.html goes into that folder instead (made if
    missing; an existing report.html there is refused)."""
    root = Path(run_dir)
    if baseline is not None:
        write_parquet(baseline, root / BASELINE_FILE)
        data = RunData.from_dir(root)
        params = load_scenario(root / "scenario.toml").params
        summary = add_chilling(data.summary, data.timeseries, baseline, params)
        write_text(root / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    data = dataclasses.replace(RunData.from_dir(root, cases), cases_left_out=cases_left_out)
    return write_text(_report_path(root, out), report_html(data))


def _report_path(root: Path, out: str | Path | None) -> Path:
    """Where report.html goes: the run folder, or the folder `out` (made if missing; never over a report)."""
    if out is None:
        return root / REPORT_FILE
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ScslabError(f"--out {folder}: not a folder (allowed: a folder for report.html)")
    if (folder / REPORT_FILE).exists():
        raise ScslabError(f"--out {folder}: already holds {REPORT_FILE} (allowed: a folder without one)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScslabError(f"--out {folder}: cannot be made ({exc.strerror}; allowed: a writable folder)") from None
    return folder / REPORT_FILE


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
    if baseline is not None and "chilling_effect" not in result.summary["figures"]:
        add_chilling(result.summary, result.timeseries, baseline, result.scenario.params)
    with new_directory(directory) as staging:
        result.write_files(staging, people=people)
        if baseline is not None:
            baseline.to_parquet(staging / BASELINE_FILE, index=False)
        if report:
            write_report(staging, cases=cases, cases_left_out=cases_left_out)
    return Path(directory)
