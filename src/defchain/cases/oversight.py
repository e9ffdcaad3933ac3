"""Aggregate figures about cases for the oversight summary: counts only, never a case,
a person or a name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, distinct, func, select
from sqlalchemy.orm import Session

from defchain.cases.models import Case, CaseChange, CaseTask, CheckIn
from defchain.cases.rules import CaseStatus, TaskStatus

# How far back "re-opened" and "flagged" look.
RECENT = timedelta(days=30)


@dataclass(frozen=True)
class CaseCounts:
    """What oversight sees of case work."""

    reopened_by_new_information: int  # by the tripwire, in the last 30 days
    flagged_by_new_information: int  # by the tripwire (flag mode), in the last 30 days
    flagged_now: int  # cases still carrying a tripwire flag
    overdue_tasks: int  # open tasks past their due time
    missed_checkins: int  # scheduled check-ins past their due time


def _tripwire_cases(session: Session, *where: ColumnElement[bool]) -> int:
    """Distinct cases with a tripwire change (no user, a report) matching ``where``."""
    query = select(func.count(distinct(CaseChange.case_id))).where(
        CaseChange.user_id.is_(None), CaseChange.report_id.is_not(None), *where
    )
    return int(session.scalar(query) or 0)


def counts(session: Session, *, now: datetime) -> CaseCounts:
    """The figures as of ``now``."""
    since = now - RECENT
    reopened = _tripwire_cases(
        session,
        CaseChange.kind == "status",
        CaseChange.new == CaseStatus.OPEN.value,
        CaseChange.at >= since,
    )
    flagged = _tripwire_cases(session, CaseChange.kind == "flag", CaseChange.at >= since)
    flagged_now = session.scalar(select(func.count(Case.id)).where(Case.flagged_at.is_not(None)))
    overdue = session.scalar(
        select(func.count(CaseTask.id)).where(
            CaseTask.status == TaskStatus.OPEN.value, CaseTask.due_at < now
        )
    )
    missed = session.scalar(
        select(func.count(CheckIn.id)).where(CheckIn.status == "scheduled", CheckIn.due_at < now)
    )
    return CaseCounts(
        reopened_by_new_information=reopened,
        flagged_by_new_information=flagged,
        flagged_now=int(flagged_now or 0),
        overdue_tasks=int(overdue or 0),
        missed_checkins=int(missed or 0),
    )
