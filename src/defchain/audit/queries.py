"""Read models over the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain.audit.models import AuditEvent


def recent_events(
    session: Session, *, limit: int = 100, offset: int = 0, tag_prefix: str | None = None
) -> Sequence[AuditEvent]:
    """Newest first, optionally filtered by a tag prefix such as ``access:signin``."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)
    if tag_prefix:
        query = query.where(AuditEvent.tag.startswith(tag_prefix))
    return session.scalars(query).all()


def count_events(session: Session, *, tag_prefix: str | None = None) -> int:
    """How many events match."""
    query = select(func.count(AuditEvent.id))
    if tag_prefix:
        query = query.where(AuditEvent.tag.startswith(tag_prefix))
    return int(session.scalar(query) or 0)
