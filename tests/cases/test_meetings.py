"""Team meetings: the generated agenda and its rule, snapshotting it into a meeting, a
decision per case, who may hold a team's meetings, and the exported record."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, meetings
from defchain.cases.meetings import AgendaFacts, agenda_reasons
from defchain.cases.models import CheckIn, MeetingItem
from defchain.clock import FrozenClock
from defchain.errors import NotFound, PermissionDenied, ValidationFailed
from tests.conftest import Cast, receive_public_tip

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def facts(**overrides: object) -> AgendaFacts:
    values: dict[str, object] = {
        "status": "open",
        "next_review_at": None,
        "overdue_tasks": 0,
        "new_reports": 0,
        "monitored_after_closure": False,
    }
    values.update(overrides)
    return AgendaFacts(**values)  # type: ignore[arg-type]


# --- the rule ---------------------------------------------------------------------------------


def test_a_quiet_case_is_not_on_the_agenda() -> None:
    assert agenda_reasons(facts(next_review_at=NOW + timedelta(minutes=1)), NOW) == []


def test_every_reason_is_named_in_order() -> None:
    busy = facts(next_review_at=NOW, overdue_tasks=2, new_reports=1)
    assert agenda_reasons(busy, NOW) == ["due for review", "overdue tasks", "new reports"]


@pytest.mark.parametrize("status", ["open", "assessing", "managing", "monitoring"])
def test_new_reports_count_on_every_case_not_closed(status: str) -> None:
    assert agenda_reasons(facts(status=status, new_reports=1), NOW) == ["new reports"]


def test_a_closed_case_counts_new_reports_only_while_monitored() -> None:
    closed = facts(status="closed", next_review_at=NOW - timedelta(days=1), new_reports=1)
    assert agenda_reasons(closed, NOW) == []
    monitored = facts(
        status="closed", next_review_at=NOW - timedelta(days=1), new_reports=1,
        monitored_after_closure=True,
    )  # fmt: skip
    assert agenda_reasons(monitored, NOW) == ["new reports"]


# --- the agenda on the database ---------------------------------------------------------------


def open_case(db: Session, cast: Cast, clock: FrozenClock, title: str, **kw: object) -> Case:
    return cases.open_case(
        db, cast.actor("lead_a"), title=title, team_id=kw.get("team_id", cast.team.id),  # type: ignore[arg-type]
        now=clock.now(),
    )  # fmt: skip


@pytest.fixture
def team_cases(db: Session, cast: Cast, clock: FrozenClock) -> dict[str, Case]:
    """On team T: one due for review, one with an overdue task, one with a new report,
    one quiet; and one case of agency A on no team, due for review."""
    lead = cast.actor("lead_a")
    made = {
        name: open_case(db, cast, clock, title)
        for name, title in (
            ("due", "Review is due"),
            ("overdue", "A task is late"),
            ("reported", "A new report came"),
            ("quiet", "Nothing new"),
        )
    }
    made["due"].next_review_at = clock.now() - timedelta(hours=1)
    made["quiet"].next_review_at = clock.now() + timedelta(days=3)
    cases.add_task(
        db, lead, made["overdue"], kind="interview", title="Talk to the coach",
        owner_user_id=cast.lead_a.id, due_at=clock.now() - timedelta(days=1), now=clock.now(),
    )  # fmt: skip
    report = receive_public_tip(db, cast, clock, narrative="He posted a threat")
    cases.add_report(db, lead, made["reported"], report_id=report.id, now=clock.now())
    elsewhere = cases.open_case(db, lead, title="No team", now=clock.now())
    elsewhere.next_review_at = clock.now() - timedelta(hours=1)
    made["elsewhere"] = elsewhere
    db.flush()
    clock.advance(hours=1)
    return made


def test_the_agenda_holds_the_teams_cases_that_need_discussing(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    items = meetings.agenda(db, cast.actor("member_b"), cast.team, clock.now())
    assert [(case.title, reasons) for case, reasons in items] == [
        ("Review is due", ["due for review"]),
        ("A task is late", ["overdue tasks"]),
        ("A new report came", ["new reports"]),
    ]


def test_reports_older_than_a_week_are_not_new_without_a_meeting(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    clock.advance(days=7)
    titles = [c.title for c, _ in meetings.agenda(db, cast.actor("lead_a"), cast.team, clock.now())]
    assert "A new report came" not in titles


def test_new_means_since_the_teams_previous_meeting(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    lead = cast.actor("lead_a")
    meetings.create_meeting(db, lead, cast.team, held_at=clock.now(), attendees="", now=clock.now())
    clock.advance(hours=1)
    titles = [c.title for c, _ in meetings.agenda(db, lead, cast.team, clock.now())]
    assert "A new report came" not in titles
    report = receive_public_tip(db, cast, clock, narrative="Another post")
    cases.add_report(db, lead, team_cases["quiet"], report_id=report.id, now=clock.now())
    clock.advance(minutes=1)
    items = dict(meetings.agenda(db, lead, cast.team, clock.now()))
    assert items[team_cases["quiet"]] == ["new reports"]


def test_a_closed_case_with_check_ins_scheduled_is_monitored(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    quiet = team_cases["quiet"]
    quiet.status = "closed"
    report = receive_public_tip(db, cast, clock, narrative="He is back")
    cases.add_report(db, cast.actor("lead_a"), quiet, report_id=report.id, now=clock.now())
    clock.advance(minutes=1)
    lead = cast.actor("lead_a")
    assert quiet not in dict(meetings.agenda(db, lead, cast.team, clock.now()))
    db.add(
        CheckIn(
            case_id=quiet.id, owner_user_id=cast.lead_a.id,
            due_at=clock.now() + timedelta(days=30), created_at=clock.now(),
        )
    )  # fmt: skip
    db.flush()
    assert dict(meetings.agenda(db, lead, cast.team, clock.now()))[quiet] == ["new reports"]


@pytest.mark.parametrize("who", ["analyst_a", "user_c", "oversight"])
def test_only_the_teams_members_see_its_agenda(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case], who: str
) -> None:
    with pytest.raises(PermissionDenied):
        meetings.agenda(db, cast.actor(who), cast.team, clock.now())


def test_administrators_see_every_teams_agenda(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    assert len(meetings.agenda(db, cast.actor("admin"), cast.team, clock.now())) == 3


# --- meetings and decisions ---------------------------------------------------------------------


def events(db: Session, tag: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def test_a_meeting_snapshots_the_agenda(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    meeting = meetings.create_meeting(
        db, cast.actor("member_b"), cast.team, held_at=clock.now(),
        attendees="  Lead A (police),\n Member B (school) ", now=clock.now(),
    )  # fmt: skip
    items = db.scalars(select(MeetingItem).where(MeetingItem.meeting_id == meeting.id)).all()
    assert [(i.case_id, i.reasons) for i in items] == [
        (team_cases["due"].id, ["due for review"]),
        (team_cases["overdue"].id, ["overdue tasks"]),
        (team_cases["reported"].id, ["new reports"]),
    ]
    assert meeting.attendees == "Lead A (police),\n Member B (school)"
    assert meeting.created_by_user_id == cast.member_b.id
    (event,) = events(db, "cases:meeting:created")
    assert event.subject_type == "meeting" and event.subject_id == str(meeting.id)
    assert event.changes["case_ids"] == [None, [i.case_id for i in items]]
    assert meetings.meetings_of(db, cast.actor("lead_a"), cast.team) == [meeting]


def test_someone_off_the_team_cannot_start_a_meeting(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    with pytest.raises(PermissionDenied):
        meetings.create_meeting(
            db, cast.actor("analyst_a"), cast.team, held_at=clock.now(), attendees="",
            now=clock.now(),
        )  # fmt: skip


def test_the_team_records_a_decision_per_case(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    lead = cast.actor("lead_a")
    meeting = meetings.create_meeting(
        db, lead, cast.team, held_at=clock.now(), attendees="", now=clock.now()
    )
    item = meetings.items_of(db, lead, meeting)[0][0]
    with pytest.raises(ValidationFailed) as caught:
        meetings.record_decision(db, lead, item, decision="  ", now=clock.now())
    assert caught.value.field == "decision"
    with pytest.raises(PermissionDenied):
        meetings.record_decision(db, cast.actor("analyst_a"), item, decision="X", now=clock.now())

    meetings.record_decision(db, lead, item, decision="Keep monitoring.", now=clock.now())
    clock.advance(minutes=3)
    meetings.record_decision(db, cast.actor("member_b"), item, decision="Refer.", now=clock.now())

    assert (item.decision, item.decided_by_user_id) == ("Refer.", cast.member_b.id)
    first, second = sorted(events(db, "cases:meeting:decided"), key=lambda e: e.seq)
    assert first.subject_type == "case" and first.subject_id == str(item.case_id)
    assert first.changes["decision"] == [None, "Keep monitoring."]
    assert second.changes["decision"] == ["Keep monitoring.", "Refer."]


def test_a_meeting_is_found_only_by_its_teams_members(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    meeting = meetings.create_meeting(
        db, cast.actor("lead_a"), cast.team, held_at=clock.now(), attendees="", now=clock.now()
    )
    assert meetings.load_meeting(db, cast.actor("member_b"), meeting.id) is meeting
    assert meetings.load_meeting(db, cast.actor("admin"), meeting.id) is meeting
    for who in ("analyst_a", "user_c"):
        with pytest.raises(NotFound):
            meetings.load_meeting(db, cast.actor(who), meeting.id)
    with pytest.raises(PermissionDenied):
        meetings.load_meeting(db, cast.actor("auditor"), meeting.id)


# --- the record -----------------------------------------------------------------------------------


def test_the_record_exports_as_csv_and_markdown(
    db: Session, cast: Cast, clock: FrozenClock, team_cases: dict[str, Case]
) -> None:
    lead = cast.actor("lead_a")
    team_cases["due"].title = "=HYPERLINK(evil) *bold*"
    meeting = meetings.create_meeting(
        db, lead, cast.team, held_at=clock.now(), attendees="Lead A, Member B", now=clock.now()
    )
    first = meetings.items_of(db, lead, meeting)[0][0]
    meetings.record_decision(db, lead, first, decision="Refer to counseling.", now=clock.now())
    record = meetings.meeting_record(db, lead, meeting)

    rows = list(csv.DictReader(io.StringIO(meetings.meeting_csv(record))))
    assert [r["case_id"] for r in rows] == [
        str(team_cases[k].id) for k in ("due", "overdue", "reported")
    ]
    assert rows[0]["case_title"] == "'=HYPERLINK(evil) *bold*"  # never a formula
    assert (rows[0]["decision"], rows[0]["decided_by"]) == ("Refer to counseling.", "Lead A")
    assert rows[1]["decision"] == "" and rows[1]["reasons"] == "overdue tasks"

    text = meetings.meeting_markdown(record)
    assert text.startswith("# Team meeting: Team T\n")
    assert "Attendees: Lead A, Member B" in text
    assert f"## Case #{team_cases['due'].id}: =HYPERLINK(evil) \\*bold\\*" in text
    assert "Refer to counseling." in text and "Decision: none recorded" in text
