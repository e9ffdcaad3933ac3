"""Shared builders for the firearms tests: persons, denial and attempt reports, links."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import defchain.firearms  # noqa: F401  (registers the listeners and the person fact)
from defchain import cases
from defchain.cases import Case, CaseStatus
from defchain.clock import FrozenClock
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from defchain.notify import Notification
from defchain.people import Person, ReportLink
from defchain.triage import service as triage
from tests.conftest import Cast


def person(db: Session, clock: FrozenClock, name: str = "Robin Sample") -> Person:
    row = Person(display_name=name, created_at=clock.now())
    db.add(row)
    db.flush()
    return row


def receive(db: Session, cast: Cast, clock: FrozenClock, payload: dict[str, Any]) -> Report:
    """Receive a report for agency A (the jurisdiction's intake agency) and triage it."""
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    payload = {"channel": "api", "jurisdiction_id": cast.jurisdiction.id, **payload}
    data = parse_report(payload, now=clock.now())
    report = intake_service.receive(db, data=data, source=intake_service.PUBLIC, now=clock.now())
    triage.process_pending(db, now=clock.now(), link=False)
    return report


def denial(db: Session, cast: Cast, clock: FrozenClock, number: str = "NTN-2026-000123") -> Report:
    return receive(db, cast, clock, {
        "kind": "nics_denial",
        "details": {
            "denied_at": "2026-01-04T15:30:00Z",
            "transaction_number": number,
            "denial_category": "protection_order",
            "purchaser": {"name": "Robin Sample", "date_of_birth": "1990-02-03"},
            "dealer": {"name": "Example Sporting Goods"},
            "agencies_notified": ["ATF field office", "State Police"],
        },
    })  # fmt: skip


def attempt(db: Session, cast: Cast, clock: FrozenClock) -> Report:
    return receive(db, cast, clock, {
        "kind": "purchase_attempt",
        "details": {
            "attempted_at": "2026-01-04T12:00:00Z",
            "dealer": {"name": "Example Sporting Goods"},
            "purchaser": {"name": "Robin Sample"},
            "sought": "A semi-automatic pistol",
            "behavior": "His companion chose the gun and paid in cash.",
            "straw_indicators": ["companion_chooses", "large_cash_purchase"],
        },
    })  # fmt: skip


def tip(db: Session, cast: Cast, clock: FrozenClock) -> Report:
    return receive(db, cast, clock, {
        "kind": "tip",
        "channel": "web",
        "narrative": "He keeps talking about getting a gun although a judge said he may not.",
        "subject": {"name": "Robin Sample"},
    })  # fmt: skip


def link_and_follow(db: Session, clock: FrozenClock, report: Report, who: Person) -> None:
    """What the pipeline and the review page do: link, then what follows the link."""
    db.add(
        ReportLink(
            report_id=report.id, person_id=who.id, decided_by="person", created_at=clock.now()
        )
    )
    db.flush()
    triage.after_person_linked(db, report=report, now=clock.now())


def case_about(
    db: Session, cast: Cast, clock: FrozenClock, who: Person, status: str = "open"
) -> Case:
    """Agency A's case on team T about ``who``, led by lead_a, put to ``status``."""
    case = cases.open_case(
        db, cast.actor("lead_a"), title="An earlier matter", team_id=cast.team.id,
        person_ids=[who.id], now=clock.now(),
    )  # fmt: skip
    case.status = status
    case.closed_at = clock.now() if status == CaseStatus.CLOSED else None
    db.flush()
    return case


def notified(db: Session, user_id: int, tag: str) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id, Notification.tag == tag)
    return list(db.scalars(query.order_by(Notification.id)))
