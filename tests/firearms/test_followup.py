"""The denial follow-up: started on a linked denial or attempt, handed to the person's
case when there is one, four steps in order, each a link of the chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import firearms, ledger
from defchain.audit import AuditEvent
from defchain.cases import CaseReport
from defchain.clock import FrozenClock
from defchain.errors import Conflict, PermissionDenied, ValidationFailed
from defchain.firearms import Decision, FollowUp, FollowUpStatus, Step
from defchain.firearms.service import followup_of_report, steps_done
from defchain.intake import service as intake_service
from defchain.intake.schemas import parse_report
from defchain.triage import service as triage
from tests.conftest import Cast
from tests.firearms.helpers import (
    attempt,
    case_about,
    denial,
    link_and_follow,
    notified,
    person,
)

STEP_LINKS = ["deconflict", "prior_reports", "decide", "outcome"]


def followup_links(db: Session, followup: FollowUp) -> dict[str, ledger.ChainLink]:
    rows = ledger.links_for(db, subject_type="followup", subject_id=followup.id)
    return {row.link: row for row in rows}


def linked_denial(db: Session, cast: Cast, clock: FrozenClock) -> FollowUp:
    robin = person(db, clock)
    report = denial(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    followup = followup_of_report(db, report.id)
    assert followup is not None
    return followup


def test_a_linked_denial_starts_a_follow_up_due_by_agency_policy(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    followup = linked_denial(db, cast, clock)
    assert (followup.kind, followup.status, followup.agency_id) == (
        "denial",
        "open",
        cast.agency_a.id,
    )
    assert followup.person_id is not None and followup.case_id is None
    assert followup.due_at == clock.now() + timedelta(days=3)  # the default policy
    links = followup_links(db, followup)
    assert list(links) == STEP_LINKS
    assert {row.due_at for row in links.values()} == {followup.due_at}
    assert {row.agency_id for row in links.values()} == {cast.agency_a.id}
    assert db.scalar(
        select(AuditEvent.id).where(
            AuditEvent.tag == "firearms:followup:started",
            AuditEvent.subject_id == str(followup.id),
        )
    )


def test_the_agency_policy_sets_the_window(db: Session, cast: Cast, clock: FrozenClock) -> None:
    firearms.set_policy(
        db, cast.actor("admin"), agency_id=cast.agency_a.id, followup_days=5, now=clock.now()
    )
    followup = linked_denial(db, cast, clock)
    assert followup.due_at == clock.now() + timedelta(days=5)
    with pytest.raises(ValidationFailed, match="followup_days"):
        firearms.set_policy(
            db, cast.actor("admin"), agency_id=cast.agency_a.id, followup_days=0,
            now=clock.now(),
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        firearms.set_policy(
            db, cast.actor("lead_a"), agency_id=cast.agency_a.id, followup_days=4,
            now=clock.now(),
        )  # fmt: skip


@pytest.mark.parametrize("status", ["open", "monitoring", "closed"])
def test_a_denial_about_a_case_subject_goes_to_the_case(
    db: Session, cast: Cast, clock: FrozenClock, status: str
) -> None:
    robin = person(db, clock)
    case = case_about(db, cast, clock, robin, status)
    report = denial(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    followup = followup_of_report(db, report.id)
    assert followup is not None
    assert (followup.status, followup.case_id) == (FollowUpStatus.CASE.value, case.id)
    assert all(row.done_at is not None for row in followup_links(db, followup).values())
    assert db.scalar(select(CaseReport.case_id).where(CaseReport.report_id == report.id)) == (
        case.id
    )
    assert case.status == "open"  # the tripwire re-opened a dormant case
    if status != "open":
        assert notified(db, cast.lead_a.id, "cases:case:reopened")


def test_an_unlinked_denial_can_be_started_and_gets_its_person_when_linked(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = denial(db, cast, clock)
    followup = firearms.start_followup(db, report, clock.now())
    assert followup is not None and followup.person_id is None and followup.status == "open"
    assert firearms.start_followup(db, report, clock.now()) is followup  # once per report
    robin = person(db, clock)
    link_and_follow(db, clock, report, robin)
    assert followup.person_id == robin.id
    assert db.scalars(select(FollowUp).where(FollowUp.report_id == report.id)).all() == [followup]


def test_steps_run_in_order_and_complete_their_links(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    followup = linked_denial(db, cast, clock)
    lead = cast.actor("lead_a")
    with pytest.raises(ValidationFailed, match="step: first deconflict"):
        firearms.complete_step(
            db, lead, followup, step="prior_reports", note="none", now=clock.now()
        )
    with pytest.raises(ValidationFailed, match="note"):
        firearms.complete_step(db, lead, followup, step="deconflict", note=" ", now=clock.now())
    with pytest.raises(ValidationFailed, match="own form"):
        firearms.complete_step(db, lead, followup, step="decide", note="x", now=clock.now())
    clock.advance(hours=2)
    firearms.complete_step(
        db, lead, followup, step=Step.DECONFLICT, note="ATF has no open matter",
        now=clock.now(),
    )  # fmt: skip
    with pytest.raises(Conflict):
        firearms.complete_step(db, lead, followup, step="deconflict", note="x", now=clock.now())
    with pytest.raises(ValidationFailed, match="step: first prior_reports"):
        firearms.decide(db, lead, followup, decision="no_action", now=clock.now())
    firearms.complete_step(
        db, lead, followup, step="prior_reports", note="Two earlier tips", now=clock.now()
    )
    with pytest.raises(ValidationFailed, match="decision"):
        firearms.decide(db, lead, followup, decision="shrug", now=clock.now())
    assert firearms.decide(db, lead, followup, decision="interview", now=clock.now()) is None
    firearms.record_outcome(db, lead, followup, outcome="Interviewed; no threat", now=clock.now())
    assert (followup.status, followup.decision, followup.outcome) == (
        "done",
        "interview",
        "Interviewed; no threat",
    )
    assert followup.decided_at == clock.now() and followup.decided_by_user_id == cast.lead_a.id
    assert set(steps_done(db, followup)) == set(Step)
    links = followup_links(db, followup)
    assert all(links[name].done_at == clock.now() for name in STEP_LINKS[1:])
    assert links["deconflict"].done_at == clock.now()  # no time passed since
    assert links["deconflict"].note == "ATF has no open matter"
    with pytest.raises(Conflict):
        firearms.record_outcome(db, lead, followup, outcome="again", now=clock.now())


def test_a_late_step_is_a_break(db: Session, cast: Cast, clock: FrozenClock) -> None:
    followup = linked_denial(db, cast, clock)
    lead = cast.actor("lead_a")
    firearms.complete_step(db, lead, followup, step="deconflict", note="done", now=clock.now())
    clock.advance(days=3, minutes=1)
    breaks = db.scalars(ledger.breaks_query(clock.now())).all()
    late = sorted(row.link for row in breaks if row.subject_type == "followup")
    assert late == sorted(["prior_reports", "decide", "outcome"])


def test_deciding_to_open_a_case_opens_one_from_the_report(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    followup = linked_denial(db, cast, clock)
    lead = cast.actor("lead_a")
    firearms.complete_step(db, lead, followup, step="deconflict", note="done", now=clock.now())
    firearms.complete_step(db, lead, followup, step="prior_reports", note="none", now=clock.now())
    case = firearms.decide(
        db, lead, followup, decision=Decision.OPEN_CASE, note="Threats to an ex-partner",
        now=clock.now(),
    )  # fmt: skip
    assert case is not None and followup.case_id == case.id
    assert (case.lead_user_id, case.summary) == (cast.lead_a.id, "Threats to an ex-partner")
    assert db.scalar(select(CaseReport.case_id).where(CaseReport.report_id == followup.report_id))
    assert followup.status == "open"  # the outcome is still to be recorded


def test_someone_who_may_not_update_the_report_cannot_work_the_follow_up(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    followup = linked_denial(db, cast, clock)
    with pytest.raises(PermissionDenied):
        firearms.complete_step(
            db, cast.actor("user_c"), followup, step="deconflict", note="x", now=clock.now()
        )
    assert steps_done(db, followup) == {}


def test_a_purchase_attempt_is_followed_up_with_its_straw_indicators(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin = person(db, clock)
    report = attempt(db, cast, clock)
    link_and_follow(db, clock, report, robin)
    followup = followup_of_report(db, report.id)
    assert followup is not None and followup.kind == "purchase_attempt"
    context = firearms.followup_context(db, cast.actor("lead_a"), followup.id, clock.now())
    assert context["straw_indicators"] == ["A companion chose the firearm", "Large cash purchase"]
    assert [s["step"] for s in context["steps"]] == STEP_LINKS
    assert not context["overdue"]
    clock.advance(days=4)
    context = firearms.followup_context(db, cast.actor("lead_a"), followup.id, clock.now())
    assert context["overdue"] and all(s["late"] for s in context["steps"])


def test_the_follow_up_page_lists_the_agencies_to_deconflict_with(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    followup = linked_denial(db, cast, clock)
    context = firearms.followup_context(db, cast.actor("lead_a"), followup.id, clock.now())
    assert context["agencies_notified"] == ["ATF field office", "State Police"]
    assert context["straw_indicators"] == []


def test_a_denial_linked_in_the_same_pass_as_its_triage_starts_its_follow_up(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    """``process_pending(link=True)`` (the demo seed, ``defchain chain process``) links
    and triages in one pass: the link listeners run there too, before the rules look."""
    cast.jurisdiction.intake_agency_id = cast.agency_a.id
    payload = {
        "kind": "nics_denial", "channel": "api", "jurisdiction_id": cast.jurisdiction.id,
        "details": {
            "denied_at": "2026-01-04T15:30:00Z", "transaction_number": "NTN-ONE-PASS",
            "denial_category": "felony_conviction",
            "purchaser": {"name": "Robin Onepass", "date_of_birth": "1991-05-06"},
            "dealer": {"name": "Example Sporting Goods"},
        },
    }  # fmt: skip
    data = parse_report(payload, now=clock.now())
    report = intake_service.receive(db, data=data, source=intake_service.PUBLIC, now=clock.now())
    triage.process_pending(db, now=clock.now(), link=True)
    assert triage.active_link(db, report.id) is not None
    followup = followup_of_report(db, report.id)
    assert followup is not None and followup.status == FollowUpStatus.OPEN.value
    assert set(followup_links(db, followup)) == set(STEP_LINKS)


def test_the_window_counts_from_receipt_not_from_the_link(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    """A denial that waited two days for a person to be found is due a day later, not
    three: the agency's window runs from when the notice arrived."""
    report = denial(db, cast, clock)
    received = report.received_at
    clock.advance(days=2)
    link_and_follow(db, clock, report, person(db, clock))
    followup = followup_of_report(db, report.id)
    assert followup is not None
    assert followup.due_at == received + timedelta(days=3)
    assert all(row.due_at == followup.due_at for row in followup_links(db, followup).values())
