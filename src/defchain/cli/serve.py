"""``defchain serve``: run the web application under uvicorn.

It refuses to start on an unsafe configuration (no strong ``DEFCHAIN_SECRET_KEY``
outside demo mode) or on a database that is not migrated, with one line saying why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from defchain.cli.common import err_console, fail, open_database, validation_lines
from defchain.config import ConfigError, Settings

APP_FACTORY = "defchain.web.app:create_app"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
GRACEFUL_SHUTDOWN_SECONDS = 30


def load_settings() -> Settings:
    """The settings, or exit 2 with the configuration's one-line refusal."""
    try:
        return Settings()
    except ConfigError as exc:
        fail(str(exc))
    except ValidationError as exc:
        # A ConfigError that subclasses ValueError arrives wrapped by pydantic: unwrap it.
        for error in exc.errors():
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, ConfigError):
                fail(str(cause))
        env_names = {name: f"DEFCHAIN_{name.upper()}" for name in Settings.model_fields}
        fail("; ".join(validation_lines(exc, env_names)))


def check_database() -> None:
    """Exit unless the database is reachable, exists and is at the newest revision."""
    with open_database(require_head=True):
        pass


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to bind.", show_default="DEFCHAIN_HOST or 127.0.0.1"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port.", show_default="DEFCHAIN_PORT or 8000")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    reload: Annotated[
        bool, typer.Option(help="Restart when the code changes (development).")
    ] = False,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log every request with the client's address. Off by default: the public "
            "tip page promises that no IP address is kept (docs/privacy.md)."
        ),
    ] = False,
) -> None:
    """Run the web application."""
    settings = load_settings()
    check_database()
    if settings.demo and not os.environ.get("DEFCHAIN_SECRET_KEY"):
        # Every worker (and every reload) builds its own Settings: share one random demo
        # key through the environment so a form signed by one worker verifies in another.
        os.environ["DEFCHAIN_SECRET_KEY"] = settings.secret_key
    if workers > 1 and settings.sqlite_path() is not None:
        err_console.print(
            "[yellow]Warning:[/yellow] SQLite lets one writer at a time; several workers "
            "queue behind each other. Use PostgreSQL for many users."
        )
    if workers > 1 and reload:
        fail("--reload runs a single process; leave out --workers or --reload.")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        reload_dirs=[str(PACKAGE_DIR)] if reload else None,
        server_header=False,
        access_log=access_log,
        # SIGTERM: stop accepting, let requests in flight commit and answer, then exit. A
        # request still running after this many seconds is cut off unanswered: it was never
        # acknowledged, and an uncommitted transaction leaves nothing behind.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
