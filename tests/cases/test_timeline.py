"""The case timeline: every source merged newest first, what the actor may not read kept
out (labelled notes, reports of another agency), and sources registered from above."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from defchain import cases
from defchain.access import Actor
from defchain.assessment import get_instrument
from defchain.assessment import service as assessments
from defchain.cases import Case, lifecycle
from defchain.cases import timeline as tl
from defchain.cases.timeline import TimelineEntry, register_timeline_source, timeline
from defchain.clock import FrozenClock
from defchain.errors import PermissionDenied
from defchain.people import Person, firearms
from defchain.triage import TriageDecision
from tests.conftest import Cast, receive_public_tip


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock) -> Case:
    """Agency A's case on team T, led by lead_a."""
    return cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        now=clock.now(),
    )  # fmt: skip


def step(clock: FrozenClock) -> None:
    clock.advance(minutes=5)


def titles(entries: list[TimelineEntry]) -> list[str]:
    return [e.title for e in entries]


def test_every_kind_of_event_is_merged_newest_first(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    report = receive_public_tip(db, cast, clock, narrative="He said he would bring a gun")
    step(clock)
    db.add(
        TriageDecision(
            report_id=report.id, priority="P2", overridden=True, reason="Named a date.",
            decided_by_user_id=cast.analyst_a.id, decided_at=clock.now(),
        )
    )  # fmt: skip
    step(clock)
    cases.add_report(db, lead, case, report_id=report.id, now=clock.now())
    step(clock)
    task = cases.add_task(
        db, lead, case, kind="safety_plan", title="Plan with the school",
        owner_user_id=cast.lead_a.id, due_at=clock.now() + timedelta(days=2), now=clock.now(),
    )  # fmt: skip
    step(clock)
    cases.complete_task(db, lead, task, outcome="Plan agreed with the principal.", now=clock.now())
    step(clock)
    cases.add_note(db, lead, case, body="Spoke to the coach.", now=clock.now())
    step(clock)
    lifecycle.move(db, lead, case, to="managing", reason="Plan under way", now=clock.now())
    step(clock)
    lifecycle.sign_off(db, lead, case, note="Ready when the plan holds.", now=clock.now())

    entries = timeline(db, lead, case)

    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    by_kind: dict[str, TimelineEntry] = {}  # the newest entry of each kind
    for entry in entries:
        by_kind.setdefault(entry.kind, entry)
    assert titles(entries)[:3] == [
        "Signed off for closure as lead",
        "Status: Open to Managing",
        "Note",
    ]
    assert by_kind["intervention"].title == "Safety plan done: Plan with the school"
    assert by_kind["intervention"].detail == "Plan agreed with the principal."
    assert "Safety plan given: Plan with the school" in titles(entries)
    assert by_kind["triage"].title == f"Report #{report.id} triaged P2 (suggestion overridden)"
    assert by_kind["triage"].link == f"/reports/{report.id}"
    assert by_kind["triage"].actor_name == "Analyst A"
    assert titles(entries)[-3:] == [  # the tip came in, was triaged, then added
        f"Report #{report.id} added to the case",
        f"Report #{report.id} triaged P2 (suggestion overridden)",
        f"Report #{report.id} received",
    ]
    assert by_kind["change"].detail == "Plan under way"
    assert by_kind["signoff"].actor_name == "Lead A"


def test_a_labelled_note_is_only_a_placeholder_for_the_uncleared(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    cast.lead_a.clearances = ["health"]
    db.flush()
    cases.add_note(
        db, cast.actor("lead_a"), case, body="In treatment at the clinic.", labels=["health"],
        now=clock.now(),
    )  # fmt: skip

    (cleared,) = [e for e in timeline(db, cast.actor("lead_a"), case) if e.kind == "note"]
    (hidden,) = [e for e in timeline(db, cast.actor("member_b"), case) if e.kind == "note"]

    assert cleared.title == "Note [health]" and cleared.detail == "In treatment at the clinic."
    assert hidden.title == tl.WITHHELD_NOTE
    assert (hidden.detail, hidden.link, hidden.actor_name) == ("", "", "")
    assert "clinic" not in str(timeline(db, cast.actor("admin"), case))  # admins need it too


def test_a_report_the_actor_may_not_open_shows_no_content_and_no_triage(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    report = receive_public_tip(db, cast, clock, narrative="A threat about the game")
    db.add(
        TriageDecision(
            report_id=report.id, priority="P1", decided_by_user_id=cast.analyst_a.id,
            decided_at=clock.now(),
        )
    )  # fmt: skip
    cases.add_report(db, cast.actor("lead_a"), case, report_id=report.id, now=clock.now())

    seen_by_member = timeline(db, cast.actor("member_b"), case)  # agency B, on the team

    reports = [e for e in seen_by_member if e.kind in ("report", "triage")]
    assert [(e.title, e.link) for e in reports] == [("A report you may not open was added", "")]
    assert f"#{report.id}" not in str(seen_by_member) and "threat" not in str(seen_by_member)


def test_assessments_and_firearm_findings_are_on_it(
    db: Session, cast: Cast, case: Case, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    person = Person(display_name="Jordan Example", created_at=clock.now())
    db.add(person)
    db.flush()
    cases.add_subject(db, lead, case, person_id=person.id, now=clock.now())
    step(clock)
    firearms.record(
        db, lead, person_id=person.id, status="reported", source="His sister",
        detail="A rifle at the uncle's", now=clock.now(),
    )  # fmt: skip
    step(clock)
    assessment = assessments.record(
        db, lead, case, instrument_key="DC-TA-1@1.0",
        answers=assessments.blank_answers(get_instrument("DC-TA-1")), now=clock.now(),
    )  # fmt: skip

    entries = timeline(db, lead, case)

    (assessed,) = [e for e in entries if e.kind == "assessment"]
    assert assessed.title == "Assessed with DC-TA-1 1.0"
    assert assessed.link == f"/cases/{case.id}/assessments/{assessment.id}"
    assert assessed.detail.startswith("Level of concern ")
    firearm = [e for e in entries if e.kind == "firearm"]
    assert firearm[-1].title == "Firearm access of Jordan Example: Access reported (not confirmed)"
    assert firearm[-1].detail == "Source: His sister. A rifle at the uncle's"
    assert firearm[-1].link == f"/people/{person.id}"


def test_a_source_registered_from_above_joins_once(
    db: Session, cast: Cast, case: Case, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tl, "_SOURCES", list(tl._SOURCES))
    later = clock.now() + timedelta(days=1)

    def incidents(session: Session, actor: Actor, c: Case) -> list[TimelineEntry]:
        return [TimelineEntry(later, "incident", f"An incident on case {c.id}")]

    register_timeline_source(incidents)
    register_timeline_source(incidents)

    entries = timeline(db, cast.actor("lead_a"), case)
    assert titles(entries).count(f"An incident on case {case.id}") == 1
    assert entries[0].kind == "incident"


def test_someone_who_may_not_read_the_case_gets_no_timeline(
    db: Session, cast: Cast, case: Case
) -> None:
    with pytest.raises(PermissionDenied):
        timeline(db, cast.actor("user_c"), case)
