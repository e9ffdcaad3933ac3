"""The banned-person watch: a person is on it while a prohibition recorded here holds
(an ERPO, a domestic-violence or other prohibiting order, or a mark by an agency with
the authority to make it).

Triage hears it as the person fact ``on_watch`` (rule ``P2-WATCH``: any report about
a person on the watch is at least P2), and a denial, purchase attempt or tip linked to
a person on the watch alerts the leads of the person's cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, notify
from defchain.access import Actor, Agency, Permission, require
from defchain.cases import queries as case_queries
from defchain.cases import tripwire
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.firearms.models import Prohibition
from defchain.firearms.rules import (
    MARKING_AGENCY_KINDS,
    MAX_NOTE,
    WATCH_ALERT_KINDS,
    ProhibitionKind,
    prohibition_active,
)
from defchain.intake import Report
from defchain.people import Person, ReportLink
from defchain.triage import service as triage
from defchain.triage.rules import Tri

P = Permission
SUBJECT = "prohibition"


def _audit(
    session: Session,
    actor: Actor,
    tag: str,
    row: Prohibition,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit.record_by(
        session,
        actor,
        tag=tag,
        subject_type=SUBJECT,
        subject_id=row.id,
        changes=changes,
        at=now,
    )


def add_prohibition(
    session: Session,
    actor: Actor,
    *,
    person_id: int,
    kind: ProhibitionKind | str,
    source: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    now: datetime,
    order_id: int | None = None,
) -> Prohibition:
    """Record a prohibition; the person is on the watch while it holds. A mark by an
    agency (``agency_marked``) needs an actor from an agency with that authority."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    try:
        chosen = ProhibitionKind(kind)
    except ValueError:
        raise ValidationFailed(f"kind: no prohibition kind {kind!r}", field="kind") from None
    if session.get(Person, person_id) is None:
        raise ValidationFailed(f"person_id: no person with id {person_id}", field="person_id")
    text = (source or "").strip()
    if not text or len(text) > MAX_NOTE:
        raise ValidationFailed(
            f"source: name the order or record (1 to {MAX_NOTE} characters)", field="source"
        )
    if ends_at is not None and ends_at <= starts_at:
        raise ValidationFailed("ends_at: must be after starts_at", field="ends_at")
    if chosen is ProhibitionKind.AGENCY_MARKED:
        agency = session.get(Agency, actor.agency_id) if actor.agency_id else None
        if agency is None or agency.kind not in MARKING_AGENCY_KINDS:
            raise ValidationFailed(
                "kind: only law enforcement or a prosecutor may mark a person prohibited",
                field="kind",
            )
    row = Prohibition(
        person_id=person_id,
        kind=chosen.value,
        source=text,
        starts_at=starts_at,
        ends_at=ends_at,
        recorded_by_user_id=actor.audit_id,
        recorded_at=now,
        order_id=order_id,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        "firearms:prohibition:added",
        row,
        {
            "person_id": [None, person_id],
            "kind": [None, chosen.value],
            "starts_at": [None, starts_at.isoformat()],
            "ends_at": [None, ends_at.isoformat() if ends_at else None],
        },
        now,
    )
    return row


def lift_prohibition(
    session: Session, actor: Actor, prohibition: Prohibition, *, reason: str, now: datetime
) -> Prohibition:
    """Lift a prohibition before its end (an order vacated, a mark withdrawn)."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    if prohibition.lifted_at is not None:
        raise Conflict("lifted_at: the prohibition was already lifted")
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("reason: say why it is lifted", field="reason")
    prohibition.lifted_at = now
    session.flush()
    _audit(
        session,
        actor,
        "firearms:prohibition:lifted",
        prohibition,
        {
            "lifted_at": [None, now.isoformat()],
            "reason": [None, text[:MAX_NOTE]],
        },
        now,
    )
    return prohibition


def get_prohibition(session: Session, prohibition_id: int) -> Prohibition:
    """One prohibition by id."""
    row = session.get(Prohibition, prohibition_id)
    if row is None:
        raise NotFound("No such prohibition.")
    return row


def prohibitions_of(session: Session, person_id: int) -> list[Prohibition]:
    """The prohibitions recorded about the person or anyone merged into them."""
    ids = case_queries.absorbed_ids(session, person_id)
    query = select(Prohibition).where(Prohibition.person_id.in_(ids))
    return list(session.scalars(query.order_by(Prohibition.starts_at, Prohibition.id)))


def on_watch(session: Session, person_id: int, now: datetime) -> bool:
    """Whether the person (or anyone merged into them) is on the watch at ``now``."""
    return any(
        prohibition_active(
            starts_at=row.starts_at, ends_at=row.ends_at, lifted_at=row.lifted_at, now=now
        )
        for row in prohibitions_of(session, person_id)
    )


def person_facts(session: Session, person_id: int, now: datetime) -> Mapping[str, Any]:
    """For triage: ``on_watch`` YES or NO at ``now``."""
    return {"on_watch": Tri.YES if on_watch(session, person_id, now) else Tri.NO}


def on_report_linked(session: Session, report: Report, link: ReportLink, now: datetime) -> None:
    """Alert the leads of the person's cases when a denial, attempt or tip about a
    person on the watch is linked."""
    if report.kind not in WATCH_ALERT_KINDS or not on_watch(session, link.person_id, now):
        return
    leads = dict.fromkeys(
        case.lead_user_id for case in tripwire.cases_about(session, link.person_id)
    )
    for lead_id in leads:
        notify.notify_user(
            session,
            user_id=lead_id,
            tag="firearms:watch:report",
            subject=f"New report #{report.id} about a person on the banned-person watch",
            body="A denial, purchase attempt or tip was linked to a person under a prohibition.",
            link=f"/reports/{report.id}",
            now=now,
        )


def register() -> None:
    """Tell triage who is on the watch and alert case leads (called at import)."""
    triage.register_person_facts(person_facts)
    triage.register_link_listener(on_report_linked)
