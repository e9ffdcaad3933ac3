"""The lifecycle service on the cast: status moves, the gated close, re-opening, the
lead, sign-offs, monitoring check-ins, and the cadence a jurisdiction sets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, lifecycle, queries, rules
from defchain.cases.models import CaseChange, CaseSignOff, CheckIn
from defchain.cases.settings import CaseSettingsInvalid, set_case_settings
from defchain.clock import FrozenClock
from defchain.errors import Conflict, PermissionDenied, ValidationFailed
from defchain.ledger import ChainLink
from defchain.notify import Notification
from defchain.people import Person, firearms
from tests.conftest import Cast, receive_public_tip


def events(db: Session, tag: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def subject(db: Session, clock: FrozenClock) -> Person:
    row = Person(display_name="Jayden", created_at=clock.now())
    db.add(row)
    db.flush()
    return row


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock, subject: Person) -> Case:
    """Agency A's case on team T about Jayden, from a public tip, led by lead_a."""
    report = receive_public_tip(db, cast, clock, narrative="He said he would bring a gun")
    return cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        person_ids=[subject.id], report_ids=[report.id], now=clock.now(),
    )  # fmt: skip


def assess(db: Session, cast: Cast, clock: FrozenClock, case: Case, level: str) -> None:
    cases.record_concern(
        db, cast.actor("lead_a"), case, level=level, stage=None, assessed_at=clock.now()
    )


def make_closable(db: Session, cast: Cast, clock: FrozenClock, case: Case) -> None:
    """Low concern now, firearm access answered, the plan's outcome recorded."""
    lead = cast.actor("lead_a")
    assess(db, cast, clock, case, "low")
    for person_id in queries.subject_ids_of(db, case):
        firearms.record(
            db, lead, person_id=person_id, status="none_known", source="Parent interview",
            now=clock.now(),
        )  # fmt: skip
    lifecycle.record_plan_outcome(
        db, lead, case, outcome="Counseling done; no concern left.", now=clock.now()
    )


# --- status ------------------------------------------------------------------------------------


