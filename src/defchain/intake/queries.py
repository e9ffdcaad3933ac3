"""Read models: the inbox with filters and full-text search, and a report's timeline."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from defchain.access import Actor, Agency, Permission, visible
from defchain.audit import AuditEvent
from defchain.intake.models import Report

P = Permission
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows; every field optional."""

    kind: str | None = None
    channel: str | None = None
    agency_id: int | None = None
    status: str | None = None
    q: str | None = None


def _search(query: Select[Report], session: Session, q: str) -> Select[Report]:
    words = _WORD.findall(q)[:12]
    if not words:
        return query
    if session.get_bind().dialect.name == "postgresql":
        tsquery = func.plainto_tsquery("english", " ".join(words))
        return query.where(func.to_tsvector("english", Report.search_text).bool_op("@@")(tsquery))
    # SQLite FTS5: each word quoted (no operator injection), all words required,
    # prefix match on the last one so "Jay" finds "Jayden".
    terms = [f'"{w}"' for w in words[:-1]] + [f'"{words[-1]}"*']
    matches = text("SELECT rowid FROM reports_fts WHERE reports_fts MATCH :fts").bindparams(
        fts=" ".join(terms)
    )
    return query.where(Report.id.in_(matches))


def inbox(
    session: Session, actor: Actor, filters: InboxFilter, *, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Report], int]:
    """Reports the actor may see, newest first, and how many match in all."""
    query = select(Report).where(visible(actor, P.INTAKE_REPORT_READ))
    if filters.kind:
        query = query.where(Report.kind == filters.kind)
    if filters.channel:
        query = query.where(Report.channel == filters.channel)
    if filters.agency_id:
        query = query.where(Report.agency_id == filters.agency_id)
    if filters.status:
        query = query.where(Report.status == filters.status)
    if filters.q:
        query = _search(query, session, filters.q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Report.received_at.desc(), Report.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, int(total)


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a report's history."""

    at: datetime
    what: str
    who: str


def timeline(session: Session, report: Report) -> list[TimelineEntry]:
    """Everything that happened to a report, oldest first (from the audit log)."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_type == "report", AuditEvent.subject_id == str(report.id))
        .order_by(AuditEvent.seq)
    ).all()
    return [TimelineEntry(at=e.at, what=e.tag, who=e.actor_label) for e in events]


def inbox_agencies(session: Session, actor: Actor) -> Sequence[Agency]:
    """The agencies owning at least one report the actor may see (the inbox filter)."""
    owning = select(Report.agency_id).where(visible(actor, P.INTAKE_REPORT_READ)).distinct()
    return session.scalars(select(Agency).where(Agency.id.in_(owning)).order_by(Agency.name)).all()
