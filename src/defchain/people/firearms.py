"""What is known about a person's access to firearms: a history of findings, the newest
counting. Cases require an answer for each subject before closing; the assessment's
weapons-access item writes one; the firearm workstream adds denials and orders."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Permission, require
from defchain.errors import NotFound, ValidationFailed
from defchain.people.models import FirearmAccess, Person

P = Permission
MAX_DETAIL = 2000
MAX_SOURCE = 200


class AccessStatus(StrEnum):
    """A person's firearm access as far as anyone knows."""

    KNOWN = "known"
    REPORTED = "reported"
    NONE_KNOWN = "none_known"
    UNKNOWN = "unknown"


ACCESS_LABELS: dict[AccessStatus, str] = {
    AccessStatus.KNOWN: "Known access",
    AccessStatus.REPORTED: "Access reported (not confirmed)",
    AccessStatus.NONE_KNOWN: "No access known",
    AccessStatus.UNKNOWN: "Unknown",
}


def record(
    session: Session,
    actor: Actor,
    *,
    person_id: int,
    status: str,
    source: str,
    detail: str = "",
    as_of: datetime | None = None,
    now: datetime,
) -> FirearmAccess:
    """Record a finding about the person's firearm access, with its source."""
    require(actor, P.PEOPLE_PERSON_UPDATE)
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"person_id: no person with id {person_id}", field="person_id")
    try:
        chosen = AccessStatus(status)
    except ValueError:
        raise ValidationFailed(
            "status: choose known, reported, none known or unknown", field="status"
        ) from None
    source = " ".join(source.split())
    if not source:
        raise ValidationFailed("source: say where this comes from", field="source")
    if len(source) > MAX_SOURCE:
        raise ValidationFailed(f"source: at most {MAX_SOURCE} characters", field="source")
    detail = detail.strip()
    if len(detail) > MAX_DETAIL:
        raise ValidationFailed(f"detail: at most {MAX_DETAIL} characters", field="detail")
    if chosen is AccessStatus.KNOWN and not detail:
        raise ValidationFailed("detail: say what is known about the access", field="detail")
    when = as_of or now
    if when > now:
        raise ValidationFailed("as_of: cannot be in the future", field="as_of")
    row = FirearmAccess(
        person_id=person.id,
        status=chosen.value,
        detail=detail,
        source=source,
        as_of=when,
        recorded_by_user_id=actor.audit_id,
        recorded_at=now,
    )
    session.add(row)
    session.flush()
    audit.record_by(
        session,
        actor,
        tag="people:person:firearm_access",
        subject_type="person",
        subject_id=person.id,
        changes={"status": [None, chosen.value], "source": [None, source]},
        at=now,
    )
    return row


def latest(session: Session, person_id: int) -> FirearmAccess | None:
    """The newest finding about the person (by its date, then by when it was recorded)."""
    return session.scalar(
        select(FirearmAccess)
        .where(FirearmAccess.person_id == person_id)
        .order_by(FirearmAccess.as_of.desc(), FirearmAccess.id.desc())
        .limit(1)
    )


def statuses(session: Session, person_ids: Iterable[int]) -> dict[int, str]:
    """Each person's newest status; persons never recorded are absent."""
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(FirearmAccess)
        .where(FirearmAccess.person_id.in_(ids))
        .order_by(FirearmAccess.person_id, FirearmAccess.as_of, FirearmAccess.id)
    )
    return {row.person_id: row.status for row in rows}  # the last one per person wins


def history(session: Session, person_id: int) -> list[FirearmAccess]:
    """Every finding about the person, newest first."""
    return list(
        session.scalars(
            select(FirearmAccess)
            .where(FirearmAccess.person_id == person_id)
            .order_by(FirearmAccess.as_of.desc(), FirearmAccess.id.desc())
        )
    )
