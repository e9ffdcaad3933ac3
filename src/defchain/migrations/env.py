"""Alembic environment: one linear history for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

import defchain.access
import defchain.assessment
import defchain.audit
import defchain.cases
import defchain.firearms
import defchain.intake
import defchain.ledger
import defchain.notify
import defchain.people
import defchain.reference
import defchain.triage  # noqa: F401  (registers models on Base.metadata)
from defchain.db import Base, make_engine
from defchain.migrate import include_object

target_metadata = Base.metadata
config = context.config


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render the project's UTCDateTime as a plain sa.DateTime in new migrations."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
