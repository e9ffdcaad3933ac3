"""The cases service on the cast: opening a case, subjects and reports, tasks, notes,
what an assessment concluded, and who may see and change which case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.access import Actor, Grant, Permission, can, load_for, visible
from defchain.audit import AuditEvent
from defchain.cases import Case, CaseStatus, CaseTask
from defchain.clock import FrozenClock
from defchain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from defchain.intake import Report
from defchain.people import Person, ReportLink
from tests.conftest import CAST_USERS, Cast, receive_public_tip

P = Permission


def person(db: Session, clock: FrozenClock, name: str) -> Person:
    row = Person(display_name=name, created_at=clock.now())
    db.add(row)
    db.flush()
    return row


def link(db: Session, clock: FrozenClock, report: Report, who: Person) -> ReportLink:
    row = ReportLink(
        report_id=report.id, person_id=who.id, decided_by="person", created_at=clock.now()
    )
    db.add(row)
    db.flush()
    return row


def events(db: Session, tag: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag)))


def case_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Case)) or 0


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock) -> Case:
    """Agency A's case on team T, led by lead_a."""
    return cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        now=clock.now(),
    )  # fmt: skip


# --- opening a case -------------------------------------------------------------------------


def test_a_case_is_owned_by_the_creators_agency_and_led_by_them_by_default(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    opened = cases.open_case(
        db, cast.actor("analyst_a"), title="  A grudge \n at work ", summary=" Calls. ",
        now=clock.now(),
    )  # fmt: skip
    assert (opened.agency_id, opened.lead_user_id) == (cast.agency_a.id, cast.analyst_a.id)
    assert (opened.title, opened.summary, opened.status) == ("A grudge at work", "Calls.", "open")
    assert opened.team_id is None and opened.created_by_user_id == cast.analyst_a.id
    (event,) = events(db, "cases:case:opened")
    assert event.subject_type == "case" and event.subject_id == str(opened.id)
    assert event.changes["lead_user_id"] == [None, cast.analyst_a.id]
    assert event.changes["title"] == [None, "A grudge at work"]


def test_a_case_from_a_report_takes_the_persons_it_is_linked_to(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = receive_public_tip(db, cast, clock, narrative="He showed a gun in class")
    jayden, priya, old = (person(db, clock, n) for n in ("Jayden", "Priya", "Old link"))
    link(db, clock, report, jayden)
    undone = link(db, clock, report, old)
    undone.undone_at = clock.now()
    opened = cases.open_case(
        db, cast.actor("lead_a"), title="Gun in class", person_ids=[priya.id],
        report_ids=[report.id], now=clock.now(),
    )  # fmt: skip
    assert [p.id for p in cases.subjects_of(db, opened)] == [priya.id, jayden.id]
    assert [r.id for r in cases.reports_of(db, cast.actor("lead_a"), opened)] == [report.id]
    (event,) = events(db, "cases:case:opened")
    assert event.changes["person_ids"] == [None, [priya.id, jayden.id]]
    assert event.changes["report_ids"] == [None, [report.id]]


def test_a_subject_merged_away_is_the_person_they_became(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    kept, merged = person(db, clock, "Kept"), person(db, clock, "Merged")
    merged.merged_into_id = kept.id
    opened = cases.open_case(
        db, cast.actor("lead_a"), title="Merged", person_ids=[merged.id], now=clock.now()
    )
    assert [p.id for p in cases.subjects_of(db, opened)] == [kept.id]
    assert cases.cases_of_person(db, cast.actor("lead_a"), kept.id) == [opened]


def test_a_report_the_actor_may_not_read_is_not_found_and_nothing_is_saved(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = receive_public_tip(db, cast, clock, narrative="Agency A's tip")
    with pytest.raises(NotFound) as caught:
        cases.open_case(
            db, cast.actor("user_c"), title="Not mine", report_ids=[report.id], now=clock.now()
        )
    assert caught.value.field == "report_ids"
    assert case_count(db) == 0 and events(db, "cases:case:opened") == []


def test_an_unknown_person_is_not_found(db: Session, cast: Cast, clock: FrozenClock) -> None:
    with pytest.raises(NotFound) as caught:
        cases.open_case(
            db, cast.actor("lead_a"), title="Nobody", person_ids=[999_999], now=clock.now()
        )
    assert caught.value.field == "person_ids"


@pytest.mark.parametrize("title", ["", "   \n "])
def test_a_case_needs_a_title(db: Session, cast: Cast, clock: FrozenClock, title: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        cases.open_case(db, cast.actor("lead_a"), title=title, now=clock.now())
    assert caught.value.field == "title"


@pytest.mark.parametrize(
    ("lead", "team", "allowed"),
    [
        ("lead_a", False, True),  # same agency
        ("member_b", True, True),  # on the case's team, another agency
        ("member_b", False, False),  # another agency, no team
        ("user_c", True, False),  # another agency, not on the team
        ("oversight", False, False),  # same agency, but a role without cases
    ],
)
def test_the_lead_must_be_able_to_work_the_case(
    db: Session, cast: Cast, clock: FrozenClock, lead: str, team: bool, allowed: bool
) -> None:
    def attempt() -> Case:
        return cases.open_case(
            db, cast.actor("lead_a"), title="Lead check", lead_user_id=cast.user(lead).id,
            team_id=cast.team.id if team else None, now=clock.now(),
        )  # fmt: skip

    if allowed:
        assert attempt().lead_user_id == cast.user(lead).id
        return
    with pytest.raises(ValidationFailed) as caught:
        attempt()
    assert caught.value.field == "lead_user_id"
    assert case_count(db) == 0


def test_a_disabled_user_cannot_lead(db: Session, cast: Cast, clock: FrozenClock) -> None:
    cast.analyst_a.disabled = True
    db.flush()
    with pytest.raises(ValidationFailed, match="no active user") as caught:
        cases.open_case(
            db, cast.actor("lead_a"), title="X", lead_user_id=cast.analyst_a.id, now=clock.now()
        )
    assert caught.value.field == "lead_user_id"


def test_only_a_team_of_ones_own_may_take_the_case(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        cases.open_case(
            db, cast.actor("analyst_a"), title="X", team_id=cast.team.id, now=clock.now()
        )
    assert caught.value.field == "team_id"


def test_roles_without_cases_cannot_open_one(db: Session, cast: Cast, clock: FrozenClock) -> None:
    with pytest.raises(PermissionDenied):
        cases.open_case(db, cast.actor("oversight"), title="X", now=clock.now())


def test_the_command_line_opens_a_case_for_the_leads_agency(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    opened = cases.open_case(
        db, Actor.system("cli:test"), title="X", lead_user_id=cast.member_b.id, now=clock.now()
    )
    assert opened.agency_id == cast.agency_b.id and opened.created_by_user_id is None


# --- who may see and change a case --------------------------------------------------------

READERS = {"analyst_a", "lead_a", "member_b", "admin"}  # agency A, team T, admin


@pytest.mark.parametrize("name", CAST_USERS)
def test_a_case_is_seen_by_its_agency_its_team_and_administrators(
    db: Session, cast: Cast, case: Case, name: str
) -> None:
    actor = cast.actor(name)
    assert can(actor, P.CASES_CASE_READ, case) is (name in READERS)
    assert can(actor, P.CASES_CASE_UPDATE, case) is (name in READERS)
    for permission in (P.CASES_CASE_READ, P.CASES_CASE_UPDATE):
        listed = set(db.scalars(select(Case.id).where(visible(actor, permission))))
        allowed = {c.id for c in db.scalars(select(Case)) if can(actor, permission, c)}
        assert listed == allowed


def test_a_read_grant_shows_the_case_but_does_not_open_it_for_changes(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    db.add(
        Grant(
            resource_type="case", resource_id=case.id, grantee_type="user",
            grantee_id=cast.user_c.id, level="read", reason="Consulted", created_at=clock.now(),
        )
    )  # fmt: skip
    db.flush()
    user_c = cast.actor("user_c")
    assert load_for(db, user_c, "case", case.id, P.CASES_CASE_READ) is case
    with pytest.raises(PermissionDenied):
        load_for(db, user_c, "case", case.id, P.CASES_CASE_UPDATE)
    assert set(db.scalars(select(Case.id).where(visible(user_c, P.CASES_CASE_READ)))) == {case.id}
    assert set(db.scalars(select(Case.id).where(visible(user_c, P.CASES_CASE_UPDATE)))) == set()
    with pytest.raises(PermissionDenied):
        cases.add_note(db, user_c, case, body="Seen it", now=clock.now())


def test_load_for_hides_the_case_from_outsiders(db: Session, cast: Cast, case: Case) -> None:
    with pytest.raises(NotFound):
        load_for(db, cast.actor("user_c"), "case", case.id, P.CASES_CASE_READ)
    with pytest.raises(PermissionDenied):
        load_for(db, cast.actor("auditor"), "case", case.id, P.CASES_CASE_READ)


def test_cases_of_a_person_are_only_those_the_actor_may_see(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    jayden = person(db, clock, "Jayden")
    at_a = cases.open_case(
        db, cast.actor("analyst_a"), title="A", person_ids=[jayden.id], now=clock.now()
    )
    clock.advance(minutes=1)
    at_c = cases.open_case(
        db, cast.actor("user_c"), title="C", person_ids=[jayden.id], now=clock.now()
    )
    assert cases.cases_of_person(db, cast.actor("lead_a"), jayden.id) == [at_a]
    assert cases.cases_of_person(db, cast.actor("user_c"), jayden.id) == [at_c]
    assert cases.cases_of_person(db, cast.actor("admin"), jayden.id) == [at_c, at_a]
    assert cases.cases_of_person(db, cast.actor("auditor"), jayden.id) == []


# --- subjects and reports added later -----------------------------------------------------


def test_adding_a_report_adds_its_persons_once(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    jayden = person(db, clock, "Jayden")
    cases.add_subject(db, lead, case, person_id=jayden.id, now=clock.now())
    report = receive_public_tip(db, cast, clock, narrative="Again")
    link(db, clock, report, jayden)
    cases.add_report(db, lead, case, report_id=report.id, now=clock.now())
    assert [p.id for p in cases.subjects_of(db, case)] == [jayden.id]
    (event,) = events(db, "cases:report:added")
    assert event.changes == {"report_id": [None, report.id], "person_ids": [None, []]}
    with pytest.raises(Conflict):
        cases.add_report(db, lead, case, report_id=report.id, now=clock.now())
    with pytest.raises(Conflict) as caught:
        cases.add_subject(db, lead, case, person_id=jayden.id, now=clock.now())
    assert caught.value.field == "person_id"


# --- tasks ----------------------------------------------------------------------------------


def task(db: Session, cast: Cast, case: Case, clock: FrozenClock, **fields: Any) -> CaseTask:
    values: dict[str, Any] = {
        "kind": "interview",
        "title": "Talk to the coach",
        "owner_user_id": cast.member_b.id,
        "due_at": clock.now() + timedelta(days=2),
        **fields,
    }
    return cases.add_task(db, cast.actor("lead_a"), case, now=clock.now(), **values)


def test_a_task_is_added_completed_with_its_outcome_and_audited(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    added = task(db, cast, case, clock)
    assert (added.status, added.owner_user_id, added.created_by_user_id) == (
        "open",
        cast.member_b.id,
        cast.lead_a.id,
    )
    (event,) = events(db, "cases:task:added")
    assert event.changes["kind"] == [None, "interview"]
    member = cast.actor("member_b")
    with pytest.raises(ValidationFailed) as caught:
        cases.complete_task(db, member, added, outcome="  ", now=clock.now())
    assert caught.value.field == "outcome" and added.status == "open"
    clock.advance(hours=3)
    cases.complete_task(db, member, added, outcome="He is on the team.", now=clock.now())
    assert (added.status, added.outcome, added.done_at) == (
        "done",
        "He is on the team.",
        clock.now(),
    )
    assert added.done_by_user_id == cast.member_b.id
    (done,) = events(db, "cases:task:done")
    assert done.changes["status"] == ["open", "done"]
    with pytest.raises(Conflict, match="already done"):
        cases.complete_task(db, member, added, outcome="Again", now=clock.now())


def test_a_cancelled_task_keeps_the_reason(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    added = task(db, cast, case, clock)
    with pytest.raises(ValidationFailed) as caught:
        cases.cancel_task(db, cast.actor("lead_a"), added, reason="", now=clock.now())
    assert caught.value.field == "reason"
    cases.cancel_task(db, cast.actor("lead_a"), added, reason="He moved away", now=clock.now())
    assert (added.status, added.outcome) == ("cancelled", "He moved away")
    assert cases.open_tasks(db, case) == []
    assert events(db, "cases:task:cancelled")[0].changes["reason"] == [None, "He moved away"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "pep_talk"}, "kind"),
        ({"title": " "}, "title"),
        ({"owner_user_id": 0}, "owner_user_id"),
        ({"owner_user_id": "user_c"}, "owner_user_id"),  # cannot see the case
        ({"origin": ""}, "origin"),
    ],
)
def test_a_task_refuses_bad_input_naming_the_field(
    db: Session, cast: Cast, case: Case, clock: FrozenClock, fields: dict[str, Any], field: str
) -> None:
    if fields.get("owner_user_id") == "user_c":
        fields = {"owner_user_id": cast.user_c.id}
    with pytest.raises(ValidationFailed) as caught:
        task(db, cast, case, clock, **fields)
    assert caught.value.field == field
    assert cases.tasks_of(db, case) == []


def test_only_those_who_may_change_the_case_add_tasks(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    with pytest.raises(PermissionDenied):
        cases.add_task(
            db, cast.actor("user_c"), case, kind="interview", title="X",
            owner_user_id=cast.user_c.id, due_at=clock.now(), now=clock.now(),
        )  # fmt: skip


def test_open_tasks_filter_by_origin_prefix_literally(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    weapons = task(db, cast, case, clock, kind="information_gap", origin="gap:DC-TA-1:weapons")
    plans = task(db, cast, case, clock, kind="information_gap", origin="gap:DC-TA-1:plans")
    other = task(db, cast, case, clock, kind="information_gap", origin="gap:DCxTA-1:plans")
    by_hand = task(db, cast, case, clock)
    cases.complete_task(db, cast.actor("lead_a"), plans, outcome="None found", now=clock.now())
    assert cases.open_tasks(db, case, origin_prefix="gap:DC-TA-1:") == [weapons]
    assert cases.open_tasks(db, case, origin_prefix="gap:DC_TA") == []  # "_" is no wildcard
    assert cases.open_tasks(db, case) == [weapons, other, by_hand]
    assert cases.tasks_of(db, case) == [weapons, plans, other, by_hand]


# --- notes ----------------------------------------------------------------------------------


def test_a_labelled_note_is_shown_only_to_those_cleared(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    cast.lead_a.clearances = ["health"]
    db.flush()
    lead, member = cast.actor("lead_a"), cast.actor("member_b")
    plain = cases.add_note(db, member, case, body="Spoke to the coach.", now=clock.now())
    health = cases.add_note(
        db, lead, case, body="In treatment.", labels=["health"], now=clock.now()
    )
    assert (health.labels, health.label_set) == (["health"], ",health,")
    assert cases.notes_visible(db, lead, case) == [plain, health]
    assert cases.notes_visible(db, member, case) == [plain]
    assert cases.notes_visible(db, cast.actor("admin"), case) == [plain]  # admins need it too
    (event, _) = sorted(events(db, "cases:note:added"), key=lambda e: e.seq, reverse=True)
    assert event.changes == {"note_id": [None, health.id], "labels": [None, ["health"]]}
    assert "In treatment" not in str(event.changes)  # the body stays out of the audit log


def test_one_may_not_apply_a_label_one_is_not_cleared_for(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    for labels in (["cji"], ["secret"]):
        with pytest.raises(ValidationFailed) as caught:
            cases.add_note(db, cast.actor("lead_a"), case, body="X", labels=labels, now=clock.now())
        assert caught.value.field == "labels"
    with pytest.raises(ValidationFailed) as caught:
        cases.add_note(db, cast.actor("lead_a"), case, body=" ", now=clock.now())
    assert caught.value.field == "body"
    assert cases.notes_visible(db, cast.actor("lead_a"), case) == []


# --- what an assessment concluded ---------------------------------------------------------


def test_recording_a_concern_moves_the_case_on_and_audits_the_change(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    at = clock.now()
    cases.record_concern(db, lead, case, level="high", stage="preparation", assessed_at=at)
    assert (case.level_of_concern, case.pathway_stage) == ("high", "preparation")
    assert (case.last_assessed_at, case.status) == (at, CaseStatus.ASSESSING)
    (event,) = events(db, "cases:case:concern_recorded")
    assert event.changes == {
        "level_of_concern": [None, "high"],
        "pathway_stage": [None, "preparation"],
        "last_assessed_at": [None, at.isoformat()],
        # high: reviewed weekly (the default cadence); the case was once high
        "next_review_at": [None, (at + timedelta(days=7)).isoformat()],
        "peak_level": [None, "high"],
        "status": ["open", "assessing"],
    }
    later = at + timedelta(days=7)
    cases.record_concern(db, lead, case, level="moderate", stage="preparation", assessed_at=later)
    second = max(events(db, "cases:case:concern_recorded"), key=lambda e: e.seq)
    assert second.changes == {
        "level_of_concern": ["high", "moderate"],
        "last_assessed_at": [at.isoformat(), later.isoformat()],
        # moderate: every 30 days; the peak stays high
        "next_review_at": [
            (at + timedelta(days=7)).isoformat(),
            (later + timedelta(days=30)).isoformat(),
        ],
    }
    assert case.peak_level == "high"
    # An assessment older than the one recorded does not overwrite it.
    cases.record_concern(db, lead, case, level="low", stage=None, assessed_at=at)
    assert case.level_of_concern == "moderate"
    assert len(events(db, "cases:case:concern_recorded")) == 2


def test_a_concern_needs_a_known_level_and_a_permitted_actor(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        cases.record_concern(
            db, cast.actor("lead_a"), case, level="severe", stage=None, assessed_at=clock.now()
        )
    assert caught.value.field == "level" and case.level_of_concern is None
    with pytest.raises(PermissionDenied):
        cases.record_concern(
            db, cast.actor("user_c"), case, level="low", stage=None, assessed_at=clock.now()
        )
    case.status = "closed"
    with pytest.raises(Conflict):
        cases.record_concern(
            db, cast.actor("lead_a"), case, level="low", stage=None, assessed_at=clock.now()
        )
