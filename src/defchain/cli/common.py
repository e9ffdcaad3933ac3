"""What every command shares: the database, the operator as an actor, and error output.

Commands other than ``serve`` must work without ``DEFCHAIN_SECRET_KEY`` (an operator
creating the first account has no reason to hold the web secret), so they read only the
database URL instead of building the whole ``Settings`` object.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from defchain import migrate
from defchain.access import Actor
from defchain.config import Settings
from defchain.db import make_engine, make_session_factory, unit_of_work
from defchain.errors import DomainError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# Exit codes: 2 for input or configuration the command refuses (as for a usage error),
# 1 when the command could not do its work (e.g. the database is unreachable).
EXIT_REFUSED = 2
EXIT_FAILED = 1


def database_url() -> str:
    """``DEFCHAIN_DATABASE_URL``, or the default from ``Settings``."""
    default = Settings.model_fields["database_url"].default
    return os.environ.get("DEFCHAIN_DATABASE_URL") or str(default)


def display_url(url: str) -> str:
    """The URL with any password masked, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite file URL (``None`` for other databases or ``:memory:``)."""
    return Settings.model_construct(database_url=url).sqlite_path()


def fail(message: str, *, code: int = EXIT_REFUSED) -> NoReturn:
    """Print one red line on stderr and stop with ``code``."""
    err_console.print(f"[red]Error:[/red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def validation_lines(exc: ValidationError, flags: Mapping[str, str] | None = None) -> list[str]:
    """One ``field: problem`` line per error, naming the command-line flag where known."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "input"
        flag = (flags or {}).get(str(error["loc"][0])) if error["loc"] else None
        name = f"{field} ({flag})" if flag else field
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return lines


def domain_message(exc: DomainError) -> str:
    """The error's message, prefixed with its field unless it already names it."""
    if exc.field and not exc.message.startswith(f"{exc.field}:"):
        return f"{exc.field}: {exc.message}"
    return exc.message


@contextmanager
def refusing_bad_input(flags: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn validation and domain errors into a red message and exit code 2.

    Put it *outside* the unit of work so the transaction has rolled back by the time
    the message is printed: nothing is written.
    """
    try:
        yield
    except ValidationError as exc:
        lines = validation_lines(exc, flags)
        for line in lines[:-1]:
            err_console.print(f"[red]Error:[/red] {line}", soft_wrap=True)
        fail(lines[-1] if lines else str(exc))
    except DomainError as exc:
        fail(domain_message(exc))


def operator_actor() -> Actor:
    """The person at the terminal, as recorded in the audit log (``cli:<login>``)."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        login = "unknown"
    return Actor.system(f"cli:{login}")


def prepare_sqlite_dir(url: str) -> None:
    """Create the folder that will hold a SQLite file (e.g. ``var/``)."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def migration_problem(engine: Engine, url: str) -> str | None:
    """Why the database cannot be used as it is, or ``None`` when it is at head."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return f"No database file at {path}: run `defchain init` first."
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if current != head:
        return (
            f"The database is at revision {current or 'none'}, not {head}: "
            "run `defchain init` (or `defchain db upgrade`) first."
        )
    return None


@contextmanager
def open_database(*, require_head: bool = True) -> Iterator[Engine]:
    """An engine for the configured database, disposed of at the end.

    With ``require_head`` it refuses (exit 2) a database that is missing or not migrated
    to the newest revision, rather than failing later on a missing table.
    """
    url = database_url()
    engine = make_engine(url)
    try:
        if require_head:
            problem = migration_problem(engine, url)
            if problem:
                fail(problem)
        yield engine
    except OperationalError as exc:
        # Unreachable server, wrong credentials, locked file: one line, not a traceback.
        reason = str(exc.orig or exc).strip().splitlines()[0]
        fail(f"database {display_url(url)}: {reason}", code=EXIT_FAILED)
    finally:
        engine.dispose()


@contextmanager
def transaction() -> Iterator[Session]:
    """One session and one transaction for the whole command, committed at the end."""
    with open_database() as engine, unit_of_work(make_session_factory(engine)) as session:
        yield session


def read_password(*, from_stdin: bool, prompt: str = "Password") -> str:
    """A new password, typed twice at a hidden prompt or read as one line of stdin."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value
