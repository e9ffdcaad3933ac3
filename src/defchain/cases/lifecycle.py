"""A case's life: status moves along ``rules.TRANSITIONS``, the lead changes hands only
with a reason, the plan's outcome and the sign-offs are recorded, monitoring check-ins
are scheduled, and the case closes only through ``rules.closure_gate``. Re-opening (by a
person or by the tripwire) starts a new cycle.

Every function flushes and writes its audit event and ``CaseChange`` row in the same
transaction; the boundary commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from defchain import audit, ledger, notify
from defchain.access import Actor, Permission, require
from defchain.cases import rules
from defchain.cases.models import Case, CaseChange, CaseSignOff, CheckIn
from defchain.cases.queries import (
    case_settings,
    jurisdiction_of,
    open_tasks,
    reports_of_case_ids,
    subject_ids_of,
)
from defchain.cases.rules import CaseStatus
from defchain.cases.service import may_work
from defchain.errors import Conflict, ValidationFailed
from defchain.people import firearms

P = Permission
SUBJECT = "case"
MAX_REASON = 2000
CHECKIN_SUBJECT = "checkin"


def _reason(value: str, field: str = "reason", *, required: bool = True) -> str:
    text = rules.clean_text(value)
    if required and len(text) < 5:
        raise ValidationFailed(f"{field}: say why (at least 5 characters)", field=field)
    if len(text) > MAX_REASON:
        raise ValidationFailed(f"{field}: at most {MAX_REASON} characters", field=field)
    return text


def _record(
    session: Session,
    who: Actor | None,
    case: Case,
    *,
    kind: str,
    old: str,
    new: str,
    reason: str,
    now: datetime,
    report_id: int | None = None,
    tag: str,
) -> None:
    """The change on the case's timeline and in the audit log, in one transaction."""
    session.add(
        CaseChange(
            case_id=case.id,
            kind=kind,
            old=old[:200],
            new=new[:200],
            reason=reason,
            user_id=who.audit_id if who else None,
            report_id=report_id,
            at=now,
        )
    )
    changes: dict[str, Any] = {kind: [old, new]}
    if reason:
        changes["reason"] = [None, reason]
    if report_id is not None:
        changes["report_id"] = [None, report_id]
    audit.record(
        session,
        actor_id=who.audit_id if who else None,
        actor_label=who.label if who else "tripwire",
        tag=tag,
        subject_type=SUBJECT,
        subject_id=case.id,
        changes=changes,
        at=now,
    )
    session.flush()


# --- status -----------------------------------------------------------------------------


def move(
    session: Session, actor: Actor, case: Case, *, to: str, reason: str, now: datetime
) -> Case:
    """Move the case to another status the table allows; closing goes through ``close``
    and re-opening through ``reopen``."""
    require(actor, P.CASES_CASE_UPDATE, case)
    try:
        wanted = CaseStatus(to)
        rules.transition(case.status, wanted)
    except ValueError as exc:
        raise ValidationFailed(f"status: {exc}", field="status") from None
    if wanted is CaseStatus.CLOSED:
        return close(session, actor, case, reason=reason, now=now)
    if case.status == CaseStatus.CLOSED or wanted is CaseStatus.OPEN:
        return reopen(session, actor, case, reason=reason, now=now)
    text = _reason(reason, required=False)
    old = case.status
    case.status = wanted.value
    _record(
        session, actor, case, kind="status", old=old, new=wanted.value, reason=text, now=now,
        tag="cases:case:status_changed",
    )  # fmt: skip
    return case


def closure_facts(session: Session, case: Case) -> rules.ClosureFacts:
    """What the closure gate needs, read from the database."""
    subject_ids = subject_ids_of(session, case)
    signed = session.scalars(
        select(CaseSignOff.user_id).where(
            CaseSignOff.case_id == case.id, CaseSignOff.cycle == case.cycle
        )
    )
    scheduled = session.scalar(
        select(func.count(CheckIn.id)).where(
            CheckIn.case_id == case.id, CheckIn.status == "scheduled"
        )
    )
    settings = case_settings(session, jurisdiction_of(session, case))
    return rules.ClosureFacts(
        level_of_concern=case.level_of_concern,
        last_assessed_at=case.last_assessed_at,
        peak_level=case.peak_level,
        transfer_note=case.transfer_note,
        open_tasks=len(open_tasks(session, case)),
        firearm_access=firearms.statuses(session, subject_ids),
        subject_ids=subject_ids,
        plan_outcome=case.plan_outcome,
        lead_user_id=case.lead_user_id,
        signoff_user_ids=list(signed),
        scheduled_checkins=int(scheduled or 0),
        review_days=settings.review_days,
    )


def unmet(session: Session, case: Case, now: datetime) -> list[rules.Unmet]:
    """Every condition the case does not meet for closing (empty: it may close)."""
    return rules.closure_gate(closure_facts(session, case), now)