def test_a_move_is_recorded_on_the_timeline_and_audited(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    lifecycle.move(
        db, cast.actor("member_b"), case, to="managing", reason="Plan agreed", now=clock.now()
    )
    assert case.status == "managing"
    (change,) = lifecycle.changes_of(db, case)
    assert (change.kind, change.old, change.new) == ("status", "open", "managing")
    assert (change.reason, change.user_id) == ("Plan agreed", cast.member_b.id)
    (event,) = events(db, "cases:case:status_changed")
    assert event.changes["status"] == ["open", "managing"]
    assert event.subject_id == str(case.id) and event.actor_id == cast.member_b.id


def test_a_move_the_table_does_not_allow_is_refused_naming_the_field(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        lifecycle.move(db, cast.actor("lead_a"), case, to="monitoring", reason="", now=clock.now())
    assert refused.value.field == "status" and "can become" in refused.value.message
    assert case.status == "open" and lifecycle.changes_of(db, case) == []


def test_moving_needs_the_right_to_change_the_case(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    for name in ("user_c", "oversight"):
        with pytest.raises(PermissionDenied):
            lifecycle.move(db, cast.actor(name), case, to="managing", reason="", now=clock.now())
    assert case.status == "open"


# --- closing -------------------------------------------------------------------------------------


def test_close_refused_lists_every_unmet_condition_and_writes_nothing(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    changes, audits = count(db, CaseChange), count(db, AuditEvent)
    with pytest.raises(lifecycle.ClosureRefused) as refused:
        lifecycle.close(db, cast.actor("lead_a"), case, reason="All done here", now=clock.now())
    assert [u.condition for u in refused.value.unmet] == [
        "current low assessment",
        "firearm access",
        "plan outcome",
    ]
    assert refused.value.field == "close"
    assert "firearm access" in refused.value.message and "plan outcome" in refused.value.message
    assert case.status == "open" and case.closed_at is None
    assert (count(db, CaseChange), count(db, AuditEvent)) == (changes, audits)


def test_an_open_task_blocks_closing(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    make_closable(db, cast, clock, case)
    cases.add_task(
        db, cast.actor("lead_a"), case, kind="interview", title="Talk to the coach",
        owner_user_id=cast.lead_a.id, due_at=clock.now() + timedelta(days=2), now=clock.now(),
    )  # fmt: skip
    assert [u.condition for u in lifecycle.unmet(db, case, clock.now())] == ["no open task"]


def test_close_succeeds_when_met_and_completes_the_reports_closed_links(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    make_closable(db, cast, clock, case)
    clock.advance(hours=1)
    lifecycle.close(
        db, cast.actor("lead_a"), case, reason="Low concern, plan done", now=clock.now()
    )
    assert (case.status, case.closed_at) == ("closed", clock.now())
    (report_id,) = queries.reports_of_case_ids(db, case)
    link = db.scalars(
        select(ChainLink).where(
            ChainLink.subject_type == "report",
            ChainLink.subject_id == report_id,
            ChainLink.link == "closed",
        )
    ).one()
    assert link.done_at == clock.now() and link.done_by_user_id == cast.lead_a.id
    assert link.note == f"case #{case.id} closed"
    (event,) = events(db, "cases:case:closed")
    assert event.changes["status"] == ["assessing", "closed"]
    with pytest.raises(Conflict):
        lifecycle.close(db, cast.actor("lead_a"), case, reason="Again, once more", now=clock.now())


def test_closing_needs_a_reason(db: Session, cast: Cast, clock: FrozenClock, case: Case) -> None:
    make_closable(db, cast, clock, case)
    with pytest.raises(ValidationFailed) as refused:
        lifecycle.close(db, cast.actor("lead_a"), case, reason="ok", now=clock.now())
    assert refused.value.field == "reason" and case.status == "assessing"


# --- re-opening and sign-offs --------------------------------------------------------------------


def close_a_high_case(db: Session, cast: Cast, clock: FrozenClock, case: Case) -> None:
    assess(db, cast, clock, case, "high")
    clock.advance(days=2)
    make_closable(db, cast, clock, case)
    lead, member = cast.actor("lead_a"), cast.actor("member_b")
    lifecycle.sign_off(db, lead, case, note="Agreed", now=clock.now())
    lifecycle.sign_off(db, member, case, note="", now=clock.now())
    lifecycle.schedule_checkins(
        db, lead, case, dates=[clock.now() + timedelta(days=30)], owner_user_id=None,
        now=clock.now(),
    )  # fmt: skip
    lifecycle.close(db, lead, case, reason="Low now, two sign-offs", now=clock.now())


def test_a_case_once_high_closes_with_two_signoffs_and_a_checkin(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    close_a_high_case(db, cast, clock, case)
    assert (case.status, case.peak_level, case.level_of_concern) == ("closed", "high", "low")


def test_reopen_starts_a_new_cycle_where_old_signoffs_stop_counting(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    close_a_high_case(db, cast, clock, case)
    clock.advance(days=1)
    lifecycle.reopen(db, cast.actor("member_b"), case, reason="New tip arrived", now=clock.now())
    assert (case.status, case.cycle, case.closed_at) == ("open", 2, None)
    assert lifecycle.signoffs(db, case) == []
    assert count(db, CaseSignOff) == 2  # kept for the record, in cycle 1
    missing = [u.condition for u in lifecycle.unmet(db, case, clock.now())]
    assert missing == ["lead sign-off", "second sign-off"]
    (event,) = events(db, "cases:case:reopened")
    assert event.changes["status"] == ["closed", "open"]
    told = db.scalars(select(Notification).where(Notification.tag == "cases:case:reopened"))
    assert [n.user_id for n in told] == [cast.lead_a.id]


def test_reopen_of_an_open_case_is_refused(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(Conflict) as refused:
        lifecycle.reopen(db, cast.actor("lead_a"), case, reason="Just because", now=clock.now())
    assert refused.value.field == "reopen" and case.cycle == 1


def test_a_signoff_counts_once_per_person_per_cycle(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    row = lifecycle.sign_off(db, cast.actor("lead_a"), case, note="", now=clock.now())
    assert (row.as_lead, row.cycle) == (True, 1)
    with pytest.raises(Conflict) as again:
        lifecycle.sign_off(db, cast.actor("lead_a"), case, note="", now=clock.now())
    assert again.value.field == "sign_off"
    other = lifecycle.sign_off(db, cast.actor("member_b"), case, note="Fine", now=clock.now())
    assert other.as_lead is False
    assert [s.user_id for s in lifecycle.signoffs(db, case)] == [cast.lead_a.id, cast.member_b.id]
    assert len(events(db, "cases:case:signed_off")) == 2


# --- the lead ------------------------------------------------------------------------------------


def test_reassigning_the_lead_needs_a_reason(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        lifecycle.reassign_lead(
            db, cast.actor("lead_a"), case, lead_user_id=cast.member_b.id, reason=" ",
            now=clock.now(),
        )  # fmt: skip
    assert refused.value.field == "reason" and case.lead_user_id == cast.lead_a.id


def test_the_lead_must_be_someone_who_can_work_the_case(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    for name in ("user_c", "oversight"):
        with pytest.raises(ValidationFailed) as refused:
            lifecycle.reassign_lead(
                db, cast.actor("lead_a"), case, lead_user_id=cast.user(name).id,
                reason="Handing over", now=clock.now(),
            )  # fmt: skip
        assert refused.value.field == "lead_user_id" and "cannot work this case" in str(
            refused.value
        )
    assert case.lead_user_id == cast.lead_a.id and lifecycle.changes_of(db, case) == []


def test_the_new_lead_is_told_and_the_change_is_audited(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    lifecycle.reassign_lead(
        db, cast.actor("lead_a"), case, lead_user_id=cast.member_b.id,
        reason="School matter now", now=clock.now(),
    )  # fmt: skip
    assert case.lead_user_id == cast.member_b.id
    (change,) = lifecycle.changes_of(db, case)
    assert (change.kind, change.old, change.new) == (
        "lead",
        str(cast.lead_a.id),
        str(cast.member_b.id),
    )
    (note,) = db.scalars(select(Notification).where(Notification.tag == "cases:case:lead_changed"))
    assert note.user_id == cast.member_b.id and note.link == f"/cases/{case.id}"
    (event,) = events(db, "cases:case:lead_changed")
    assert event.changes["reason"] == [None, "School matter now"]


# --- monitoring ----------------------------------------------------------------------------


def test_checkins_open_chain_links_and_completing_one_closes_its_link(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    lead = cast.actor("lead_a")
    dates = rules.default_checkins(clock.now())
    rows = lifecycle.schedule_checkins(
        db, lead, case, dates=dates, owner_user_id=cast.member_b.id, now=clock.now()
    )
    links = {
        link.subject_id: link
        for link in db.scalars(select(ChainLink).where(ChainLink.subject_type == "checkin"))
    }
    assert sorted(links) == sorted(r.id for r in rows)
    assert all(links[r.id].link == "reviewed" and links[r.id].due_at == r.due_at for r in rows)
    assert all(links[r.id].owner_user_id == cast.member_b.id for r in rows)
    assert all(link.done_at is None for link in links.values())
    clock.advance(days=30)
    lifecycle.complete_checkin(
        db, lead, case, rows[0], outcome="Seen at school, fine", now=clock.now()
    )
    assert (rows[0].status, rows[0].done_at) == ("done", clock.now())
    assert links[rows[0].id].done_at == clock.now()
    assert links[rows[1].id].done_at is None
    with pytest.raises(Conflict):
        lifecycle.complete_checkin(db, lead, case, rows[0], outcome="Seen again", now=clock.now())


def test_checkins_are_in_the_future_and_owned_by_someone_who_can_work_the_case(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    lead = cast.actor("lead_a")
    with pytest.raises(ValidationFailed) as past:
        lifecycle.schedule_checkins(
            db, lead, case, dates=[clock.now()], owner_user_id=None, now=clock.now()
        )
    assert past.value.field == "dates"
    with pytest.raises(ValidationFailed) as owner:
        lifecycle.schedule_checkins(
            db, lead, case, dates=[clock.now() + timedelta(days=3)],
            owner_user_id=cast.user_c.id, now=clock.now(),
        )  # fmt: skip
    assert owner.value.field == "owner_user_id" and count(db, CheckIn) == 0


# --- the cadence a jurisdiction sets --------------------------------------------------------------


def cadence(imminent: str = "1", high: str = "3", moderate: str = "20", low: str = "60") -> dict:
    return {"imminent": imminent, "high": high, "moderate": moderate, "low": low}


def test_next_review_uses_the_jurisdictions_settings(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    assess(db, cast, clock, case, "high")
    assert case.next_review_at == clock.now() + timedelta(days=7)  # the default
    set_case_settings(
        db, cast.actor("admin"), jurisdiction_id=cast.jurisdiction.id, review_days=cadence(),
        tripwire="flag", now=clock.now(),
    )  # fmt: skip
    assert case.next_review_at == clock.now() + timedelta(days=3)  # rescheduled at once
    clock.advance(days=1)
    assess(db, cast, clock, case, "moderate")
    assert case.next_review_at == clock.now() + timedelta(days=20)
    (event,) = events(db, "cases:settings:changed")
    assert event.subject_type == "jurisdiction" and event.changes["tripwire"] == [None, "flag"]
    assert event.changes["cases_rescheduled"] == [None, 1]


def test_case_settings_name_every_bad_field_and_save_nothing(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    with pytest.raises(CaseSettingsInvalid) as refused:
        set_case_settings(
            db, cast.actor("admin"), jurisdiction_id=cast.jurisdiction.id,
            review_days=cadence(imminent="", high="x", low="400"), tripwire="ignore",
            now=clock.now(),
        )  # fmt: skip
    assert set(refused.value.errors) == {"review_imminent", "review_high", "review_low", "tripwire"}
    assert refused.value.errors["review_imminent"] == "is required"
    with pytest.raises(CaseSettingsInvalid) as order:
        set_case_settings(
            db, cast.actor("admin"), jurisdiction_id=cast.jurisdiction.id,
            review_days=cadence(high="40", moderate="30"), tripwire="reopen", now=clock.now(),
        )  # fmt: skip
    assert list(order.value.errors) == ["review_high"]
    assert "longer than for moderate" in order.value.errors["review_high"]
    assert events(db, "cases:settings:changed") == []


def test_only_administrators_set_case_settings(db: Session, cast: Cast, clock: FrozenClock) -> None:
    with pytest.raises(PermissionDenied):
        set_case_settings(
            db, cast.actor("lead_a"), jurisdiction_id=cast.jurisdiction.id,
            review_days=cadence(), tripwire="reopen", now=clock.now(),
        )  # fmt: skip
