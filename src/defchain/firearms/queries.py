"""Reads of the firearms domain: the dashboard figures, and the contexts the follow-up
and ERPO pages render. Every list goes through ``visible()``; one object through
``load_for``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from defchain import ledger
from defchain.access import Actor, Permission, load_for, visible
from defchain.cases import Case
from defchain.cases.queries import absorbed_ids
from defchain.errors import NotFound
from defchain.firearms import erpo
from defchain.firearms.models import ErpoOrder, FollowUp, FollowUpStep, Prohibition
from defchain.firearms.rules import (
    DECISION_LABELS,
    ERPO_STAGE_LABELS,
    ERPO_STAGES,
    EXPIRING_WINDOW,
    IN_FORCE,
    STEP_LABELS,
    STEPS,
    Decision,
    ErpoStage,
    FollowUpKind,
    FollowUpStatus,
    count_by_stage,
    median_duration,
    next_stage,
    prohibition_active,
    share_within_window,
)
from defchain.firearms.service import steps_done
from defchain.intake import Report
from defchain.intake.rules import STRAW_LABELS, StrawIndicator
from defchain.people import Person

P = Permission


@dataclass(frozen=True)
class Dashboard:
    """The firearms figures for what the actor may read."""

    denials: int  # denial follow-ups counted (not handed to a case)
    share_within_window: float | None  # outcome recorded by the due time
    median_to_decision: timedelta | None  # from the denial to the decision
    erpos_by_stage: dict[ErpoStage, int]
    expiring: list[ErpoOrder]  # in force, expiring within 30 days, soonest first


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def denied_at(report: Report, followup: FollowUp) -> datetime:
    """When the denial happened: the report's ``denied_at`` (or ``attempted_at``),
    else when the follow-up started."""
    details = report.details or {}
    return (
        _parse(details.get("denied_at"))
        or _parse(details.get("attempted_at"))
        or followup.created_at
    )


def dashboard(session: Session, actor: Actor | None, now: datetime) -> Dashboard:
    """The share of denials with an outcome within the policy window, the median time
    from denial to decision, ERPOs by stage and orders expiring within 30 days.

    Counted over what ``actor`` may read; ``None`` counts everything, for the oversight
    summary, which shows the figures and never the records."""
    report_scope = visible(actor, P.INTAKE_REPORT_READ) if actor is not None else true()
    case_scope = visible(actor, P.CASES_CASE_READ) if actor is not None else true()
    rows = session.execute(
        select(FollowUp, Report)
        .join(Report, Report.id == FollowUp.report_id)
        .where(
            report_scope,
            FollowUp.kind == FollowUpKind.DENIAL.value,
            FollowUp.status != FollowUpStatus.CASE.value,
        )
    ).all()
    windows = [(f.due_at, f.outcome_at) for f, _ in rows if f.due_at is not None]
    to_decision = [f.decided_at - denied_at(r, f) for f, r in rows if f.decided_at is not None]
    orders = session.scalars(
        select(ErpoOrder).join(Case, Case.id == ErpoOrder.case_id).where(case_scope)
    ).all()
    expiring = sorted(
        (
            o
            for o in orders
            if o.stage in {stage.value for stage in IN_FORCE}
            and o.expires_at is not None
            and now < o.expires_at <= now + EXPIRING_WINDOW
        ),
        key=lambda o: (o.expires_at, o.id),
    )
    return Dashboard(
        denials=len(rows),
        share_within_window=share_within_window(windows, now),
        median_to_decision=median_duration([d for d in to_decision if d >= timedelta(0)]),
        erpos_by_stage=count_by_stage(o.stage for o in orders),
        expiring=expiring,
    )


def load_followup(session: Session, actor: Actor, followup_id: int) -> tuple[FollowUp, Report]:
    """A follow-up and its report, if the actor may read the report."""
    followup = session.get(FollowUp, followup_id)
    if followup is None:
        raise NotFound("No such follow-up.")
    report: Report = load_for(session, actor, "report", followup.report_id, P.INTAKE_REPORT_READ)
    return followup, report


def followup_context(
    session: Session, actor: Actor, followup_id: int, now: datetime
) -> dict[str, Any]:
    """What the follow-up page shows: the steps with who did them when and whether the
    step is late, the decisions to choose from, the agencies to deconflict with and, for
    a purchase attempt, the straw-purchase indicators recorded at intake."""
    followup, report = load_followup(session, actor, followup_id)
    done = steps_done(session, followup)
    links = {
        row.link: row
        for row in ledger.links_for(session, subject_type="followup", subject_id=followup.id)
    }
    steps = [
        {
            "step": step.value,
            "label": STEP_LABELS[step],
            "done_at": done[step].done_at if step in done else None,
            "done_by_user_id": done[step].done_by_user_id if step in done else None,
            "note": done[step].note if step in done else "",
            "due_at": links[step.value].due_at if step.value in links else None,
            "late": step.value in links and ledger.is_break(links[step.value], now),
        }
        for step in STEPS
    ]
    details = report.details or {}
    raw_indicators = details.get("straw_indicators") or []
    indicators = [
        STRAW_LABELS.get(StrawIndicator(code), code)
        if code in StrawIndicator.__members__.values()
        else str(code)
        for code in raw_indicators
    ]
    return {
        "followup": followup,
        "report": report,
        "steps": steps,
        "decisions": [(d.value, DECISION_LABELS[d]) for d in Decision],
        "decision_label": DECISION_LABELS[Decision(followup.decision)] if followup.decision else "",
        "agencies_notified": list(details.get("agencies_notified") or []),
        "straw_indicators": indicators,
        "overdue": followup.status == FollowUpStatus.OPEN.value
        and followup.due_at is not None
        and followup.due_at < now,
    }


def erpo_context(session: Session, actor: Actor, order_id: int, now: datetime) -> dict[str, Any]:
    """What the ERPO panel shows: each stage with its time, its deadline and whether it
    is late, the stages it may move to, the inventory and the receipt."""
    order = erpo.get_order(session, order_id)
    case: Case = load_for(session, actor, "case", order.case_id, P.CASES_CASE_READ)
    times = erpo.stage_times(order)
    links = {
        row.link: row for row in ledger.links_for(session, subject_type="erpo", subject_id=order.id)
    }
    stages = [
        {
            "stage": stage.value,
            "label": ERPO_STAGE_LABELS[stage],
            "at": times[stage],
            "due_at": links[stage.value].due_at if stage.value in links else None,
            "late": stage.value in links and ledger.is_break(links[stage.value], now),
            "current": order.stage == stage.value,
        }
        for stage in ERPO_STAGES
    ]
    current = ErpoStage(order.stage)
    later = ERPO_STAGES[ERPO_STAGES.index(current) + 1 :]
    return {
        "order": order,
        "case": case,
        "stages": stages,
        "next_stage": next_stage(current),
        "allowed": [(s.value, ERPO_STAGE_LABELS[s]) for s in later],
        "inventory": erpo.inventory(session, order),
        "receipt": order.receipt,
        "expires_at": order.expires_at,
        "return_at": order.return_at,
        "expiring_soon": order.expires_at is not None
        and now < order.expires_at <= now + EXPIRING_WINDOW,
    }


# --- the follow-up queue and the watch list ---------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    """One follow-up in the queue, with its report, its person and how far it got."""

    followup: FollowUp
    report: Report
    person: Person | None
    steps_done: int
    late: bool  # open and past its due time


QUEUE_STATUSES = tuple(s.value for s in FollowUpStatus)


def followup_queue(
    session: Session, actor: Actor, now: datetime, *, status: str = "open", limit: int = 200
) -> list[QueueRow]:
    """The follow-ups of reports the actor may read: open ones soonest due first (so the
    late ones lead), done ones and those a case took most recent first."""
    chosen = status if status in QUEUE_STATUSES else FollowUpStatus.OPEN.value
    query = (
        select(FollowUp, Report)
        .join(Report, Report.id == FollowUp.report_id)
        .where(visible(actor, P.INTAKE_REPORT_READ), FollowUp.status == chosen)
    )
    if chosen == FollowUpStatus.OPEN.value:
        query = query.order_by(FollowUp.due_at, FollowUp.id)
    else:
        query = query.order_by(FollowUp.created_at.desc(), FollowUp.id.desc())
    rows = session.execute(query.limit(limit)).all()
    ids = [f.id for f, _ in rows]
    counts: dict[int, int] = {}
    if ids:
        counts = dict(
            session.execute(
                select(FollowUpStep.followup_id, func.count())
                .where(FollowUpStep.followup_id.in_(ids))
                .group_by(FollowUpStep.followup_id)
            ).all()
        )
    person_ids = {f.person_id for f, _ in rows if f.person_id is not None}
    persons = (
        {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
        if person_ids
        else {}
    )
    return [
        QueueRow(
            followup=f,
            report=r,
            person=persons.get(f.person_id) if f.person_id is not None else None,
            steps_done=counts.get(f.id, 0),
            late=f.status == FollowUpStatus.OPEN.value and f.due_at is not None and f.due_at < now,
        )
        for f, r in rows
    ]


@dataclass(frozen=True)
class WatchRow:
    """One prohibition with its person and whether it holds now."""

    prohibition: Prohibition
    person: Person
    active: bool


def watch_list(
    session: Session, actor: Actor, now: datetime, *, person_id: int | None = None
) -> list[WatchRow]:
    """The prohibitions the actor may see (people holders see the shared registry):
    those holding now first, then ended or lifted ones, most recent first. With
    ``person_id``, only that person's (and anyone merged into them)."""
    query = (
        select(Prohibition, Person)
        .join(Person, Person.id == Prohibition.person_id)
        .where(visible(actor, P.PEOPLE_PERSON_READ))
    )
    if person_id is not None:
        query = query.where(Prohibition.person_id.in_(absorbed_ids(session, person_id)))
    rows = [
        WatchRow(
            prohibition=row,
            person=person,
            active=prohibition_active(
                starts_at=row.starts_at, ends_at=row.ends_at, lifted_at=row.lifted_at, now=now
            ),
        )
        for row, person in session.execute(query).all()
    ]
    rows.sort(key=lambda w: (not w.active, -w.prohibition.starts_at.timestamp(), -w.prohibition.id))
    return rows