class ClosureRefused(ValidationFailed):
    """The case may not close yet; ``unmet`` lists every missing condition."""

    def __init__(self, unmet: Sequence[rules.Unmet]) -> None:
        lines = "; ".join(f"{u.condition}: {u.reason}" for u in unmet)
        super().__init__(f"close: the case cannot close yet: {lines}", field="close")
        self.unmet = list(unmet)


def close(session: Session, actor: Actor, case: Case, *, reason: str, now: datetime) -> Case:
    """Close the case when the gate finds nothing missing; otherwise refuse, listing
    every unmet condition. A chronic case closes through the same gate and never by
    itself. The reports' ``closed`` links are completed."""
    require(actor, P.CASES_CASE_UPDATE, case)
    if case.status == CaseStatus.CLOSED:
        raise Conflict("close: the case is already closed", field="close")
    text = _reason(reason)
    missing = unmet(session, case, now)
    if missing:
        raise ClosureRefused(missing)
    old = case.status
    case.status = CaseStatus.CLOSED.value
    case.closed_at = now
    case.flagged_at = None
    _record(
        session, actor, case, kind="status", old=old, new=case.status, reason=text, now=now,
        tag="cases:case:closed",
    )  # fmt: skip
    for report_id in reports_of_case_ids(session, case):
        ledger.complete(
            session,
            subject_type="report",
            subject_id=report_id,
            link="closed",
            now=now,
            by=actor.label,
            user_id=actor.audit_id,
            note=f"case #{case.id} closed",
        )
    return case


def reopen(
    session: Session,
    who: Actor | None,
    case: Case,
    *,
    reason: str,
    now: datetime,
    report_id: int | None = None,
) -> Case:
    """Open a closed or monitored case again: a new cycle (earlier sign-offs no longer
    count), the lead is told. ``who`` is ``None`` for the tripwire."""
    if who is not None:
        require(who, P.CASES_CASE_UPDATE, case)
    try:
        rules.transition(case.status, CaseStatus.OPEN)
    except ValueError as exc:
        raise Conflict(f"reopen: {exc}", field="reopen") from None
    text = _reason(reason)
    old = case.status
    case.status = CaseStatus.OPEN.value
    case.closed_at = None
    case.flagged_at = None
    case.cycle += 1
    _record(
        session, who, case, kind="status", old=old, new=case.status, reason=text, now=now,
        report_id=report_id, tag="cases:case:reopened",
    )  # fmt: skip
    notify.notify_user(
        session,
        user_id=case.lead_user_id,
        tag="cases:case:reopened",
        subject=f"Case #{case.id} re-opened",
        body=f"Case #{case.id} was re-opened: {text}",
        link=f"/cases/{case.id}",
        now=now,
    )
    return case


def flag(session: Session, case: Case, *, reason: str, now: datetime, report_id: int) -> Case:
    """The tripwire in "flag" mode: the case stays as it is, marked for the lead."""
    case.flagged_at = now
    _record(
        session, None, case, kind="flag", old="", new="new information", reason=reason,
        now=now, report_id=report_id, tag="cases:case:flagged",
    )  # fmt: skip
    notify.notify_user(
        session,
        user_id=case.lead_user_id,
        tag="cases:case:flagged",
        subject=f"New information on case #{case.id}",
        body=reason,
        link=f"/cases/{case.id}",
        now=now,
    )
    return case


# --- the lead, the plan, sign-offs ------------------------------------------------------------


def reassign_lead(
    session: Session, actor: Actor, case: Case, *, lead_user_id: int, reason: str, now: datetime
) -> Case:
    """Hand the case to another lead; there is never a moment without one."""
    require(actor, P.CASES_CASE_UPDATE, case)
    text = _reason(reason)
    if lead_user_id == case.lead_user_id:
        raise ValidationFailed(
            "lead_user_id: that person already leads the case", field="lead_user_id"
        )
    may_work(session, lead_user_id, case, "lead_user_id", "its lead")
    old = case.lead_user_id
    case.lead_user_id = lead_user_id
    _record(
        session, actor, case, kind="lead", old=str(old), new=str(lead_user_id), reason=text,
        now=now, tag="cases:case:lead_changed",
    )  # fmt: skip
    notify.notify_user(
        session,
        user_id=lead_user_id,
        tag="cases:case:lead_changed",
        subject=f"You now lead case #{case.id}",
        link=f"/cases/{case.id}",
        now=now,
    )
    return case


def record_plan_outcome(
    session: Session, actor: Actor, case: Case, *, outcome: str, now: datetime
) -> Case:
    """What the management plan achieved, in the team's words (a closure condition)."""
    require(actor, P.CASES_CASE_UPDATE, case)
    text = _reason(outcome, "outcome")
    old = case.plan_outcome
    case.plan_outcome = text
    case.plan_outcome_at = now
    _record(
        session, actor, case, kind="plan", old=old[:200], new=text[:200], reason="", now=now,
        tag="cases:case:plan_outcome",
    )  # fmt: skip
    return case


