"""Run Alembic from inside the package, on a URL or an open connection."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

# Tables the migrations create that have no ORM model: SQLite's FTS5 index of reports
# (a virtual table and its shadow tables). Autogenerate and the drift test ignore them.
UNMODELLED_TABLE_PREFIXES = ("reports_fts",)
# PostgreSQL's full-text expression index, which the ORM models do not describe.
UNMODELLED_INDEXES = frozenset({"ix_reports_search"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: skip the unmodelled full-text tables and index."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(UNMODELLED_TABLE_PREFIXES)
    if type_ == "index":
        return name not in UNMODELLED_INDEXES
    return True


def alembic_config(url: str = "", connection: Connection | None = None) -> Config:
    """A Config pointing at ``defchain/migrations``."""
    config = Config()
    config.set_main_option("script_location", "defchain:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (creating it when empty)."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection=connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in the history."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
