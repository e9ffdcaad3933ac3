"""The banned-person watch: prohibitions recorded and lifted (audited), ``on_watch``,
the triage fact (any report about a person on the watch is at least P2) and the alert
to the person's case lead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import firearms
from defchain.audit import AuditEvent
from defchain.clock import FrozenClock
from defchain.errors import Conflict, PermissionDenied, ValidationFailed
from defchain.firearms import ProhibitionKind, watch
from defchain.people import Person
from defchain.triage import service as triage
from defchain.triage.rules import Priority, Tri, rank
from tests.conftest import Cast
from tests.firearms.helpers import case_about, denial, link_and_follow, notified, person, tip


def prohibit(
    db: Session, cast: Cast, clock: FrozenClock, who: Person, days: int | None = 365
) -> firearms.Prohibition:
    return firearms.add_prohibition(
        db, cast.actor("lead_a"), person_id=who.id, kind=ProhibitionKind.DV_ORDER,
        source="Protection order 26-DV-001", starts_at=clock.now(),
        ends_at=clock.now() + timedelta(days=days) if days else None, now=clock.now(),
    )  # fmt: skip


def test_a_prohibition_puts_the_person_on_the_watch_until_it_ends(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    assert not firearms.on_watch(db, robin.id, clock.now())
    prohibit(db, cast, clock, robin, days=30)
    assert firearms.on_watch(db, robin.id, clock.now())
    assert firearms.on_watch(db, robin.id, clock.now() + timedelta(days=29))
    assert not firearms.on_watch(db, robin.id, clock.now() + timedelta(days=30))


def test_lifting_takes_the_person_off_and_both_are_audited(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    row = prohibit(db, cast, clock, robin, days=None)
    clock.advance(days=2)
    with pytest.raises(ValidationFailed, match="reason"):
        firearms.lift_prohibition(db, cast.actor("lead_a"), row, reason="", now=clock.now())
    firearms.lift_prohibition(
        db, cast.actor("lead_a"), row, reason="Order vacated", now=clock.now()
    )
    assert not firearms.on_watch(db, robin.id, clock.now())
    with pytest.raises(Conflict):
        firearms.lift_prohibition(db, cast.actor("lead_a"), row, reason="again", now=clock.now())
    tags = db.scalars(
        select(AuditEvent.tag)
        .where(AuditEvent.subject_type == "prohibition", AuditEvent.subject_id == str(row.id))
        .order_by(AuditEvent.seq)
    ).all()
    assert tags == ["firearms:prohibition:added", "firearms:prohibition:lifted"]


def test_only_an_agency_with_authority_may_mark_a_person_prohibited(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)

    def mark(who: str) -> None:
        firearms.add_prohibition(
            db, cast.actor(who), person_id=robin.id, kind="agency_marked",
            source="Records check", starts_at=clock.now(), now=clock.now(),
        )  # fmt: skip

    with pytest.raises(ValidationFailed, match="kind: only law enforcement"):
        mark("user_c")  # behavioral health
    assert not firearms.on_watch(db, robin.id, clock.now())
    mark("lead_a")  # police
    assert firearms.on_watch(db, robin.id, clock.now())


def test_recording_a_prohibition_needs_the_permission_and_valid_fields(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    with pytest.raises(PermissionDenied):
        firearms.add_prohibition(
            db, cast.actor("auditor"), person_id=robin.id, kind="erpo", source="x",
            starts_at=clock.now(), now=clock.now(),
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="ends_at"):
        firearms.add_prohibition(
            db, cast.actor("lead_a"), person_id=robin.id, kind="erpo", source="x",
            starts_at=clock.now(), ends_at=clock.now(), now=clock.now(),
        )  # fmt: skip
    with pytest.raises(ValidationFailed, match="kind"):
        firearms.add_prohibition(
            db, cast.actor("lead_a"), person_id=robin.id, kind="rumour", source="x",
            starts_at=clock.now(), now=clock.now(),
        )  # fmt: skip


def test_triage_hears_on_watch(db: Session, cast: Cast, clock: FrozenClock) -> None:
    robin = person(db, clock)
    assert watch.person_facts(db, robin.id, clock.now()) == {"on_watch": Tri.NO}
    prohibit(db, cast, clock, robin, days=365)
    assert watch.person_facts(db, robin.id, clock.now()) == {"on_watch": Tri.YES}
    # Triage asks at its own moment: after the order ends the person is off the watch.
    later = clock.now() + timedelta(days=366)
    assert watch.person_facts(db, robin.id, later) == {"on_watch": Tri.NO}


def test_a_tip_about_a_person_on_the_watch_is_at_least_p2(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin, sam = person(db, clock), person(db, clock, "Sam Other")
    prohibit(db, cast, clock, robin)
    watched, other = tip(db, cast, clock), tip(db, cast, clock)
    link_and_follow(db, clock, watched, robin)
    link_and_follow(db, clock, other, sam)
    on = triage.evaluate(db, watched, clock.now())
    off = triage.evaluate(db, other, clock.now())
    assert "P2-WATCH" in {finding.rule_id for finding in on.fired}
    assert on.priority is not None and rank(on.priority) <= rank(Priority.P2)
    assert "P2-WATCH" not in {finding.rule_id for finding in off.fired}


def test_a_denial_about_a_person_on_the_watch_alerts_the_case_lead(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    case_about(db, cast, clock, robin, "open")
    prohibit(db, cast, clock, robin)
    report = denial(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    [alert] = notified(db, cast.lead_a.id, "firearms:watch:report")
    assert alert.link == f"/reports/{report.id}"
    assert "P2-WATCH" in {f.rule_id for f in triage.evaluate(db, report, clock.now()).fired}


def test_no_alert_when_the_person_is_not_on_the_watch(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    case_about(db, cast, clock, robin, "open")
    link_and_follow(db, clock, denial(db, cast, clock), robin)
    assert notified(db, cast.lead_a.id, "firearms:watch:report") == []
