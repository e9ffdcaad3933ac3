"""``defchain agency add``: agencies from the command line (as an audited operator)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from defchain.access import AGENCY_KIND_LABELS, AgencyKind, service
from defchain.access.schemas import AgencyIn
from defchain.cli import lookups
from defchain.cli.common import console, operator_actor, refusing_bad_input, transaction
from defchain.clock import SystemClock

app = typer.Typer(help="Agencies.", no_args_is_help=True)

AGENCY_FLAGS = {
    "name": "NAME",
    "kind": "--kind",
    "jurisdiction_id": "--jurisdiction",
    "phone": "--phone",
    "email": "--email",
}


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The agency's full name.")],
    kind: Annotated[AgencyKind, typer.Option(help="What kind of agency it is.")],
    jurisdiction: Annotated[str, typer.Option(help="Jurisdiction name or id.")],
    phone: Annotated[str, typer.Option(help="Main phone number.")] = "",
    email: Annotated[str, typer.Option(help="Main e-mail address.")] = "",
) -> None:
    """Add an agency in a jurisdiction."""
    now = SystemClock().now()
    with refusing_bad_input(AGENCY_FLAGS), transaction() as session:
        place = lookups.jurisdiction(session, jurisdiction)
        data = AgencyIn(name=name, kind=kind, jurisdiction_id=place.id, phone=phone, email=email)
        agency = service.create_agency(session, actor=operator_actor(), data=data, now=now)
        message = (
            f"Added {AGENCY_KIND_LABELS[AgencyKind(agency.kind)].lower()} "
            f"[bold]{escape(agency.name)}[/bold] (id {agency.id}) in {escape(place.name)}."
        )
    console.print(message)
