"""The denial follow-up: every NICS denial and every dealer's report of a suspicious
purchase attempt is followed up, step by step, each step a link of the chain.

When the report is linked to a person who is the subject of a case (open, monitored or
closed), the cases tripwire has already re-opened the case (or told its lead) in the
same transaction; the follow-up only records that the case took it (status ``case``).
Otherwise a follow-up opens, due ``FirearmPolicy.followup_days`` (the agency's policy)
after the report was received, with four links (subject ``followup``): deconflict, prior
reports, decide, outcome, all due then. A step done late is a break the sweep escalates
like any other.

Functions flush and never commit; audit events are written in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.access import Actor, Agency, Permission, require
from defchain.cases import Case, open_case, tripwire
from defchain.errors import Conflict, NotFound, ValidationFailed
from defchain.firearms.models import FirearmPolicy, FollowUp, FollowUpStep
from defchain.firearms.rules import (
    DEFAULT_FOLLOWUP_DAYS,
    KIND_OF_REPORT,
    MAX_FOLLOWUP_DAYS,
    MAX_NOTE,
    MIN_FOLLOWUP_DAYS,
    STEPS,
    Decision,
    FollowUpStatus,
    Step,
    followup_due,
    steps_missing_before,
)
from defchain.intake import Report
from defchain.people import ReportLink
from defchain.triage import service as triage

P = Permission
SUBJECT = "followup"
SYSTEM_LABEL = "firearms"


def _record(
    session: Session,
    actor: Actor | None,
    tag: str,
    followup: FollowUp,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    if actor is None:
        audit.record(
            session,
            actor_id=None,
            actor_label=SYSTEM_LABEL,
            tag=tag,
            subject_type=SUBJECT,
            subject_id=followup.id,
            changes=changes,
            at=now,
        )
    else:
        audit.record_by(
            session,
            actor,
            tag=tag,
            subject_type=SUBJECT,
            subject_id=followup.id,
            changes=changes,
            at=now,
        )


def policy_days(session: Session, agency_id: int) -> int:
    """The agency's follow-up window in days (the default without a policy)."""
    row = session.get(FirearmPolicy, agency_id)
    return row.followup_days if row is not None else DEFAULT_FOLLOWUP_DAYS


def set_policy(
    session: Session, actor: Actor, *, agency_id: int, followup_days: int, now: datetime
) -> FirearmPolicy:
    """Set an agency's follow-up window (administrators of agencies)."""
    require(actor, P.ACCESS_AGENCY_WRITE)
    if session.get(Agency, agency_id) is None:
        raise ValidationFailed(f"agency_id: no agency with id {agency_id}", field="agency_id")
    if not MIN_FOLLOWUP_DAYS <= followup_days <= MAX_FOLLOWUP_DAYS:
        raise ValidationFailed(
            f"followup_days: between {MIN_FOLLOWUP_DAYS} and {MAX_FOLLOWUP_DAYS} days",
            field="followup_days",
        )
    row = session.get(FirearmPolicy, agency_id)
    old = row.followup_days if row is not None else None
    if row is None:
        row = FirearmPolicy(agency_id=agency_id, followup_days=followup_days)
        session.add(row)
    row.followup_days = followup_days
    session.flush()
    audit.record_by(
        session,
        actor,
        tag="firearms:policy:updated",
        subject_type="agency",
        subject_id=agency_id,
        changes={"followup_days": [old, followup_days]},
        at=now,
    )
    return row


def followup_of_report(session: Session, report_id: int) -> FollowUp | None:
    """The follow-up of a report, if one was started."""
    return session.scalar(select(FollowUp).where(FollowUp.report_id == report_id))


def _linked_person(session: Session, report: Report) -> int | None:
    link = triage.active_link(session, report.id)
    return link.person_id if link is not None else None


def _case_taking_it(session: Session, report: Report, person_id: int | None) -> Case | None:
    """The case (open, monitored or closed) about the person that the report joins."""
    if person_id is None:
        return None
    cases = tripwire.cases_about(session, person_id)
    if not cases:
        return None
    attached = tripwire.case_of_report(session, report.id)
    return next((c for c in cases if c.id == attached), cases[0])


