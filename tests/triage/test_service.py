"""The flow after receipt and a person's triage: suggestions, routing, hand-offs, the chain's
links and deadlines, P1 alerts, clusters, and the sweep's escalations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import ledger
from defchain.access import Grant
from defchain.audit import AuditEvent
from defchain.chain.pipeline import mark_failed
from defchain.chain.sweep import escalation_chain, sweep
from defchain.clock import FrozenClock
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.intake import Report
from defchain.ledger import ChainAlert, ChainLink
from defchain.notify import Notification
from defchain.triage import HandOff, RoutingRule, TriageSuggestion
from defchain.triage import deadlines as dl
from defchain.triage import service as triage
from tests.conftest import Cast, receive_public_tip

# Intent plus preparation, every other question answered: P2 with nothing left open.
SERIOUS = {
    "threat_to_others": "yes",
    "preparation": "yes",
    "weapons": "no",
    "date_or_target": "no",
    "self_harm": "no",
    "grievance": "no",
    "setting": "public_place",
}


def tip(db: Session, cast: Cast, clock: FrozenClock, **fields: Any) -> Report:
    fields.setdefault("narrative", "He said he would hurt people at the mall next week.")
    return receive_public_tip(db, cast, clock, **fields)


def run(db: Session, clock: FrozenClock) -> list[triage.Processed]:
    return triage.process_pending(db, now=clock.now())


def link_of(db: Session, report: Report, name: str, ref: str = "") -> ChainLink:
    row = ledger.find(db, subject_type="report", subject_id=report.id, link=name, ref=ref)
    assert row is not None, f"no {name} link"
    return row


def notified(db: Session, user_id: int, tag: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if tag:
        query = query.where(Notification.tag == tag)
    return list(db.scalars(query.order_by(Notification.id)))


def rule(db: Session, cast: Cast, clock: FrozenClock, **values: Any) -> RoutingRule:
    now = clock.now()
    row = RoutingRule(
        name=values.pop("name", "test rule"),
        position=values.pop("position", 10),
        agency_id=values.pop("agency_id", cast.agency_a.id),
        created_at=now,
        updated_at=now,
        **values,
    )
    db.add(row)
    db.flush()
    return row


# --- suggestion and chain links ---------------------------------------------------------


def test_danger_now_is_p1_with_its_reason_deadline_and_alerts(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    cast.analyst_a.on_duty = True
    rule(db, cast, clock, team_id=cast.team.id)
    report = tip(db, cast, clock, danger_now=True)
    [done] = run(db, clock)
    assert done.priority == "P1" and done.report_id == report.id
    assert report.priority == "P1" and report.triage_state == "suggested"
    suggestion = triage.latest_suggestion(db, report.id)
    assert suggestion is not None
    assert "P1-DANGER-NOW" in [f["rule"] for f in suggestion.fired]
    assert all(f["reason"] for f in suggestion.fired)
    ack = link_of(db, report, "acknowledged")
    expected = dl.deadlines_for("P1", needs_person=False).links["acknowledged"]
    assert ack.due_at == report.received_at + expected
    assert expected <= timedelta(minutes=15)
    assert link_of(db, report, "received").done_at == report.received_at
    assert link_of(db, report, "routed").done_at is not None
    # On duty analyst and the team's lead, at once, urgent (quiet hours do not hold it).
    for user in (cast.analyst_a, cast.lead_a):
        [alert] = notified(db, user.id, "triage:p1")
        assert alert.urgent and "call 911" in alert.subject.lower()
    assert report.team_id == cast.team.id
    events = db.scalars(select(AuditEvent.tag).where(AuditEvent.subject_id == str(report.id))).all()
    assert "triage:report:suggested" in events


def test_unanswered_tip_needs_a_person_and_is_never_p4(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock)
    [done] = run(db, clock)
    assert done.needs_person
    assert report.priority != "P4"
    suggestion = triage.latest_suggestion(db, report.id)
    assert suggestion is not None and suggestion.unknown
    assert any(f["missing"] for f in suggestion.unknown)
    # Its links run on the needs-a-person row (or shorter).
    row = dl.deadlines_for(None, needs_person=True)
    assert link_of(db, report, "triaged").due_at <= report.received_at + row.links["triaged"]


def test_processing_takes_each_report_once(db: Session, cast: Cast, clock: FrozenClock) -> None:
    tip(db, cast, clock)
    tip(db, cast, clock, narrative="Someone is posting about a grudge against the school.")
    assert len(run(db, clock)) == 2
    assert run(db, clock) == []
    assert db.scalar(select(func.count(TriageSuggestion.id))) == 2


def test_a_report_the_flow_cannot_handle_needs_a_person(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock)
    mark_failed(db, report_id=report.id, error="boom", now=clock.now())
    assert report.processed_at is not None and report.priority is None
    suggestion = triage.latest_suggestion(db, report.id)
    assert suggestion is not None and suggestion.needs_person
    assert link_of(db, report, "triaged").done_at is None
    assert run(db, clock) == []


# --- a person decides -------------------------------------------------------------------


def test_accepting_needs_no_reason_and_completes_the_links(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    [done] = run(db, clock)
    assert done.priority == "P2" and not done.needs_person, done
    clock.advance(minutes=5)
    decision = triage.decide(
        db, actor=cast.actor("analyst_a"), report=report, priority="P2", reason="", now=clock.now()
    )
    assert not decision.overridden and report.triage_state == "decided"
    for name in ("acknowledged", "triaged"):
        assert link_of(db, report, name).done_at == clock.now()
    assessed = link_of(db, report, "assessed")
    assert assessed.done_at is None
    assert assessed.due_at == report.received_at + timedelta(hours=24)


def test_override_needs_a_reason_naming_the_field(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    run(db, clock)
    with pytest.raises(ValidationFailed) as refused:
        triage.decide(
            db,
            actor=cast.actor("analyst_a"),
            report=report,
            priority="P4",
            reason=" ",
            now=clock.now(),
        )
    assert refused.value.field == "reason"
    assert report.priority == "P2"
    with pytest.raises(ValidationFailed) as bad:
        triage.decide(
            db,
            actor=cast.actor("analyst_a"),
            report=report,
            priority="P9",
            reason="x" * 10,
            now=clock.now(),
        )
    assert bad.value.field == "priority"
    decision = triage.decide(
        db,
        actor=cast.actor("analyst_a"),
        report=report,
        priority="P3",
        reason="Spoke with the reporter: a joke between friends, no plan.",
        now=clock.now(),
    )
    assert decision.overridden and report.priority == "P3"
    tags = db.scalars(select(AuditEvent.tag).where(AuditEvent.subject_id == str(report.id))).all()
    assert "triage:report:decided" in tags
    # The P2 "assessed" link is not required at P3 and can no longer break.
    assert link_of(db, report, "assessed").done_at is not None


def test_someone_outside_the_owning_agency_cannot_triage(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    run(db, clock)
    with pytest.raises(NotFound):
        triage.decide(
            db, actor=cast.actor("user_c"), report=report, priority="P2", reason="", now=clock.now()
        )


# --- routing and hand-offs --------------------------------------------------------------


def test_a_routing_rule_hands_the_report_off_and_the_receiver_must_acknowledge(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    rule(db, cast, clock, agency_id=cast.agency_b.id, school_contains="lincoln")
    report = tip(db, cast, clock, subject={"name": "Pat Example", "school": "Lincoln High"})
    run(db, clock)
    assert report.agency_id == cast.agency_b.id
    [handoff] = triage.handoffs_for(db, report.id)
    assert handoff.kind == "owner" and handoff.from_agency_id == cast.agency_a.id
    ack = link_of(db, report, "acknowledged", f"handoff:{handoff.id}")
    assert ack.agency_id == cast.agency_b.id and ack.due_at == handoff.due_at
    # The sender keeps read access through a grant.
    grant = db.scalar(
        select(Grant).where(Grant.resource_id == report.id, Grant.grantee_id == cast.agency_a.id)
    )
    assert grant is not None and grant.level == "read"
    with pytest.raises(NotFound):  # only the receiving agency acknowledges
        triage.acknowledge_handoff(
            db, actor=cast.actor("analyst_a"), handoff_id=handoff.id, now=clock.now()
        )
    triage.acknowledge_handoff(
        db, actor=cast.actor("member_b"), handoff_id=handoff.id, now=clock.now()
    )
    assert ack.done_at == clock.now()
    with pytest.raises(Conflict):
        triage.acknowledge_handoff(
            db, actor=cast.actor("member_b"), handoff_id=handoff.id, now=clock.now()
        )


def test_an_info_copy_is_not_a_hand_off(db: Session, cast: Cast, clock: FrozenClock) -> None:
    report = tip(db, cast, clock)
    run(db, clock)
    copy = triage.hand_off(
        db,
        actor=cast.actor("analyst_a"),
        report=report,
        to_agency_id=cast.agency_c.id,
        to_team_id=None,
        kind="info",
        reason="They know the family",
        now=clock.now(),
    )
    assert copy.kind == "info" and copy.due_at is None
    assert report.agency_id == cast.agency_a.id
    assert (
        ledger.find(
            db,
            subject_type="report",
            subject_id=report.id,
            link="acknowledged",
            ref=f"handoff:{copy.id}",
        )
        is None
    )
    assert triage.open_handoffs(db, agency_id=cast.agency_c.id) == []


def test_hand_off_refuses_bad_input_naming_the_field(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock)
    run(db, clock)
    analyst = cast.actor("analyst_a")
    for kwargs, field in (
        ({"to_agency_id": 99999, "reason": "a good reason"}, "to_agency_id"),
        ({"to_agency_id": cast.agency_a.id, "reason": "a good reason"}, "to_agency_id"),
        ({"to_agency_id": cast.agency_b.id, "reason": ""}, "reason"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            triage.hand_off(
                db,
                actor=analyst,
                report=report,
                to_team_id=None,
                kind="owner",
                now=clock.now(),
                **kwargs,
            )
        assert refused.value.field == field
    assert db.scalar(select(func.count(HandOff.id))) == 0


# --- the sweep --------------------------------------------------------------------------


def test_unacknowledged_hand_off_escalates_step_by_step_and_never_twice(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    agency_b = cast.agency_b
    agency_b.primary_contact_id = cast.member_b.id
    agency_b.head_user_id = cast.user_c.id  # any enabled user will do for the test
    report = tip(db, cast, clock, details=SERIOUS)
    run(db, clock)
    handoff = triage.hand_off(
        db,
        actor=cast.actor("analyst_a"),
        report=report,
        to_agency_id=agency_b.id,
        to_team_id=cast.team.id,
        kind="owner",
        reason="Student of their district",
        now=clock.now(),
    )
    ack = link_of(db, report, "acknowledged", f"handoff:{handoff.id}")
    chain = [role for role, _ in escalation_chain(db, ack)]
    assert chain == ["primary", "team_lead", "head"]
    assert sweep(db, now=clock.now()).alerts == 0 or ack.due_at is None  # not late yet
    assert handoff.due_at is not None
    every = dl.deadlines_for("P2", needs_person=False).escalate_every
    clock.set(handoff.due_at + timedelta(seconds=1))
    first = sweep(db, now=clock.now())
    steps = db.scalars(select(ChainAlert.step).where(ChainAlert.link_id == ack.id)).all()
    assert steps == [0] and first.alerts >= 1
    told = [n.subject for n in notified(db, cast.member_b.id, "chain:break")]
    assert len([s for s in told if "(hand-off)" in s]) == 1, told
    again = sweep(db, now=clock.now())
    assert db.scalar(select(func.count(ChainAlert.id)).where(ChainAlert.link_id == ack.id)) == 1
    assert again.alerts <= first.alerts - 1 or again.alerts == 0
    clock.set(handoff.due_at + every * 2 + timedelta(seconds=1))
    sweep(db, now=clock.now())
    steps = db.scalars(
        select(ChainAlert.step).where(ChainAlert.link_id == ack.id).order_by(ChainAlert.step)
    ).all()
    assert steps == [0, 1, 2]
    assert notified(db, cast.lead_a.id, "chain:break") and notified(
        db, cast.user_c.id, "chain:break"
    )
    escalated = db.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.tag == "chain:link:escalated")
    )
    assert escalated is not None and escalated >= 3
    # Acknowledging ends the break: nothing more is sent.
    triage.acknowledge_handoff(
        db, actor=cast.actor("member_b"), handoff_id=handoff.id, now=clock.now()
    )
    clock.advance(hours=48)
    before = db.scalar(select(func.count(ChainAlert.id)).where(ChainAlert.link_id == ack.id))
    sweep(db, now=clock.now())
    assert (
        db.scalar(select(func.count(ChainAlert.id)).where(ChainAlert.link_id == ack.id)) == before
    )


def test_breaks_are_computed_from_due_and_done(db: Session, cast: Cast, clock: FrozenClock) -> None:
    report = tip(db, cast, clock, danger_now=True)
    run(db, clock)
    assert not list(db.scalars(ledger.breaks_query(clock.now())))
    clock.advance(minutes=16)
    late = {row.link for row in db.scalars(ledger.breaks_query(clock.now()))}
    assert "acknowledged" in late
    triage.acknowledge(db, actor=cast.actor("analyst_a"), report=report, now=clock.now())
    late = {row.link for row in db.scalars(ledger.breaks_query(clock.now()))}
    assert "acknowledged" not in late


# --- clusters ---------------------------------------------------------------------------


def test_near_duplicate_tips_form_one_cluster_and_can_be_triaged_together(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    text = (
        "A man in a red jacket was seen carrying a rifle case into the Riverside Mall "
        "parking garage on level three near the north entrance this afternoon."
    )
    first = tip(db, cast, clock, narrative=text)
    clock.advance(minutes=3)
    second = tip(db, cast, clock, narrative=text.replace("this afternoon", "about an hour ago"))
    clock.advance(minutes=3)
    other = tip(db, cast, clock, narrative="My neighbour keeps complaining about parking fees.")
    run(db, clock)
    members = {m.report_id: m for m in db.scalars(select(triage.ClusterMember))}
    assert first.id in members and second.id in members and other.id not in members
    assert members[first.id].cluster_id == members[second.id].cluster_id
    assert members[second.id].reason == "text" and members[second.id].other_report_id == first.id
    decided = triage.decide_cluster(
        db,
        actor=cast.actor("analyst_a"),
        cluster_id=members[first.id].cluster_id,
        priority="P2",
        reason="Same sighting reported twice; treat as one.",
        now=clock.now(),
    )
    assert decided == 2
    assert first.priority == second.priority == "P2" and other.triage_state == "suggested"


# --- the pipeline's two stages ----------------------------------------------------------


def test_first_stage_suggests_without_linking_and_second_stage_links_and_clusters(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    text = "Pat Example said he will bring his rifle to the Lincoln High homecoming game."
    subject = {
        "name": "Pat Example",
        "online_handle": "@pat_example_77",
        "phone": "+1 614 555 0142",
        "date_of_birth": "2009-03-14",
    }
    first = tip(db, cast, clock, narrative=text, subject=subject)
    second = tip(db, cast, clock, narrative=text, subject=subject)
    done = triage.process_pending(db, now=clock.now(), link=False)
    assert [d.report_id for d in done] == [first.id, second.id]
    assert triage.active_link(db, first.id) is None
    pending_link = ledger.find(db, subject_type="report", subject_id=first.id, link="linked")
    assert pending_link is None or pending_link.done_at is None
    assert triage.link_processed(db, now=clock.now()) == 2
    assert triage.link_processed(db, now=clock.now()) == 0
    one, two = triage.active_link(db, first.id), triage.active_link(db, second.id)
    assert one is not None and two is not None and one.person_id == two.person_id
    assert link_of(db, first, "linked").done_at == clock.now()
    members = {m.report_id: m for m in db.scalars(select(triage.ClusterMember))}
    assert members[first.id].cluster_id == members[second.id].cluster_id


def test_pipeline_drain_handles_every_waiting_report_and_survives_a_failing_one(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    from defchain.chain.pipeline import Pipeline

    good = tip(db, cast, clock, details=SERIOUS)
    bad = tip(db, cast, clock, narrative="This report's details cannot be read by the rules.")

    def factory() -> Session:
        return Session(bind=db.connection(), join_transaction_mode="create_savepoint")

    # A kind the database accepts but whose details break the rules' reading of them.
    bad.details = ["not", "a", "mapping"]  # type: ignore[assignment]
    db.flush()
    pipeline = Pipeline(factory, clock, round_size=10)
    assert pipeline.drain() >= 1
    db.expire_all()
    assert db.get(Report, good.id).priority == "P2"  # type: ignore[union-attr]
    failed = db.get(Report, bad.id)
    assert failed is not None and failed.processed_at is not None and failed.priority is None
    suggestion = triage.latest_suggestion(db, bad.id)
    assert suggestion is not None and suggestion.needs_person
    assert suggestion.unknown[0]["rule"] == "PIPELINE-ERROR"


def test_a_tip_that_names_nobody_has_no_person_facts_to_wait_for(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    report = tip(db, cast, clock, details=SERIOUS)
    assert not triage.has_subject(report)  # intake stored every subject field, all empty
    [done] = run(db, clock)
    assert done.priority == "P2" and not done.needs_person
    suggestion = triage.latest_suggestion(db, report.id)
    assert suggestion is not None
    missing = " ".join(m for f in suggestion.unknown for m in f["missing"])
    assert "watch" not in missing and "open or monitored case" not in missing
    named = tip(db, cast, clock, details=SERIOUS, subject={"name": "Robin Sample"})
    assert triage.has_subject(named)
    run(db, clock)
    named_suggestion = triage.latest_suggestion(db, named.id)
    assert named_suggestion is not None
    # Until the subject is linked, what the registry knows about them is not known.
    missing = " ".join(m for f in named_suggestion.unknown for m in f["missing"])
    assert "known to have access to weapons" in missing


def test_a_person_deciding_a_review_completes_the_linked_link_and_looks_again(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    from defchain.people import ReviewItem
    from defchain.people import service as people

    cast.analyst_a.on_duty = True
    subject = {"name": "Casey Sample", "school": "Lincoln High"}
    tip(db, cast, clock, details={**SERIOUS, "weapons": "yes"}, subject=subject)
    named_a_target = {**SERIOUS, "date_or_target": "yes"}
    second = tip(db, cast, clock, details=named_a_target, subject={"name": "Casey Sample"})
    triage.process_pending(db, now=clock.now(), link=False)
    triage.link_processed(db, now=clock.now())
    item = db.scalar(select(ReviewItem).where(ReviewItem.report_id == second.id))
    assert item is not None, "a name alone is a grey-zone match"
    # A target named, no weapons seen: whether the person can get weapons decides P1.
    assert second.priority == "P2"
    first_suggestion = triage.latest_suggestion(db, second.id)
    assert first_suggestion is not None and first_suggestion.needs_person
    before = db.scalar(
        select(func.count(TriageSuggestion.id)).where(TriageSuggestion.report_id == second.id)
    )
    link = people.decide_review(
        db,
        actor=cast.actor("analyst_a"),
        item_id=item.id,
        person_id=item.candidates[0]["person_id"],
        reason="Same student: the school confirmed.",
        now=clock.now(),
    )
    triage.after_person_linked(db, report=second, now=clock.now())
    assert link_of(db, second, "linked").done_at == clock.now()
    after = db.scalar(
        select(func.count(TriageSuggestion.id)).where(TriageSuggestion.report_id == second.id)
    )
    # Linked, the person's earlier report says they have weapons: a target plus means.
    assert after == (before or 0) + 1
    assert link.person_id == item.candidates[0]["person_id"]
    assert second.priority == "P1"
    [alert] = notified(db, cast.analyst_a.id, "triage:p1")
    assert alert.urgent
