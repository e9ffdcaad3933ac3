"""``defchain audit verify``: recompute the hash chain of the audit log."""

from __future__ import annotations

import typer
from rich.table import Table

from defchain import audit as audit_log
from defchain.cli.common import console, transaction

app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)

EXIT_PROBLEMS = 1


@app.command("verify")
def verify(
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="A head hash printed by an earlier verification; detects events cut off the end.",
    ),
) -> None:
    """Check every audit event's hash and link; exit 1 if any row was edited, removed or added."""
    with transaction() as session:
        result = audit_log.verify(session, expected_head=expect_head)
    console.print(f"Events checked: {result.checked}")
    console.print(f"Head hash: {result.head_hash}")
    if result.ok:
        console.print("[green]OK:[/green] the audit chain is intact.")
        return
    table = Table(title="Audit chain problems", title_justify="left")
    table.add_column("seq", justify="right")
    table.add_column("problem")
    for problem in result.problems:
        table.add_row(str(problem.seq), problem.reason)
    console.print(table)
    console.print(
        f"[red]FAILED:[/red] {len(result.problems)} problem(s) found; "
        "the audit log has been altered outside the application."
    )
    raise typer.Exit(EXIT_PROBLEMS)
