"""Case work in the chain: an overdue task or a missed check-in is a break; the sweep
tells the owner, then the case's lead, then the team's leads, one step a day, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import cases, ledger
from defchain.cases import Case, CaseTask, care
from defchain.cases.lifecycle import schedule_checkins
from defchain.chain.sweep import CASE_WORK_ESCALATE_EVERY, escalation_chain, sweep
from defchain.clock import FrozenClock
from defchain.ledger import ChainAlert, ChainLink
from defchain.notify import Notification
from tests.conftest import Cast

DAY = CASE_WORK_ESCALATE_EVERY


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock) -> Case:
    """Agency A's case on team T (led by lead_a), with member_b as the case's lead."""
    return cases.open_case(
        db, cast.actor("lead_a"), title="Threats at the game", team_id=cast.team.id,
        lead_user_id=cast.member_b.id, now=clock.now(),
    )  # fmt: skip


def add_task(db: Session, cast: Cast, clock: FrozenClock, case: Case) -> CaseTask:
    return cases.add_task(
        db, cast.actor("member_b"), case, kind="interview", title="Talk to the coach",
        owner_user_id=cast.analyst_a.id, due_at=clock.now() + timedelta(days=2), now=clock.now(),
    )  # fmt: skip


def task_link(db: Session, task: CaseTask) -> ChainLink:
    row = ledger.find(db, subject_type="task", subject_id=task.id, link="planned")
    assert row is not None, "the task has no link in the chain"
    return row


def steps(db: Session, link: ChainLink) -> list[tuple[int, str]]:
    query = select(ChainAlert.step, ChainAlert.role).where(ChainAlert.link_id == link.id)
    return [tuple(row) for row in db.execute(query.order_by(ChainAlert.step))]  # type: ignore[misc]


def breaks_to(db: Session, user_id: int) -> list[Notification]:
    query = select(Notification).where(
        Notification.user_id == user_id, Notification.tag == "chain:break"
    )
    return list(db.scalars(query.order_by(Notification.id)))


def test_a_task_opens_a_link_owned_by_its_owner_due_with_the_task(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    task = add_task(db, cast, clock, case)
    link = task_link(db, task)
    assert (link.due_at, link.owner_user_id) == (task.due_at, cast.analyst_a.id)
    assert (link.agency_id, link.team_id, link.done_at) == (case.agency_id, cast.team.id, None)


def test_an_overdue_task_escalates_owner_then_lead_then_team_lead_once_each(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    task = add_task(db, cast, clock, case)
    link = task_link(db, task)
    assert link.due_at is not None
    sweep(db, now=clock.now())
    assert steps(db, link) == []  # not due yet
    clock.set(link.due_at + timedelta(minutes=1))
    sweep(db, now=clock.now())
    assert steps(db, link) == [(0, "owner")]
    [late] = breaks_to(db, cast.analyst_a.id)
    assert late.subject == (
        f"Late: task #{task.id} (Interview) on case #{case.id} is overdue (assigned to you)"
    )
    assert "Talk to the coach" in late.body and "Talk to the coach" not in late.subject
    assert late.link == f"/cases/{case.id}"
    sweep(db, now=clock.now())
    assert steps(db, link) == [(0, "owner")]  # nothing twice
    clock.set(link.due_at + DAY + timedelta(minutes=1))
    sweep(db, now=clock.now())
    assert steps(db, link) == [(0, "owner"), (1, "case_lead")]
    [to_lead] = breaks_to(db, cast.member_b.id)
    assert to_lead.subject.startswith(f"Escalation 1: task #{task.id}")
    assert breaks_to(db, cast.lead_a.id) == []
    clock.set(link.due_at + DAY * 5)
    sweep(db, now=clock.now())
    sweep(db, now=clock.now())
    assert steps(db, link) == [(0, "owner"), (1, "case_lead"), (2, "team_lead")]
    assert len(breaks_to(db, cast.lead_a.id)) == 1
    assert len(breaks_to(db, cast.analyst_a.id)) == 1


@pytest.mark.parametrize("end", ["complete", "cancel"])
def test_a_task_done_or_cancelled_in_time_never_alerts(
    db: Session, cast: Cast, clock: FrozenClock, case: Case, end: str
) -> None:
    task = add_task(db, cast, clock, case)
    analyst = cast.actor("analyst_a")
    if end == "complete":
        cases.complete_task(db, analyst, task, outcome="Spoke with him.", now=clock.now())
    else:
        cases.cancel_task(db, analyst, task, reason="No longer needed.", now=clock.now())
    link = task_link(db, task)
    assert link.done_at == clock.now() and link.done_by_user_id == cast.analyst_a.id
    clock.advance(days=10)
    sweep(db, now=clock.now())
    assert steps(db, link) == []
    assert breaks_to(db, cast.analyst_a.id) == []


def test_a_task_done_late_stops_escalating(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    task = add_task(db, cast, clock, case)
    link = task_link(db, task)
    assert link.due_at is not None
    clock.set(link.due_at + timedelta(hours=1))
    sweep(db, now=clock.now())
    cases.complete_task(db, cast.actor("analyst_a"), task, outcome="Done, late.", now=clock.now())
    clock.advance(days=5)
    sweep(db, now=clock.now())
    assert steps(db, link) == [(0, "owner")]


def test_a_missed_check_in_escalates_from_its_owner_to_the_team_lead(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    due = clock.now() + timedelta(days=30)
    [checkin] = schedule_checkins(
        db, cast.actor("member_b"), case, dates=[due], owner_user_id=None, now=clock.now()
    )
    link = ledger.find(db, subject_type="checkin", subject_id=checkin.id, link="reviewed")
    assert link is not None
    clock.set(due + timedelta(minutes=5))
    sweep(db, now=clock.now())
    # The owner is the case's lead, so the next step is the team's lead.
    assert steps(db, link) == [(0, "owner")]
    [missed] = breaks_to(db, cast.member_b.id)
    assert missed.subject == (
        f"Late: check-in #{checkin.id} on case #{case.id} was missed (assigned to you)"
    )
    assert missed.link == f"/cases/{case.id}"
    clock.set(due + DAY + timedelta(minutes=5))
    sweep(db, now=clock.now())
    assert steps(db, link) == [(0, "owner"), (1, "team_lead")]
    assert len(breaks_to(db, cast.lead_a.id)) == 1


def test_without_a_team_lead_the_agency_administrators_hear_after_the_lead(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    solo = cases.open_case(db, cast.actor("analyst_a"), title="No team", now=clock.now())
    task = cases.add_task(
        db, cast.actor("analyst_a"), solo, kind="records_check", title="Check records",
        owner_user_id=cast.analyst_a.id, due_at=clock.now() + timedelta(days=1), now=clock.now(),
    )  # fmt: skip
    chain = escalation_chain(db, task_link(db, task))
    # The owner is also the lead: one step for both, then the administrators.
    assert [(role, [u.id for u in users]) for role, users in chain] == [
        ("owner", [cast.analyst_a.id]),
        ("admin", [cast.admin.id]),
    ]


def test_a_missed_care_review_escalates_and_a_review_opens_the_next_link(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    """A chronic case's care-plan review is a link owned by the case's lead: missed, it
    escalates like a check-in; recorded, its link is done and the next review's opens;
    taken off the plan, nothing is left open."""
    lead = cast.actor("member_b")
    care.set_chronic(db, lead, case, chronic=True, reason="After a 72-hour hold", now=clock.now())
    item = care.add_care_item(
        db, lead, case, kind="followup_made", agency_id=cast.agency_b.id,
        review_every_days=7, now=clock.now(),
    )  # fmt: skip
    [first] = ledger.links_for(db, subject_type="care", subject_id=item.id)
    assert (first.link, first.due_at, first.owner_user_id) == (
        "reviewed", item.next_review_at, cast.member_b.id,
    )  # fmt: skip
    clock.advance(days=7, minutes=5)
    sweep(db, now=clock.now())
    [missed] = breaks_to(db, cast.member_b.id)
    assert missed.subject == (
        f"Late: care-plan review #{item.id} on case #{case.id} is overdue (assigned to you)"
    )
    assert missed.link == f"/cases/{case.id}"
    clock.advance(days=1)
    sweep(db, now=clock.now())
    assert steps(db, first) == [(0, "owner"), (1, "team_lead")]

    care.update_care_item(db, lead, case, item, answer="yes", now=clock.now())
    links = ledger.links_for(db, subject_type="care", subject_id=item.id)
    assert [link.done_at is not None for link in links] == [True, False]
    assert links[1].due_at == clock.now() + timedelta(days=7)
    care.deactivate_care_item(db, lead, case, item, reason="Attending regularly", now=clock.now())
    links = ledger.links_for(db, subject_type="care", subject_id=item.id)
    assert all(link.done_at is not None for link in links)
