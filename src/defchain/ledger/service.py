"""Open, reschedule and complete chain links; list a subject's links; find breaks.

Every function flushes and never commits; the caller audits what it decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from defchain.ledger.models import ChainAlert, ChainLink

# The links every report or case passes, in chain order (later domains add their own).
LINKS: tuple[str, ...] = (
    "received",
    "routed",
    "acknowledged",
    "triaged",
    "linked",
    "assessed",
    "planned",
    "firearm_access",
    "reviewed",
    "closed",
    # firearms: a denial's follow-up (subject "followup")
    "deconflict",
    "prior_reports",
    "decide",
    "outcome",
    # firearms: an ERPO's stages (subject "erpo")
    "petition_drafted",
    "filed",
    "ex_parte",
    "hearing",
    "final_order",
    "served",
    "surrendered",
    "expired",
)

LINK_LABELS: dict[str, str] = {
    "received": "Received",
    "routed": "Routed to its owner",
    "acknowledged": "Acknowledged",
    "triaged": "Triaged by a person",
    "linked": "Linked to a person",
    "assessed": "Assessed",
    "planned": "Management plan",
    "firearm_access": "Firearm access addressed",
    "reviewed": "Reviewed",
    "closed": "Closed (disposition)",
    "deconflict": "Deconflicted with the agencies notified",
    "prior_reports": "Prior reports checked",
    "decide": "Follow-up decided",
    "outcome": "Follow-up outcome recorded",
    "petition_drafted": "ERPO petition drafted",
    "filed": "ERPO petition filed",
    "ex_parte": "ERPO ex parte or temporary order",
    "hearing": "ERPO hearing",
    "final_order": "ERPO final order",
    "served": "ERPO served",
    "surrendered": "Firearms surrendered",
    "expired": "ERPO expired",
}


def find(
    session: Session, *, subject_type: str, subject_id: int, link: str, ref: str = ""
) -> ChainLink | None:
    """The one link of this name (and ``ref``) on the subject, if it exists."""
    return session.scalar(
        select(ChainLink).where(
            ChainLink.subject_type == subject_type,
            ChainLink.subject_id == subject_id,
            ChainLink.link == link,
            ChainLink.ref == ref,
        )
    )


def open_link(
    session: Session,
    *,
    subject_type: str,
    subject_id: int,
    link: str,
    due_at: datetime | None,
    now: datetime,
    ref: str = "",
    agency_id: int | None = None,
    team_id: int | None = None,
    owner_user_id: int | None = None,
    pace: str = "",
) -> ChainLink:
    """Make sure the link exists and, while it is not done, is due at ``due_at``."""
    row = find(session, subject_type=subject_type, subject_id=subject_id, link=link, ref=ref)
    if row is None:
        row = ChainLink(
            subject_type=subject_type,
            subject_id=subject_id,
            link=link,
            ref=ref,
            created_at=now,
        )
        session.add(row)
    if row.done_at is None:
        row.due_at = due_at
        row.agency_id = agency_id if agency_id is not None else row.agency_id
        row.team_id = team_id if team_id is not None else row.team_id
        row.owner_user_id = owner_user_id if owner_user_id is not None else row.owner_user_id
        row.pace = pace or row.pace
    session.flush()
    return row


def complete(
    session: Session,
    *,
    subject_type: str,
    subject_id: int,
    link: str,
    now: datetime,
    by: str,
    user_id: int | None = None,
    ref: str = "",
    note: str = "",
    agency_id: int | None = None,
) -> ChainLink:
    """Mark the link done (creating it done when it was never opened); a link already
    done keeps its first completion."""
    row = find(session, subject_type=subject_type, subject_id=subject_id, link=link, ref=ref)
    if row is None:
        row = ChainLink(
            subject_type=subject_type,
            subject_id=subject_id,
            link=link,
            ref=ref,
            created_at=now,
            agency_id=agency_id,
        )
        session.add(row)
    if row.done_at is None:
        row.done_at = now
        row.done_by = by[:120]
        row.done_by_user_id = user_id
        row.note = note[:500]
    session.flush()
    return row


def complete_open(
    session: Session,
    *,
    subject_type: str,
    subject_id: int,
    now: datetime,
    by: str,
    user_id: int | None,
    note: str,
    links: Iterable[str] | None = None,
) -> list[ChainLink]:
    """Complete every open link of the subject (or those named): closing a report ends
    the links it no longer needs, with the reason as the note."""
    query = select(ChainLink).where(
        ChainLink.subject_type == subject_type,
        ChainLink.subject_id == subject_id,
        ChainLink.done_at.is_(None),
    )
    if links is not None:
        query = query.where(ChainLink.link.in_(list(links)))
    rows = list(session.scalars(query))
    for row in rows:
        row.done_at = now
        row.done_by = by[:120]
        row.done_by_user_id = user_id
        row.note = note[:500]
    session.flush()
    return rows


def links_for(session: Session, *, subject_type: str, subject_id: int) -> list[ChainLink]:
    """The subject's links in chain order (then by creation)."""
    rows = session.scalars(
        select(ChainLink).where(
            ChainLink.subject_type == subject_type, ChainLink.subject_id == subject_id
        )
    ).all()
    order = {name: index for index, name in enumerate(LINKS)}
    return sorted(rows, key=lambda r: (order.get(r.link, len(order)), r.created_at, r.id))


def breaks_query(now: datetime) -> Select[Any]:
    """Every break: a link past its due time and not done. Computed, never stored."""
    return (
        select(ChainLink)
        .where(ChainLink.done_at.is_(None), ChainLink.due_at.is_not(None), ChainLink.due_at < now)
        .order_by(ChainLink.due_at, ChainLink.id)
    )


def is_break(row: ChainLink, now: datetime) -> bool:
    """The same test as ``breaks_query`` for one row already loaded."""
    return row.done_at is None and row.due_at is not None and row.due_at < now


def alerts_sent(session: Session, link_ids: Sequence[int]) -> dict[int, set[int]]:
    """For each link, the escalation steps already sent."""
    sent: dict[int, set[int]] = {link_id: set() for link_id in link_ids}
    if not link_ids:
        return sent
    rows = session.execute(
        select(ChainAlert.link_id, ChainAlert.step).where(ChainAlert.link_id.in_(link_ids))
    )
    for link_id, step in rows:
        sent[link_id].add(step)
    return sent