def start_followup(
    session: Session, report: Report, now: datetime, *, person_id: int | None = None
) -> FollowUp | None:
    """Start (or bring up to date) the follow-up of a denial or purchase-attempt report.

    ``None`` for other kinds. Run again after the report is linked to a person (the
    link listener does): a person with a case hands it to the case (status ``case``,
    its open links closed as not required); otherwise the person is recorded.
    """
    kind = KIND_OF_REPORT.get(report.kind)
    if kind is None:
        return None
    person_id = person_id if person_id is not None else _linked_person(session, report)
    case = _case_taking_it(session, report, person_id)
    followup = followup_of_report(session, report.id)
    if followup is None:
        followup = FollowUp(
            report_id=report.id,
            person_id=person_id,
            agency_id=report.agency_id,
            kind=kind.value,
            status=FollowUpStatus.OPEN.value,
            created_at=now,
        )
        session.add(followup)
        session.flush()
        if case is None:
            _open_links(session, followup, report.received_at, now)
        _record(
            session,
            None,
            "firearms:followup:started",
            followup,
            {
                "report_id": [None, report.id],
                "person_id": [None, person_id],
                "due_at": [None, followup.due_at.isoformat() if followup.due_at else None],
            },
            now,
        )
    elif person_id is not None and followup.person_id != person_id:
        _record(
            session,
            None,
            "firearms:followup:person",
            followup,
            {"person_id": [followup.person_id, person_id]},
            now,
        )
        followup.person_id = person_id
    if case is not None and followup.status == FollowUpStatus.OPEN.value:
        _hand_to_case(session, followup, case, now)
    session.flush()
    return followup


def _open_links(session: Session, followup: FollowUp, received_at: datetime, now: datetime) -> None:
    """The four step links, due the agency's window after the notice was received (not
    after the link: a denial that waited in person review is no less urgent)."""
    followup.due_at = followup_due(received_at, policy_days(session, followup.agency_id))
    for step in STEPS:
        ledger.open_link(
            session,
            subject_type=SUBJECT,
            subject_id=followup.id,
            link=step.value,
            due_at=followup.due_at,
            now=now,
            agency_id=followup.agency_id,
        )


def _hand_to_case(session: Session, followup: FollowUp, case: Case, now: datetime) -> None:
    followup.status = FollowUpStatus.CASE.value
    followup.case_id = case.id
    ledger.complete_open(
        session,
        subject_type=SUBJECT,
        subject_id=followup.id,
        now=now,
        by=SYSTEM_LABEL,
        user_id=None,
        note=f"not required: the person's case #{case.id} took the report",
    )
    _record(
        session,
        None,
        "firearms:followup:to_case",
        followup,
        {
            "status": [FollowUpStatus.OPEN.value, FollowUpStatus.CASE.value],
            "case_id": [None, case.id],
        },
        now,
    )


def on_report_linked(session: Session, report: Report, link: ReportLink, now: datetime) -> None:
    """The link listener (registered with triage, after the cases tripwire)."""
    if report.kind in KIND_OF_REPORT:
        start_followup(session, report, now, person_id=link.person_id)


# --- the steps -------------------------------------------------------------------------


def _report_for(session: Session, actor: Actor, followup: FollowUp) -> Report:
    report = session.get(Report, followup.report_id)
    if report is None:
        raise NotFound("No such report.")
    require(actor, P.INTAKE_REPORT_UPDATE, report)
    return report


def steps_done(session: Session, followup: FollowUp) -> dict[Step, FollowUpStep]:
    """The follow-up's steps done so far, by step."""
    rows = session.scalars(select(FollowUpStep).where(FollowUpStep.followup_id == followup.id))
    return {Step(row.step): row for row in rows}


