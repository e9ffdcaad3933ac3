"""``defchain import KIND FILE``: bulk import of reports from CSV or JSON Lines.

Every row is validated; a bad row is reported by line number and reason. A file imports
all or nothing (exit 2, nothing written) unless ``--skip-bad``, which imports the good
rows and writes the bad ones, each with its reason, to a rejects file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from defchain.access import Actor
from defchain.access.service import actor_for
from defchain.cli import lookups
from defchain.cli.common import (
    console,
    err_console,
    fail,
    operator_actor,
    refusing_bad_input,
    transaction,
)
from defchain.clock import SystemClock
from defchain.intake import ReportKind
from defchain.intake.importer import Format, ImportResult, import_file, write_rejects

SHOWN_REJECTS = 20
EXTENSIONS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class FileFormat(StrEnum):
    """The file formats ``docs/formats/reports.md`` describes."""

    CSV = "csv"
    JSONL = "jsonl"


def import_(
    kind: Annotated[ReportKind, typer.Argument(metavar="KIND", help="The kind of every row.")],
    file: Annotated[
        Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, readable=True)
    ],
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="csv or jsonl.", show_default="from the file's extension"),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Import the good rows; write the bad to --rejects.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Where --skip-bad writes bad rows.", show_default="FILE.rejects.csv/.jsonl"
        ),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option("--as", metavar="USERNAME", help="Staff member recorded as the importer."),
    ] = None,
    agency: Annotated[
        str | None,
        typer.Option(help="Agency (name or id) the reports go to, when not using --as."),
    ] = None,
) -> None:
    """Import reports of one KIND from a CSV or JSON Lines FILE (docs/formats/reports.md)."""
    fmt = _format(file, file_format)
    content = file.read_bytes()
    total = _count_rows(content, fmt)
    now = SystemClock().now()
    with refusing_bad_input({"agency": "--agency", "username": "--as"}), transaction() as session:
        actor = _importer(session, as_user, agency)
        with _progress() as bar:
            task = bar.add_task(f"Checking and importing {escape(file.name)}", total=total)
            result = import_file(
                session,
                actor=actor,
                kind=kind,
                fmt=fmt,
                stream=io.BytesIO(content),
                skip_bad=skip_bad,
                now=now,
                progress=lambda done: bar.update(task, completed=done),
            )
        if result.rejected and not skip_bad:
            _show_rejects(result)
            fail(
                f"{len(result.rejected)} bad row(s) in {file}; nothing was imported. Correct "
                "them, or use --skip-bad to import the good rows and write the bad ones aside."
            )
    summary = f"Imported {result.imported} {kind.value} report(s) from {escape(str(file))}."
    if result.rejected:
        path = rejects or file.with_name(f"{file.stem}.rejects.{fmt}")
        _write(path, fmt, result)
        _show_rejects(result)
        summary += (
            f" {len(result.rejected)} bad row(s) skipped, written with their reasons to "
            f"{escape(str(path))}."
        )
    console.print(summary)


def _format(file: Path, given: FileFormat | None) -> Format:
    if given is not None:
        return "csv" if given is FileFormat.CSV else "jsonl"
    found = EXTENSIONS.get(file.suffix.lower())
    if found is None:
        fail(f"--format: say csv or jsonl; the extension of {file.name} does not tell.")
    return found


def _importer(session: Session, username: str | None, agency: str | None) -> Actor:
    """The staff member named by --as, or the operator placing reports in --agency."""
    if username is not None:
        if agency is not None:
            fail("--agency: leave it out with --as; the reports go to that user's agency.")
        user = lookups.user(session, username)
        if user.disabled:
            fail(f"--as: the account {user.username} is disabled.")
        return actor_for(session, user)
    if agency is None:
        fail("--agency: say which agency receives the reports (or import --as a staff user).")
    found = lookups.agency(session, agency)
    return dataclasses.replace(operator_actor(), agency_id=found.id)


def _count_rows(content: bytes, fmt: Format) -> int:
    """Rows in the file (for the progress bar's total; the import counts for real)."""
    text = content.decode("utf-8-sig", errors="replace")
    if fmt == "jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(row)]
    except csv.Error:
        return 0
    return max(len(rows) - 1, 0)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
    )


def _show_rejects(result: ImportResult) -> None:
    for row in result.rejected[:SHOWN_REJECTS]:
        err_console.print(f"line {row.line}: {row.reason}", markup=False, soft_wrap=True)
    hidden = len(result.rejected) - SHOWN_REJECTS
    if hidden > 0:
        err_console.print(f"… and {hidden} more bad row(s).", markup=False)


def _write(path: Path, fmt: Format, result: ImportResult) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        write_rejects(out, fmt, result)
