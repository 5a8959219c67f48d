"""The data dictionary, docs/outputs.md: one table per output file, generated from the declarations.

    python -m scslab.dictionary            # rewrite docs/outputs.md
    python -m scslab.dictionary --check    # exit 1 if docs/outputs.md is stale

The run's Parquet files are declared in `scslab.outputs` (their metric columns in the metric
catalogue); summary.json's keys and the experiments' files are declared here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scslab.model.metrics import catalogue
from scslab.outputs import Column, Output, run_outputs

DOC = Path("docs") / "outputs.md"
JSON = "summary.json"

SUMMARY = Output(
    JSON,
    "every run folder and every run of an experiment",
    "one JSON object per run",
    (
        Column("scenario", "string", "The scenario's name."),
        Column("description", "string", "The scenario's description."),
        Column("origin", "string", "Where the scenario came from: a file path, or `preset NAME`."),
        Column("seed", "integer", "The run's seed."),
        Column("scslab_version", "string", "The scslab version that made the run."),
        Column("population_size", "integer", "Simulated citizens.", "citizens"),
        Column("real_size", "integer", "The real population the run stands for (population_size if not set).",
               "citizens"),
        Column("scale", "number", "real_size / population_size: what a simulated count is multiplied by.",
               "citizens per simulated citizen"),
        Column("days", "integer", "Simulated days.", "days"),
        Column("start_date", "string", "The calendar date of day 0 (ISO 8601).", "date"),
        Column("figures", "object", "Each figure of the run, by name: the table below."),
        Column("scaled", "object", "Each figure that scales, times `scale`: an estimate for the real population.",
               "as the figure"),
        Column("disparities", "object", "Ratios of shares between groups (minority/majority, q1/q5) from "
               "breakdowns.parquet; null where the denominator is 0.", "ratio"),
        Column("overrides", "object", "The `--set` overrides (`with_overrides`) applied to the scenario, by key.",
               ""),
        Column("scenario_hash", "string", "SHA-256 (hex) of the run's scenario.toml bytes: the resolved scenario."),
        Column("wall_seconds", "number", "Wall time of the run.", "seconds"),
        Column("profile_seconds", "object", "Wall time of each phase (the population's build included).",
               "seconds"),
    ),
)

EXPERIMENT = "`runs/experiments/ID/`"
EXPERIMENTS = (
    Output("bands.parquet", f"{EXPERIMENT} of `scslab ensemble`", "one metric on one day, over the runs", (
        Column("metric", "string", "A daily column of timeseries.parquet."),
        Column("day", "int64", "The day.", "day"),
        Column("runs", "int64", "Runs reduced.", "runs"),
        *(Column(q, "float64", f"The {q[1:]}% quantile over the runs.", "as the metric") for q in ("p10", "p50",
                                                                                                  "p90")),
        Column("mean", "float64", "The mean over the runs.", "as the metric"),
        Column("min", "float64", "The least value over the runs.", "as the metric"),
        Column("max", "float64", "The greatest value over the runs.", "as the metric"),
    )),
    Output("intervals.parquet", f"{EXPERIMENT} of `scslab ensemble`", "one figure of summary.json, over the runs", (
        Column("metric", "string", "A figure of summary.json."),
        Column("runs", "int64", "Runs reduced.", "runs"),
        Column("mean", "float64", "The mean over the runs (simulated).", "as the metric"),
        Column("ci_low", "float64", "The 95% confidence interval of the mean (Student's t), low end; NaN with one "
               "run.", "as the metric"),
        Column("ci_high", "float64", "Its high end.", "as the metric"),
        Column("sd", "float64", "The standard deviation over the runs; NaN with one run.", "as the metric"),
        *(Column(q, "float64", f"The {q[1:]}% quantile over the runs.", "as the metric") for q in ("p10", "p50",
                                                                                                  "p90")),
        Column("mean_real", "float64", "`mean` times the scale for a count; NaN for a figure that does not scale.",
               "as the metric"),
    )),
    Output("points.parquet", f"{EXPERIMENT} of `scslab sweep`", "one design point", (
        Column("point", "int64", "The point's index."),
        Column("{parameter}", "float64", "The value of each swept parameter (a scenario key).", "as the key"),
        Column("{metric}", "float64", "Each metric's mean over the point's replicates.", "as the metric"),
        Column("{metric}_sd", "float64", "Its standard deviation over the replicates (with `--seeds` > 1).",
               "as the metric"),
    )),
    Output("correlations.parquet", f"{EXPERIMENT} of `scslab sweep`", "one metric", (
        Column("metric", "string", "A figure of summary.json."),
        Column("{parameter}", "float64", "Spearman's rank correlation of the metric's mean with the parameter over "
               "the points; NaN where either is constant or with fewer than 3 points.", "correlation"),
    )),
    Output("indices.parquet", f"{EXPERIMENT} of `scslab sensitivity`", "one metric and one parameter", (
        Column("metric", "string", "A figure of summary.json."),
        Column("parameter", "string", "A scenario key."),
        Column("S1", "float64", "Sobol: the first-order index; NaN for a metric that does not vary.", "share"),
        Column("S1_conf", "float64", "Sobol: its 95% confidence half-width (bootstrap).", "share"),
        Column("ST", "float64", "Sobol: the total-order index.", "share"),
        Column("ST_conf", "float64", "Sobol: its 95% confidence half-width.", "share"),
        Column("mu_star", "float64", "Morris: the mean absolute elementary effect.", "as the metric"),
        Column("mu_star_conf", "float64", "Morris: its 95% confidence half-width.", "as the metric"),
        Column("sigma", "float64", "Morris: the elementary effects' standard deviation.", "as the metric"),
        Column("mu", "float64", "Morris: the mean elementary effect.", "as the metric"),
    )),
    Output("trials.parquet", f"{EXPERIMENT} of `scslab calibrate`", "one trial of the optimiser", (
        Column("trial", "int64", "The trial's number."),
        Column("loss", "float64", "Sum over targets of ((simulated - target) / tolerance)^2.", ""),
        Column("{parameter}", "float64", "The trial's value of each fitted parameter.", "as the key"),
        Column("sim_{target}", "float64", "The simulated value of each target (mean over the seeds).", "as the target"),
    )),
    Output("compare.parquet", "the folder of `scslab compare`", "one run of one side", (
        Column("side", "string", "A or B."),
        Column("seed", "int64", "The run's seed."),
        Column("{figure}", "as summary.json", "Each figure of the run's summary.json `figures`.", "as the figure"),
    )),
)  # fmt: skip


INTRO = """\
# The outputs: a data dictionary

