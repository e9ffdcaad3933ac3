"""``defchain sweep`` and ``defchain triage``: the chain's escalations and the flow after
receipt, from the command line (``defchain serve`` runs both by itself)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from defchain.chain.pipeline import ROUND, run_round
from defchain.chain.sweep import sweep as sweep_breaks
from defchain.cli.common import console, fail, transaction
from defchain.cli.serve import load_settings
from defchain.clock import SystemClock
from defchain.intake import Report
from defchain.notify import SmtpMailer, deliver_pending
from defchain.triage import service as triage

app = typer.Typer(
    help="Triage: run the flow after receipt, explain a suggestion.", no_args_is_help=True
)


def sweep() -> None:
    """Escalate the chain's breaks once, then e-mail what is pending.

    Idempotent: a second run sends nothing twice. E-mail needs DEFCHAIN_SMTP_HOST.
    """
    now = SystemClock().now()
    with transaction() as session:
        result = sweep_breaks(session, now=now)
    console.print(
        f"{result.breaks} break(s) in the chain; {result.alerts} escalation step(s) sent "
        f"to {result.notified} recipient(s)."
    )
    settings = load_settings()
    if settings.smtp_host:
        mailer = SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            user=settings.smtp_user,
            password=settings.smtp_password,
        )
        with transaction() as session:
            sent = deliver_pending(session, mailer=mailer, now=now, base_url=settings.base_url)
        console.print(f"E-mailed {sent} notification(s).")


@app.command("process")
def process(
    limit: Annotated[int, typer.Option(min=1, help="At most this many reports.")] = 100_000,
) -> None:
    """Link, triage, route and cluster every report still waiting (oldest first)."""
    done = 0
    while done < limit:
        with transaction() as session:
            batch = run_round(session, now=SystemClock().now(), limit=min(ROUND, limit - done))
        done += len(batch)
        if len(batch) < ROUND:
            break
    console.print(f"Processed {done} report(s).")


@app.command("explain")
def explain(report_id: Annotated[int, typer.Argument(help="The report's id.")]) -> None:
    """Show the rules' current suggestion for a report and every reason for it."""
    with transaction() as session:
        report = session.get(Report, report_id)
        if report is None:
            fail(f"report: no report with id {report_id}.")
        result = triage.evaluate(session, report, SystemClock().now())
        console.print(f"Report #{report.id}: [bold]{escape(result.summary())}[/bold]")
        table = Table("rule", "priority", "outcome", "reason / missing")
        for finding in result.fired:
            table.add_row(finding.rule_id, finding.priority.value, "fired", escape(finding.reason))
        for finding in result.unknown:
            missing = "; ".join(finding.missing)
            table.add_row(
                finding.rule_id, finding.priority.value, "cannot tell", escape(f"needs: {missing}")
            )
        console.print(table)
        session.rollback()  # explaining changes nothing
