"""The intake core: receiving from each source, tip codes, the tipster thread, search."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from defchain.access import Actor, Permission, can, load_for
from defchain.audit import AuditEvent
from defchain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from defchain.intake import ReportInvalid, parse_report, queries, service
from defchain.intake.models import Report
from defchain.intake.queries import InboxFilter
from defchain.notify import Notification
from tests.conftest import receive_public_tip

TIP = {
    "kind": "tip",
    "channel": "web",
    "narrative": "Jayden said he will shoot up the gym Friday",
    "subject": {"nickname": "Jay", "school": "Westfield High"},
    "details": {"weapons": "yes", "weapons_text": "his father's rifle"},
}


def public_tip(db: Any, cast: Any, clock: Any, **overrides: Any) -> Report:
    return receive_public_tip(db, cast, clock, **{**TIP, **overrides})


def test_public_tip_gets_a_code_minute_precision_and_the_intake_agency(
    db: Any, cast: Any, clock: Any
) -> None:
    clock.advance(seconds=37, microseconds=1234)
    report = public_tip(db, cast, clock)
    assert report.tip_code and len(report.tip_code) == 14
    assert report.received_at.second == 0 and report.received_at.microsecond == 0
    assert report.agency_id == cast.agency_a.id
    assert report.reporter is None
    event = db.scalar(select(AuditEvent).where(AuditEvent.tag == "intake:report:received"))
    assert event.actor_label == "public" and event.at.second == 0
    assert "Jayden" not in str(event.changes)  # the audit log holds no narrative


def test_public_tip_needs_a_jurisdiction_that_takes_reports(db: Any, cast: Any, clock: Any) -> None:
    data = parse_report({**TIP, "jurisdiction_id": cast.jurisdiction.id}, now=clock.now())
    with pytest.raises(ValidationFailed) as info:
        service.receive(db, data=data, source=service.PUBLIC, now=clock.now())
    assert info.value.field == "jurisdiction_id"


def test_staff_report_belongs_to_the_staff_agency(db: Any, cast: Any, clock: Any) -> None:
    data = parse_report(
        {**TIP, "channel": "phone", "reporter": {"name": "A Caller"}}, now=clock.now()
    )
    report = service.receive(
        db, data=data, source=service.Source(actor=cast.actor("member_b")), now=clock.now()
    )
    assert (report.agency_id, report.tip_code) == (cast.agency_b.id, None)
    assert report.received_at == clock.now()


def test_roles_without_report_permission_cannot_enter_reports(
    db: Any, cast: Any, clock: Any
) -> None:
    data = parse_report({**TIP, "channel": "phone"}, now=clock.now())
    with pytest.raises(PermissionDenied):
        service.receive(
            db, data=data, source=service.Source(actor=cast.actor("oversight")), now=clock.now()
        )


def test_denials_are_cji_and_take_their_subject_from_the_purchaser(
    db: Any, cast: Any, clock: Any
) -> None:
    data = parse_report(
        {
            "kind": "nics_denial",
            "channel": "staff",
            "details": {
                "denied_at": "2026-01-04T15:00:00Z",
                "transaction_number": "NTN-12345",
                "denial_category": "protection_order",
                "purchaser": {"name": "JAYDEN MORALES", "address": "12 Elm St"},
                "dealer": {"name": "Fictional Arms LLC"},
            },
        },
        now=clock.now(),
    )
    report = service.receive(
        db, data=data, source=service.Source(actor=cast.actor("analyst_a")), now=clock.now()
    )
    assert report.labels == ["cji"]
    assert report.subject["name"] == "JAYDEN MORALES"
    analyst = cast.actor("analyst_a")
    assert not can(analyst, Permission.INTAKE_REPORT_READ, report)  # no CJI clearance
    cleared = Actor(**{**analyst.__dict__, "clearances": frozenset({"cji"})})
    assert can(cleared, Permission.INTAKE_REPORT_READ, report)


def test_report_scope_load_for_and_visible_agree(db: Any, cast: Any, clock: Any) -> None:
    report = public_tip(db, cast, clock)
    assert (
        load_for(db, cast.actor("analyst_a"), "report", report.id, Permission.INTAKE_REPORT_READ)
        is report
    )
    with pytest.raises(NotFound):
        load_for(db, cast.actor("member_b"), "report", report.id, Permission.INTAKE_REPORT_READ)
    with pytest.raises(PermissionDenied):
        load_for(db, cast.actor("oversight"), "report", report.id, Permission.INTAKE_REPORT_READ)
    for name in ("analyst_a", "lead_a", "member_b", "user_c", "admin"):
        actor = cast.actor(name)
        listed = {r.id for r in queries.inbox(db, actor, InboxFilter())[0]}
        assert (report.id in listed) == can(actor, Permission.INTAKE_REPORT_READ, report), name


def test_passphrase_is_chosen_once_and_opens_the_followup(db: Any, cast: Any, clock: Any) -> None:
    report = public_tip(db, cast, clock)
    service.set_passphrase(db, report=report, passphrase="blue heron 1987", now=clock.now())
    with pytest.raises(Conflict):
        service.set_passphrase(db, report=report, passphrase="another one 2", now=clock.now())
    typed = report.tip_code.lower().replace("-", " ")
    assert (
        service.open_followup(
            db, tip_code=typed, passphrase="blue heron 1987", now=clock.now()
        ).report
        is report
    )


def test_five_wrong_passphrases_lock_the_tip_code(db: Any, cast: Any, clock: Any) -> None:
    report = public_tip(db, cast, clock)
    service.set_passphrase(db, report=report, passphrase="blue heron 1987", now=clock.now())
    for _ in range(5):
        assert (
            service.open_followup(
                db, tip_code=report.tip_code, passphrase="wrong guess", now=clock.now()
            ).report
            is None
        )
    locked = service.open_followup(
        db, tip_code=report.tip_code, passphrase="blue heron 1987", now=clock.now()
    )
    assert locked.report is None and "15 minutes" in locked.message
    clock.advance(minutes=15, seconds=1)
    assert (
        service.open_followup(
            db, tip_code=report.tip_code, passphrase="blue heron 1987", now=clock.now()
        ).report
        is report
    )


def test_tipster_reply_notifies_the_owner_and_staff_reply_is_threaded(
    db: Any, cast: Any, clock: Any
) -> None:
    report = public_tip(db, cast, clock)
    service.take_ownership(db, actor=cast.actor("lead_a"), report=report, now=clock.now())
    service.staff_message(
        db, actor=cast.actor("lead_a"), report=report, body="Thank you. Which gym?", now=clock.now()
    )
    service.tipster_message(db, report=report, body="The east gym", now=clock.now())
    assert [m.author for m in report.messages] == ["staff", "tipster"]
    notes = db.scalars(select(Notification)).all()
    assert [(n.user_id, n.link) for n in notes] == [(cast.lead_a.id, f"/reports/{report.id}")]


def test_without_an_owner_the_agency_analysts_are_notified(db: Any, cast: Any, clock: Any) -> None:
    report = public_tip(db, cast, clock)
    service.tipster_message(db, report=report, body="One more thing", now=clock.now())
    assert [n.user_id for n in db.scalars(select(Notification))] == [cast.analyst_a.id]


def test_empty_message_is_refused(db: Any, cast: Any, clock: Any) -> None:
    report = public_tip(db, cast, clock)
    with pytest.raises(ValidationFailed) as info:
        service.tipster_message(db, report=report, body="   ", now=clock.now())
    assert info.value.field == "message"


def test_full_text_search_finds_nicknames_by_prefix_and_words(
    db: Any, cast: Any, clock: Any
) -> None:
    report = public_tip(db, cast, clock)
    other = public_tip(db, cast, clock, narrative="Loud party on Elm Street", subject={})
    admin = cast.actor("admin")
    for q, expected in (
        ("Jay", {report.id}),
        ("westfield gym", {report.id}),
        ("elm", {other.id}),
        ('" OR 1=1 --', set()),
    ):
        found = {r.id for r in queries.inbox(db, admin, InboxFilter(q=q))[0]}
        assert found == expected, q


def test_future_dates_and_unknown_kinds_name_their_fields(clock: Any) -> None:
    with pytest.raises(ReportInvalid) as info:
        parse_report(
            {
                "kind": "direct_threat",
                "channel": "staff",
                "details": {
                    "recipient": "Principal",
                    "medium": "email",
                    "threat_text": "you will pay",
                    "received_at": (clock.now() + timedelta(days=2)).isoformat(),
                },
            },
            now=clock.now(),
        )
    assert info.value.errors == {"details.received_at": "must not be in the future"}
    with pytest.raises(ReportInvalid) as info:
        parse_report({"kind": "rumor", "channel": "web"}, now=clock.now())
    assert set(info.value.errors) == {"kind"}


def test_integration_token_and_idempotent_external_id(db: Any, cast: Any, clock: Any) -> None:
    integration, token = service.create_integration(
        db,
        actor=cast.actor("admin"),
        name="County tip line",
        agency_id=cast.agency_b.id,
        now=clock.now(),
    )
    assert service.integration_for_token(db, token) is integration
    assert service.integration_for_token(db, token + "x") is None
    source = service.Source(integration=integration)
    data = parse_report({**TIP, "channel": "api", "external_id": "T-1"}, now=clock.now())
    first = service.receive(db, data=data, source=source, now=clock.now())
    again = service.receive(db, data=data, source=source, now=clock.now())
    assert first is again and first.agency_id == cast.agency_b.id
