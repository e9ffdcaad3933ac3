"""``defchain init`` and ``defchain db upgrade``: create or migrate the database."""

from __future__ import annotations

from typing import Annotated

import typer
from alembic.util.exc import CommandError

from defchain import migrate, reference
from defchain.cli.common import (
    console,
    database_url,
    display_url,
    fail,
    open_database,
    prepare_sqlite_dir,
    transaction,
)
from defchain.clock import SystemClock

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def migrate_to(revision: str) -> None:
    """Create the database when missing and bring it to ``revision``; print the outcome."""
    url = database_url()
    prepare_sqlite_dir(url)
    with open_database(require_head=False) as engine:
        before = migrate.current_revision(engine)
        try:
            migrate.upgrade(engine, revision)
        except CommandError as exc:
            fail(f"revision: {exc}")
        after = migrate.current_revision(engine)
    where = display_url(url)
    if before == after:
        console.print(f"Database {where} is already at revision [bold]{after}[/bold].")
    else:
        console.print(
            f"Database {where} migrated from {before or 'empty'} to revision [bold]{after}[/bold]."
        )


def seed_reference_data() -> None:
    """Add the firearm-law rows the database lacks (rows already there stay as edited)."""
    with transaction() as session:
        added = reference.seed(session, SystemClock().now())
    if added:
        console.print(f"Added {added} firearm-law reference rows (unverified cells marked).")


def init() -> None:
    """Create the database at DEFCHAIN_DATABASE_URL, or migrate it to the newest revision."""
    migrate_to("head")
    seed_reference_data()


@app.command("upgrade")
def upgrade(
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", help="Target revision id.")
    ] = "head",
) -> None:
    """Migrate the database to REVISION (default: the newest)."""
    migrate_to(revision)