def _note(note: str, *, required: bool, field: str = "note") -> str:
    text = (note or "").strip()
    if required and not text:
        raise ValidationFailed(f"{field}: say what was done", field=field)
    if len(text) > MAX_NOTE:
        raise ValidationFailed(f"{field}: at most {MAX_NOTE} characters", field=field)
    return text


def _do_step(
    session: Session, actor: Actor, followup: FollowUp, step: Step, note: str, now: datetime
) -> FollowUpStep:
    _report_for(session, actor, followup)
    if followup.status != FollowUpStatus.OPEN.value:
        raise Conflict(f"step: the follow-up is {followup.status}, not open")
    done = steps_done(session, followup)
    if step in done:
        raise Conflict(f"step: {step.value} was already done")
    missing = steps_missing_before(step, done)
    if missing:
        raise ValidationFailed(f"step: first {', '.join(s.value for s in missing)}", field="step")
    row = FollowUpStep(
        followup_id=followup.id,
        step=step.value,
        done_at=now,
        done_by_user_id=actor.audit_id,
        note=note,
    )
    session.add(row)
    ledger.complete(
        session,
        subject_type=SUBJECT,
        subject_id=followup.id,
        link=step.value,
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        note=note,
        agency_id=followup.agency_id,
    )
    session.flush()
    return row


def complete_step(
    session: Session,
    actor: Actor,
    followup: FollowUp,
    *,
    step: Step | str,
    note: str,
    now: datetime,
) -> FollowUpStep:
    """Record the deconfliction or the check for prior reports (with what was found).
    Deciding and recording the outcome have their own functions."""
    try:
        chosen = Step(step)
    except ValueError:
        raise ValidationFailed(f"step: no step {step!r}", field="step") from None
    if chosen in (Step.DECIDE, Step.OUTCOME):
        raise ValidationFailed(f"step: record {chosen.value} with its own form", field="step")
    row = _do_step(session, actor, followup, chosen, _note(note, required=True), now)
    _record(session, actor, "firearms:followup:step", followup, {"step": [None, chosen.value]}, now)
    return row


def decide(
    session: Session,
    actor: Actor,
    followup: FollowUp,
    *,
    decision: Decision | str,
    note: str = "",
    now: datetime,
) -> Case | None:
    """Record the decision; ``open_case`` opens a threat case from the report (led by
    the actor) and returns it."""
    try:
        chosen = Decision(decision)
    except ValueError:
        raise ValidationFailed(f"decision: no decision {decision!r}", field="decision") from None
    text = _note(note, required=False)
    _do_step(session, actor, followup, Step.DECIDE, text, now)
    case: Case | None = None
    if chosen is Decision.OPEN_CASE:
        report = _report_for(session, actor, followup)
        case = open_case(
            session,
            actor,
            title=f"Threat case from firearm report #{report.id}",
            summary=text,
            report_ids=[report.id],
            now=now,
        )
        followup.case_id = case.id
    followup.decision = chosen.value
    followup.decided_at = now
    followup.decided_by_user_id = actor.audit_id
    session.flush()
    _record(
        session,
        actor,
        "firearms:followup:decided",
        followup,
        {
            "decision": [None, chosen.value],
            "case_id": [None, followup.case_id],
        },
        now,
    )
    return case


def record_outcome(
    session: Session, actor: Actor, followup: FollowUp, *, outcome: str, now: datetime
) -> FollowUp:
    """Record what came of the decision; the follow-up is done."""
    text = _note(outcome, required=True, field="outcome")
    _do_step(session, actor, followup, Step.OUTCOME, text, now)
    followup.outcome = text
    followup.outcome_at = now
    followup.status = FollowUpStatus.DONE.value
    session.flush()
    _record(
        session,
        actor,
        "firearms:followup:done",
        followup,
        {
            "status": [FollowUpStatus.OPEN.value, FollowUpStatus.DONE.value],
        },
        now,
    )
    return followup


def register() -> None:
    """Follow up every linked denial or attempt (called at import of the domain)."""
    triage.register_link_listener(on_report_linked)
