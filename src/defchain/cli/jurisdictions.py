"""``defchain jurisdiction add``: the first jurisdiction of a new installation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from defchain.access import service
from defchain.access.schemas import JurisdictionIn
from defchain.cli.common import console, operator_actor, refusing_bad_input, transaction
from defchain.clock import SystemClock

app = typer.Typer(help="Jurisdictions.", no_args_is_help=True)

JURISDICTION_FLAGS = {
    "name": "NAME",
    "state": "--state",
    "county": "--county",
    "city": "--city",
    "timezone": "--timezone",
}


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. 'Example County'.")],
    state: Annotated[str, typer.Option(help="Two-letter state or territory code.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/Chicago.")],
    county: Annotated[str, typer.Option(help="County name.")] = "",
    city: Annotated[str, typer.Option(help="City name.")] = "",
) -> None:
    """Add a jurisdiction (agencies and teams belong to one)."""
    now = SystemClock().now()
    with refusing_bad_input(JURISDICTION_FLAGS), transaction() as session:
        data = JurisdictionIn(name=name, state=state, county=county, city=city, timezone=timezone)
        place = service.create_jurisdiction(session, actor=operator_actor(), data=data, now=now)
        message = f"Added jurisdiction [bold]{escape(place.name)}[/bold] (id {place.id})."
    console.print(message)
