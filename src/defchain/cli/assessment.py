"""``defchain assessment check|list``: validate a local instrument, list the installed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from defchain.assessment.instrument import InstrumentError, default_instruments, load_file
from defchain.cli.common import console

app = typer.Typer(help="Assessment instruments.", no_args_is_help=True)


@app.command("check")
def check(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="An instrument YAML file to validate.")
    ],
) -> None:
    """Validate an instrument file: its shape, its references, monotone rules, and that
    nothing in it refers to a protected characteristic. Exit 1 on the first problem."""
    if not path.is_file():
        console.print(f"[red]No such file: {escape(str(path))}[/red]")
        raise typer.Exit(1)
    try:
        instrument = load_file(path)
    except InstrumentError as exc:
        console.print(f"[red]{escape(str(path))}: {escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    key_items = sum(1 for item in instrument.items if item.key)
    console.print(
        f"[green]OK[/green] {escape(instrument.key)}: {len(instrument.items)} items "
        f"({key_items} key), {len(instrument.facts)} facts, {len(instrument.rules)} rules; "
        f"digest {instrument.digest[:12]}"
    )


@app.command("list")
def list_() -> None:
    """The instruments this installation ships, with their versions and digests."""
    table = Table("instrument", "title", "items", "rules", "digest")
    for key, instrument in sorted(default_instruments().items()):
        table.add_row(
            escape(key),
            escape(instrument.title),
            str(len(instrument.items)),
            str(len(instrument.rules)),
            instrument.digest[:12],
        )
    console.print(table)