*Generated by `python -m scslab.dictionary` from the metric catalogue (`src/scslab/model/catalogue.py`
and the effects' rows) and the column declarations (`src/scslab/outputs.py`, `src/scslab/dictionary.py`);
`tests/test_dictionary.py` fails when this page is stale. Edit those, not this page.*

A run folder (`scslab run`, `scslab.run(...)`) holds `timeseries.parquet`, `breakdowns.parquet`,
`listings.parquet`, `summary.json`, `scenario.toml` (the resolved scenario), `report.html`, and with
`--save-people` `people.parquet`; `baseline_timeseries.parquet` (the same run without surveillance,
the same columns as `timeseries.parquet`) when the report was made with a baseline.

How to read the tables below:

- **type**: the type in the file, in Arrow's words. `dictionary<int8, string>` is a string column stored
  as a categorical (pandas reads it as `category`, polars as `Categorical`, DuckDB as `VARCHAR`);
  `date32` is a calendar date (pandas reads `datetime.date` objects, as `Result.timeseries` holds them;
  `pd.to_datetime` makes them datetimes; polars reads `Date`, DuckDB `DATE`). Counts are integers in
  the files and in summary.json.
- **kind**: *stock*, a state read at the end of the day (in summary.json: on the last day), or *flow*,
  what happened during the day (in summary.json: summed over the run). Blank for identifiers and
  attributes.
- **scales**: a count of simulated citizens, events, ties or firms. Multiply by summary.json's `scale`
  to estimate the real population's number (summary.json's `scaled` does it); a simulated count from
  few people says little, so read such estimates with their intervals.
- **Missing values are nulls** (never `""` or `-1`): a listing's `exit_day` while still listed, a
  citizen's `blacklist_cause` when not listed, `firm` without an employer. Read nullable integer columns
  with `pd.read_parquet(path, dtype_backend="numpy_nullable")` to keep them integers in pandas.
- A name with `{tier}`, `{event}` or `{cause}` stands for one column per tier (A, B, ...), event type
  of the scenario, or blacklist cause (own_conduct, misattribution, association, listed_offence,
  joint_punishment).

The people and breakdowns tables label the citizens' attributes alike, so they join:

```python
people = pd.read_parquet("runs/mine/people.parquet")
b = pd.read_parquet("runs/mine/breakdowns.parquet")
by_q = people.merge(b[b["dimension"] == "income_q"], left_on="income_q", right_on="value")
```

```sql
SELECT p.income_q, count(*), any_value(b.wrongful_share)
FROM 'runs/mine/people.parquet' p JOIN 'runs/mine/breakdowns.parquet' b
  ON b.dimension = 'income_q' AND b.value = p.income_q GROUP BY ALL;
```
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(output: Output) -> str:
    """One output's section: where it is written, what a row is, and a row per column."""
    lines = [f"## {output.file}", "", f"Written to {output.written}. One row: {output.row}.", "",
             "| column | type | unit | kind | scales | meaning |", "|---|---|---|---|---|---|"]  # fmt: skip
    for c in output.columns:
        scales = "yes" if c.scales else ""
        lines.append(f"| `{c.name}` | {c.type} | {_cell(c.unit)} | {c.kind} | {scales} | {_cell(c.description)} |")
    return "\n".join(lines) + "\n"


def figures_table() -> str:
    """summary.json's `figures`: every figure of the catalogue, the summary-only ones included."""
    lines = ["### summary.json `figures`", "",
             "Every figure of the metric catalogue: a stock's value on the last day, a flow's sum over the run. "
             "JSON type: an integer for a figure that scales, else a number.", "",
             "| figure | kind | unit | scales | in timeseries | label | meaning |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for m in catalogue():
        scales = "yes" if m.scales else ""
        daily = "yes" if m.daily else "no"
        lines.append(f"| `{m.name}` | {m.kind} | {m.unit} | {scales} | {daily} | {_cell(m.label.strip())} | "
                     f"{_cell(m.description)} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def render() -> str:
    """docs/outputs.md's text."""
    parts = [INTRO, "# A run's files\n"]
    parts += [table(o) for o in run_outputs()]
    parts += [table(SUMMARY), figures_table()]
    parts += ["# An experiment's files\n",
              "Each run of an experiment is a run folder (`runs/NNNNNN/`, without people.parquet and report.html, "
              "with `task.json`); docs/experiments.md describes the catalogue (`catalog.duckdb`). A name with "
              "`{parameter}`, `{metric}`, `{target}` or `{figure}` stands for one column per parameter, metric, "
              "target or figure of the command.\n"]  # fmt: skip
    parts += [table(o) for o in EXPERIMENTS]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    """Write docs/outputs.md (from the repository's root), or with `--check` say whether it is stale."""
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text("utf-8") != text:
            print(f"{DOC}: stale (run: python -m scslab.dictionary)", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, "utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
