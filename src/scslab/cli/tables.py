"""The rich tables the commands print: headline figures, time per phase, the audit's findings."""

from __future__ import annotations

from rich.table import Table


def headline_table(result: object) -> Table:
    """The headline figures as a rich table: simulated, scaled with its 95% interval, and a note for small counts."""
    from scslab.results import Result
    from scslab.uncertainty import headline_rows

    assert isinstance(result, Result)
    s = result.summary
    table = Table(
        title=f"{s['scenario']} · seed {s['seed']} · {s['days']} days · "
        f"{s['population_size']:,} citizens (1:{s['scale']:,.0f} of {s['real_size']:,})",
        caption="95% intervals (docs/uncertainty.md); few: from fewer than 30 simulated people or events",
    )
    table.add_column("figure", min_width=22)
    table.add_column("simulated", justify="right")
    table.add_column("real pop.", justify="right")
    table.add_column("95% interval", justify="right")
    for row in headline_rows(s):
        span = f"{row.low} to {row.high}" if row.low else ""  # wraps at its spaces, never cut
        simulated = f"{row.simulated} {row.note}".strip()  # "10 few": from fewer than 30 simulated
        table.add_row(row.figure, simulated, row.estimate, span)
    return table


def profile_table(profile: dict[str, float], days: int) -> Table:
    """Time per phase, in total and per simulated day."""
    total = sum(profile.values())
    table = Table(title="Time per phase")
    for col in ("phase", "seconds", "ms per day", "share"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for phase, seconds in profile.items():
        per_day = "" if phase == "population" else f"{1000 * seconds / days:.2f}"
        table.add_row(phase, f"{seconds:.3f}", per_day, f"{seconds / total:.0%}" if total else "")
    table.add_row("total", f"{total:.3f}", "", "")
    return table


def audit_table(report: object) -> Table:
    """One row per rule: (a) a score over time, (i) context, (ii) proportion, and the verdict."""
    from scslab.audit import AuditReport

    assert isinstance(report, AuditReport)
    table = Table(title=f"{report.scenario} · {report.article}")
    for col in ("rule", "sanction", "(a) score", "(i) unrelated data", "(ii) disproportionate", "meets it"):
        table.add_column(col, no_wrap=col in ("rule", "(a) score", "meets it"))
    for f in report.findings:
        table.add_row(
            f.rule,
            f"{f.effect}\n{f.trigger}",
            "yes" if f.scores_over_time else "no",
            f"{len(f.unrelated)} of {len(f.data)} records" if f.unrelated else "no",
            f"{len(f.disproportionate)} reason(s)" if f.disproportionate else "no",
            "[bold red]yes[/]" if f.prohibited else "[green]no[/]",
        )
    return table
