"""The audit command: a scenario's sanctions against EU AI Act Article 5(1)(c)."""

from __future__ import annotations

from typing import Annotated

import typer

from scslab.cli.common import CsvOpt, ScenarioArg, SetOpt, TrustOpt, app, fail, load, out, output_format
from scslab.cli.tables import Format, as_csv, audit_table, fitted
from scslab.errors import ScslabError


@app.command()
def audit(
    scenario: ScenarioArg,
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as one JSON object instead.")] = False,
    csv: CsvOpt = False,
    allow_extends: TrustOpt = None,
) -> None:
    """Audit a scenario's sanctions against EU AI Act Article 5(1)(c); exit 1 if any rule meets it."""
    from scslab.audit import audit as audit_scenario

    how = output_format(as_json, csv)
    try:
        sc = load(scenario, set_, allow_extends)
    except ScslabError as exc:
        fail(str(exc))
        return
    report = audit_scenario(sc)
    if how is Format.JSON:
        typer.echo(report.to_json())
        raise typer.Exit(0 if report.passes else 1)
    if how is Format.CSV:
        typer.echo(as_csv(audit_table(report)), nl=False)
        raise typer.Exit(0 if report.passes else 1)
    out.print(fitted(audit_table(report), out))
    for f in report.findings:
        verdict = "[bold red]meets the pattern[/]" if f.prohibited else "[green]does not meet it[/]"
        out.print(f"\n[bold]{f.rule}[/] {f.effect} ({f.trigger}), in {f.context}, {f.severity}: {verdict}")
        data = "; ".join(f"{u.name} ({u.path}) {u.context}" for u in f.data) or "none"
        offences = ", ".join(f"{u.name} {u.gravity}" for u in f.data if u.gravity != "merit") or "none"
        lines = [
            f"(a) {f.scoring}",
            f"(i) data: {data}; applied in {f.context}",
            *(f"(i) unrelated: {r}" for r in f.unrelated),
            f"(ii) {f.severity} against: {offences}",
            *(f"(ii) disproportionate: {r}" for r in f.disproportionate),
        ]
        for line in [*lines, *(f"note: {n}" for n in f.notes)]:
            out.print(f"  {line}", highlight=False)
    for note in report.not_audited:
        out.print(f"not audited: {note}", highlight=False)
    out.print(f"\n{report.rule_of_thumb}", highlight=False)
    verdict = "no rule meets" if report.passes else f"{len(report.prohibited)} rule(s) meet"
    out.print(f"[bold]{verdict} the prohibited pattern of {report.article}[/]")
    raise typer.Exit(0 if report.passes else 1)
