"""``defchain integration ...``: tokens for other tip lines and systems to use the API."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from defchain.cli import lookups
from defchain.cli.common import console, operator_actor, refusing_bad_input, transaction
from defchain.clock import SystemClock
from defchain.intake import service

app = typer.Typer(help="API integrations (other tip lines and systems).", no_args_is_help=True)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The integration's name.")]


@app.command("add")
def add(
    name: Name,
    agency: Annotated[str, typer.Option(help="Agency (name or id) that receives its reports.")],
) -> None:
    """Register an integration and print its token (shown only this once)."""
    now = SystemClock().now()
    with refusing_bad_input({"name": "NAME", "agency_id": "--agency"}), transaction() as session:
        found = lookups.agency(session, agency)
        integration, token = service.create_integration(
            session, actor=operator_actor(), name=name, agency_id=found.id, now=now
        )
        summary = (
            f"Added integration [bold]{escape(integration.name)}[/bold] (id {integration.id}); "
            f"its reports go to {escape(found.name)}."
        )
    console.print(summary)
    console.print("Its token is shown only now; store it in the other system's secrets:")
    console.print(token, markup=False, soft_wrap=True)
    console.print(
        "Use it as the header 'Authorization: Bearer <token>' on POST /api/v1/reports.",
        markup=False,
    )


@app.command("list")
def list_() -> None:
    """List integrations: agency, state and when each last sent something."""
    with refusing_bad_input(), transaction() as session:
        rows = service.list_integrations(session, actor=operator_actor())
    if not rows:
        console.print("No integrations yet: add one with `defchain integration add`.", markup=False)
        return
    table = Table("Name", "Id", "Agency", "State", "Created", "Last used")
    for integration, agency in rows:
        last = integration.last_used_at
        table.add_row(
            escape(integration.name),
            str(integration.id),
            escape(agency.name),
            "active" if integration.active else "disabled",
            f"{integration.created_at:%Y-%m-%d %H:%M} UTC",
            f"{last:%Y-%m-%d %H:%M} UTC" if last else "never",
        )
    console.print(table)


@app.command("disable")
def disable(name: Name) -> None:
    """Turn NAME's token off: its requests get 401 from now on."""
    now = SystemClock().now()
    with refusing_bad_input(), transaction() as session:
        integration = service.integration_named(session, name)
        service.set_integration_active(
            session, actor=operator_actor(), integration=integration, active=False, now=now
        )
    console.print(f"Integration [bold]{escape(integration.name)}[/bold] is disabled.")
