"""care-plan reviews as chain links: back-fill the open link of every active item

Since this revision each due review of a chronic case's care-plan item is a ledger link
(``care:ID/reviewed``, ref the review's due time, owned by the case's lead). Items made
before it get their open link here, so a review they already missed escalates too.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 14:15:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from defchain.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_items = sa.table(
    "case_care_items",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.Integer),
    sa.column("next_review_at", UTCDateTime()),
    sa.column("active", sa.Boolean),
)
_cases = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("chronic", sa.Boolean),
    sa.column("agency_id", sa.Integer),
    sa.column("team_id", sa.Integer),
    sa.column("lead_user_id", sa.Integer),
)
_links = sa.table(
    "chain_links",
    sa.column("subject_type", sa.String),
    sa.column("subject_id", sa.Integer),
    sa.column("link", sa.String),
    sa.column("ref", sa.String),
    sa.column("agency_id", sa.Integer),
    sa.column("team_id", sa.Integer),
    sa.column("owner_user_id", sa.Integer),
    sa.column("pace", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("due_at", UTCDateTime()),
    sa.column("done_at", UTCDateTime()),
    sa.column("done_by", sa.String),
    sa.column("note", sa.String),
)


def backfill(connection: sa.Connection, now: datetime) -> int:
    """Open the review link of every active item of a chronic case that has no open
    care link; returns how many were opened."""
    open_link = _links.alias("open_link")
    has_open = sa.select(sa.literal(1)).where(
        open_link.c.subject_type == "care",
        open_link.c.subject_id == _items.c.id,
        open_link.c.done_at.is_(None),
    )
    rows = connection.execute(
        sa.select(
            _items.c.id,
            _items.c.next_review_at,
            _cases.c.agency_id,
            _cases.c.team_id,
            _cases.c.lead_user_id,
        )
        .join(_cases, _cases.c.id == _items.c.case_id)
        .where(_items.c.active.is_(True), _cases.c.chronic.is_(True), ~sa.exists(has_open))
    ).all()
    for item_id, due, agency_id, team_id, lead_id in rows:
        connection.execute(
            _links.insert().values(
                subject_type="care",
                subject_id=item_id,
                link="reviewed",
                ref=due.isoformat(),
                agency_id=agency_id,
                team_id=team_id,
                owner_user_id=lead_id,
                pace="",
                created_at=now,
                due_at=due,
                done_by="",
                note="",
            )
        )
    return len(rows)


def upgrade() -> None:
    backfill(op.get_bind(), datetime.now(UTC))


def downgrade() -> None:
    op.execute("DELETE FROM chain_links WHERE subject_type = 'care' AND done_at IS NULL")
