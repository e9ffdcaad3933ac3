"""A jurisdiction's case policy: the review cadence per level of concern and what the
tripwire does with new information about a closed or monitored case. Administrators
set it (``access:jurisdiction:write``); the change is audited, and the next review date
of the jurisdiction's cases that are not closed follows the new cadence at once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit
from defchain.access import Actor, Agency, Jurisdiction, Permission, require
from defchain.cases.models import Case, CaseSettings
from defchain.cases.rules import (
    CaseStatus,
    LevelOfConcern,
    TripwireMode,
    next_review,
    parse_review_days,
    review_days,
)
from defchain.errors import NotFound, ValidationFailed

P = Permission


def review_field(level: str) -> str:
    """The form field of a level's cadence, e.g. ``review_high``."""
    return f"review_{level}"


class CaseSettingsInvalid(ValidationFailed):
    """The form broke a rule; ``errors`` holds every problem by form field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(f"{first}: {errors[first]}", field=first)
        self.errors = dict(errors)


def set_case_settings(
    session: Session,
    actor: Actor,
    *,
    jurisdiction_id: int,
    review_days: Mapping[str, str],
    tripwire: str,
    now: datetime,
) -> CaseSettings:
    """Set the jurisdiction's cadence (``review_days`` as typed, by level: whole days
    from 1 to 365, never longer for a more serious level) and tripwire mode. Every
    problem is reported at once (``CaseSettingsInvalid.errors``, by form field)."""
    require(actor, P.ACCESS_JURISDICTION_WRITE)
    if session.get(Jurisdiction, jurisdiction_id) is None:
        raise NotFound(
            f"jurisdiction_id: no jurisdiction with id {jurisdiction_id}", field="jurisdiction_id"
        )
    values, problems = parse_review_days(review_days)
    errors = {review_field(level): message for level, message in problems.items()}
    try:
        mode = TripwireMode(tripwire)
    except ValueError:
        errors["tripwire"] = "choose re-open the case or flag it"
    if errors:
        raise CaseSettingsInvalid(errors)
    row = session.get(CaseSettings, jurisdiction_id)
    before = {"review_days": dict(row.review_days), "tripwire": row.tripwire} if row else {}
    if row is None:
        row = CaseSettings(jurisdiction_id=jurisdiction_id, review_days={}, updated_at=now)
        session.add(row)
    row.review_days = values
    row.tripwire = mode.value
    row.updated_at = now
    row.updated_by_user_id = actor.audit_id
    session.flush()
    moved = _follow_cadence(session, jurisdiction_id, values)
    changes: dict[str, Any] = audit.diff(before, {"review_days": values, "tripwire": mode.value})
    changes["cases_rescheduled"] = [None, moved]
    audit.record_by(
        session, actor, tag="cases:settings:changed", subject_type="jurisdiction",
        subject_id=jurisdiction_id, changes=changes, at=now,
    )  # fmt: skip
    return row


def _follow_cadence(session: Session, jurisdiction_id: int, values: Mapping[str, int]) -> int:
    """Move the next review of the jurisdiction's assessed cases that are not closed to
    the new cadence; returns how many changed."""
    days: dict[LevelOfConcern, int] = review_days(values)
    agencies = select(Agency.id).where(Agency.jurisdiction_id == jurisdiction_id)
    rows = session.scalars(
        select(Case).where(
            Case.agency_id.in_(agencies),
            Case.status != CaseStatus.CLOSED.value,
            Case.level_of_concern.is_not(None),
            Case.last_assessed_at.is_not(None),
        )
    )
    moved = 0
    for case in rows:
        assessed = case.last_assessed_at
        due = next_review(case.level_of_concern, assessed, days) if assessed else None
        if due is not None and due != case.next_review_at:
            case.next_review_at = due
            moved += 1
    session.flush()
    return moved
