"""The tripwire: a new report linked to the subject of a closed or monitored case
re-opens it (or flags it) in the transaction of the link, tells the lead, joins the
case once, and triage sees the re-opened case at once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, CaseReport, CaseStatus, tripwire
from defchain.cases.models import CaseChange, CaseSettings
from defchain.clock import FrozenClock
from defchain.intake import Report
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from defchain.notify import Notification
from defchain.people import Person, ReportLink
from defchain.triage import service as triage
from defchain.triage.rules import Tri
from tests.conftest import Cast, receive_public_tip

NARRATIVE = "He said he would hurt people at the mall next week."


def person(db: Session, clock: FrozenClock, name: str = "Robin Sample") -> Person:
    row = Person(display_name=name, created_at=clock.now())
    db.add(row)
    db.flush()
    return row


def tip(db: Session, cast: Cast, clock: FrozenClock, **fields: Any) -> Report:
    fields.setdefault("narrative", NARRATIVE)
    fields.setdefault("subject", {"name": "Robin Sample"})
    report = receive_public_tip(db, cast, clock, **fields)
    triage.process_pending(db, now=clock.now(), link=False)
    return report


def link(db: Session, clock: FrozenClock, report: Report, who: Person) -> ReportLink:
    row = ReportLink(
        report_id=report.id, person_id=who.id, decided_by="person", created_at=clock.now()
    )
    db.add(row)
    db.flush()
    return row


def link_and_follow(db: Session, clock: FrozenClock, report: Report, who: Person) -> None:
    """What the pipeline and the review page do: link, then what follows the link."""
    link(db, clock, report, who)
    triage.after_person_linked(db, report=report, now=clock.now())


def dormant_case(
    db: Session, cast: Cast, clock: FrozenClock, who: Person, status: str = "closed"
) -> Case:
    """Agency A's case on team T about ``who``, led by lead_a, put to ``status`` directly
    (the closure gate has tests of its own)."""
    first = tip(db, cast, clock)
    link(db, clock, first, who)
    case = cases.open_case(
        db, cast.actor("lead_a"), title="An earlier matter", team_id=cast.team.id,
        report_ids=[first.id], now=clock.now(),
    )  # fmt: skip
    case.status = status
    case.closed_at = clock.now() if status == CaseStatus.CLOSED else None
    db.flush()
    clock.advance(days=40)
    return case


def on_case(db: Session, case: Case) -> list[int]:
    query = select(CaseReport.report_id).where(CaseReport.case_id == case.id)
    return sorted(db.scalars(query.order_by(CaseReport.report_id)))


def notified(db: Session, user_id: int, tag: str) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id, Notification.tag == tag)
    return list(db.scalars(query.order_by(Notification.id)))


def changes(db: Session, case: Case) -> list[CaseChange]:
    query = select(CaseChange).where(CaseChange.case_id == case.id).order_by(CaseChange.id)
    return list(db.scalars(query))


def flag_mode(db: Session, cast: Cast, clock: FrozenClock) -> None:
    db.add(
        CaseSettings(jurisdiction_id=cast.jurisdiction.id, tripwire="flag", updated_at=clock.now())
    )
    db.flush()


# --- re-opening ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["closed", "monitoring"])
def test_a_new_report_about_the_subject_reopens_a_dormant_case_and_tells_the_lead(
    db: Session, cast: Cast, clock: FrozenClock, status: str
) -> None:
    robin = person(db, clock)
    case = dormant_case(db, cast, clock, robin, status)
    before = on_case(db, case)
    report = tip(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    assert (case.status, case.cycle, case.closed_at) == ("open", 2, None)
    assert on_case(db, case) == sorted([*before, report.id])
    [change] = changes(db, case)
    assert (change.kind, change.old, change.new) == ("status", status, "open")
    assert change.user_id is None and change.report_id == report.id
    assert change.reason == f"New report #{report.id} about a subject"
    [told] = notified(db, cast.lead_a.id, "cases:case:reopened")
    assert told.link == f"/cases/{case.id}" and told.emailed_at is None  # queued
    events = db.execute(
        select(AuditEvent.actor_label, AuditEvent.tag).where(
            AuditEvent.subject_type == "case", AuditEvent.subject_id == str(case.id)
        )
    )
    by_tripwire = {tag for label, tag in events if label == "tripwire"}
    assert by_tripwire == {"cases:case:reopened", "cases:report:added"}


def test_the_reopening_is_part_of_the_links_transaction(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    case = dormant_case(db, cast, clock, robin)
    report = tip(db, cast, clock)
    savepoint = db.begin_nested()
    link_and_follow(db, clock, report, robin)
    assert case.status == "open" and report.id in on_case(db, case)
    savepoint.rollback()  # the link fails to commit: the re-opening goes with it
    db.expire_all()
    assert (case.status, case.cycle) == ("closed", 1)
    assert report.id not in on_case(db, case)
    assert db.scalar(select(ReportLink.id).where(ReportLink.report_id == report.id)) is None
    assert changes(db, case) == []
    assert notified(db, cast.lead_a.id, "cases:case:reopened") == []


def test_flag_mode_leaves_the_case_closed_and_flags_it_for_the_lead(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    flag_mode(db, cast, clock)
    robin = person(db, clock)
    case = dormant_case(db, cast, clock, robin)
    report = tip(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    assert (case.status, case.cycle) == ("closed", 1)
    assert case.flagged_at == clock.now()
    assert report.id in on_case(db, case)
    [change] = changes(db, case)
    assert (change.kind, change.report_id) == ("flag", report.id)
    [told] = notified(db, cast.lead_a.id, "cases:case:flagged")
    assert told.link == f"/cases/{case.id}"
    assert notified(db, cast.lead_a.id, "cases:case:reopened") == []


def test_the_same_link_followed_twice_changes_nothing_more(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    case = dormant_case(db, cast, clock, robin)
    report = tip(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    triage.after_person_linked(db, report=report, now=clock.now())
    assert case.cycle == 2
    assert on_case(db, case).count(report.id) == 1
    assert len(changes(db, case)) == 1
    assert len(notified(db, cast.lead_a.id, "cases:case:reopened")) == 1
    assert notified(db, cast.lead_a.id, "cases:case:new_report") == []


def test_a_second_report_on_the_reopened_case_only_joins_it(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    case = dormant_case(db, cast, clock, robin)
    first, second = tip(db, cast, clock), tip(db, cast, clock)
    link_and_follow(db, clock, first, robin)
    link_and_follow(db, clock, second, robin)
    assert (case.status, case.cycle) == ("open", 2)
    assert {first.id, second.id} <= set(on_case(db, case))
    assert len(changes(db, case)) == 1  # one re-opening
    [told] = notified(db, cast.lead_a.id, "cases:case:new_report")
    assert told.body == f"New report #{second.id} about a subject"


def test_a_case_about_a_person_merged_into_the_linked_one_reopens(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    earlier, robin = person(db, clock, "R. Sample"), person(db, clock)
    case = dormant_case(db, cast, clock, earlier)
    earlier.merged_into_id = robin.id
    db.flush()
    report = tip(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    assert (case.status, case.cycle) == ("open", 2)


def test_a_report_already_on_another_case_stays_there(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    case = dormant_case(db, cast, clock, robin)
    report = tip(db, cast, clock)
    other = cases.open_case(
        db, cast.actor("analyst_a"), title="Opened before linking", report_ids=[report.id],
        now=clock.now(),
    )  # fmt: skip
    link_and_follow(db, clock, report, robin)
    assert case.status == "open"  # still new information about the subject
    assert report.id in on_case(db, other) and report.id not in on_case(db, case)


def test_a_report_about_someone_without_a_case_changes_no_case(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin, someone = person(db, clock), person(db, clock, "Someone Else")
    case = dormant_case(db, cast, clock, robin)
    report = tip(db, cast, clock, subject={"name": "Someone Else"})
    link_and_follow(db, clock, report, someone)
    assert (case.status, case.cycle) == ("closed", 1)
    assert db.scalar(select(func.count()).select_from(CaseChange)) == 0


# --- what triage learns -------------------------------------------------------------------


def test_has_open_case_says_yes_only_for_a_case_not_closed(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin, nobody = person(db, clock), person(db, clock, "Nobody")
    case = dormant_case(db, cast, clock, robin, "monitoring")
    assert tripwire.person_facts(db, robin.id, clock.now()) == {"has_open_case": Tri.YES}
    case.status = "closed"
    db.flush()
    assert tripwire.person_facts(db, robin.id, clock.now()) == {"has_open_case": Tri.NO}
    assert tripwire.person_facts(db, nobody.id, clock.now()) == {"has_open_case": Tri.NO}


def denial(db: Session, cast: Cast, clock: FrozenClock) -> Report:
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    payload = {
        "kind": "nics_denial",
        "channel": "api",
        "jurisdiction_id": cast.jurisdiction.id,
        "details": {
            "denied_at": "2026-01-04T15:30:00Z",
            "transaction_number": "NTN-2026-000123",
            "denial_category": "protection_order",
            "purchaser": {"name": "Robin Sample", "date_of_birth": "1990-02-03"},
            "dealer": {"name": "Example Sporting Goods"},
            "agencies_notified": ["ATF field office"],
        },
    }
    data = parse_report(payload, now=clock.now())
    report = intake_service.receive(db, data=data, source=intake_service.PUBLIC, now=clock.now())
    triage.process_pending(db, now=clock.now(), link=False)
    return report


@pytest.mark.parametrize(("mode", "rule_fires"), [("reopen", True), ("flag", False)])
def test_triage_sees_the_reopened_case_when_it_looks_again(
    db: Session, cast: Cast, clock: FrozenClock, mode: str, rule_fires: bool
) -> None:
    if mode == "flag":
        flag_mode(db, cast, clock)
    robin = person(db, clock)
    dormant_case(db, cast, clock, robin)
    report = denial(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    facts = triage.person_facts(db, report, clock.now())
    assert facts is not None
    assert facts.has_open_case is (Tri.YES if rule_fires else Tri.NO)
    suggestion = triage.latest_suggestion(db, report.id)
    assert suggestion is not None
    fired = {entry["rule"] for entry in suggestion.fired}
    assert ("P2-FIREARM-ATTEMPT-OPEN-CASE" in fired) is rule_fires
    if rule_fires:
        assert report.priority == "P2"