def record_transfer(
    session: Session, actor: Actor, case: Case, *, note: str, now: datetime
) -> Case:
    """Document that another team or agency took the case over (instead of a low
    assessment, for closure)."""
    require(actor, P.CASES_CASE_UPDATE, case)
    text = _reason(note, "transfer_note")
    old = case.transfer_note
    case.transfer_note = text
    _record(
        session, actor, case, kind="transfer", old=old[:200], new=text[:200], reason="",
        now=now, tag="cases:case:transferred",
    )  # fmt: skip
    return case


def sign_off(
    session: Session, actor: Actor, case: Case, *, note: str, now: datetime
) -> CaseSignOff:
    """The actor signs off that the case may close (once per person per cycle)."""
    require(actor, P.CASES_CASE_UPDATE, case)
    exists = session.scalar(
        select(CaseSignOff.id).where(
            CaseSignOff.case_id == case.id,
            CaseSignOff.cycle == case.cycle,
            CaseSignOff.user_id == actor.user_id,
        )
    )
    if exists:
        raise Conflict("sign_off: you have already signed off in this cycle", field="sign_off")
    row = CaseSignOff(
        case_id=case.id,
        cycle=case.cycle,
        user_id=actor.user_id,
        as_lead=actor.user_id == case.lead_user_id,
        note=_reason(note, "note", required=False),
        at=now,
    )
    session.add(row)
    session.flush()
    audit.record_by(
        session, actor, tag="cases:case:signed_off", subject_type=SUBJECT, subject_id=case.id,
        changes={"cycle": [None, case.cycle], "as_lead": [None, row.as_lead]}, at=now,
    )  # fmt: skip
    return row


def signoffs(session: Session, case: Case) -> list[CaseSignOff]:
    """The sign-offs of the current cycle, oldest first."""
    return list(
        session.scalars(
            select(CaseSignOff)
            .where(CaseSignOff.case_id == case.id, CaseSignOff.cycle == case.cycle)
            .order_by(CaseSignOff.at, CaseSignOff.id)
        )
    )


# --- monitoring ---------------------------------------------------------------------------------


def schedule_checkins(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    dates: Sequence[datetime],
    owner_user_id: int | None,
    now: datetime,
) -> list[CheckIn]:
    """Schedule monitoring check-ins (``rules.default_checkins`` gives 30, 90 and 180
    days). Each is a link of the chain: missed, it is a break that escalates."""
    require(actor, P.CASES_CASE_UPDATE, case)
    if not dates:
        raise ValidationFailed("dates: choose at least one check-in date", field="dates")
    if any(d <= now for d in dates):
        raise ValidationFailed("dates: a check-in is scheduled in the future", field="dates")
    owner = owner_user_id or case.lead_user_id
    may_work(session, owner, case, "owner_user_id", "the owner of a check-in")
    rows = [
        CheckIn(case_id=case.id, owner_user_id=owner, due_at=d, created_at=now)
        for d in sorted(dates)
    ]
    session.add_all(rows)
    session.flush()
    for row in rows:
        ledger.open_link(
            session,
            subject_type=CHECKIN_SUBJECT,
            subject_id=row.id,
            link="reviewed",
            due_at=row.due_at,
            now=now,
            agency_id=case.agency_id,
            team_id=case.team_id,
            owner_user_id=owner,
        )
    audit.record_by(
        session, actor, tag="cases:checkin:scheduled", subject_type=SUBJECT, subject_id=case.id,
        changes={"due": [None, [r.due_at.isoformat() for r in rows]]}, at=now,
    )  # fmt: skip
    return rows


def complete_checkin(
    session: Session, actor: Actor, case: Case, checkin: CheckIn, *, outcome: str, now: datetime
) -> CheckIn:
    """Record what the check-in found; its link in the chain is done."""
    require(actor, P.CASES_CASE_UPDATE, case)
    if checkin.case_id != case.id:
        raise ValidationFailed("checkin: not a check-in of this case", field="checkin")
    if checkin.status != "scheduled":
        raise Conflict("checkin: this check-in is already recorded", field="checkin")
    checkin.outcome = _reason(outcome, "outcome")
    checkin.status = "done"
    checkin.done_at = now
    checkin.done_by_user_id = actor.user_id
    ledger.complete(
        session,
        subject_type=CHECKIN_SUBJECT,
        subject_id=checkin.id,
        link="reviewed",
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        note="check-in done",
    )
    audit.record_by(
        session, actor, tag="cases:checkin:done", subject_type=SUBJECT, subject_id=case.id,
        changes={"checkin": [None, checkin.id]}, at=now,
    )  # fmt: skip
    return checkin


def checkins_of(session: Session, case: Case) -> list[CheckIn]:
    """The case's check-ins, soonest first."""
    return list(
        session.scalars(select(CheckIn).where(CheckIn.case_id == case.id).order_by(CheckIn.due_at))
    )


def changes_of(session: Session, case: Case) -> list[CaseChange]:
    """Status, lead, plan, transfer and flag changes, oldest first (for the timeline)."""
    return list(
        session.scalars(
            select(CaseChange)
            .where(CaseChange.case_id == case.id)
            .order_by(CaseChange.at, CaseChange.id)
        )
    )
