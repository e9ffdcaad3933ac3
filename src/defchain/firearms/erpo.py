"""The ERPO tracker on a case: an extreme risk protection order, stage by stage.

Stages follow ``rules.ERPO_STAGES`` (forward only; a stage may be skipped, e.g. no ex
parte order). Each stage reached completes its ledger link (subject ``erpo``) and opens
the next stage's link, due when the state's law sets a deadline (``STATE_DEADLINES``).
A final order puts the person on the banned-person watch until it expires; the surrender
records an inventory and a receipt; ``remind_expiring`` (run by the sweep) tells the
case lead 30 days before expiry, once, so a renewal can be reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger, notify
from defchain.access import Actor, Jurisdiction, Permission, require
from defchain.cases import Case, subjects_of
from defchain.cases.queries import jurisdiction_of
from defchain.errors import NotFound, ValidationFailed
from defchain.firearms import watch
from defchain.firearms.models import ErpoOrder, Prohibition, SurrenderedFirearm
from defchain.firearms.rules import (
    ERPO_STAGE_LABELS,
    ERPO_STAGES,
    IN_FORCE,
    MAX_NOTE,
    REMIND_BEFORE_EXPIRY,
    STAGE_FIELD,
    ErpoStage,
    ProhibitionKind,
    advance_problem,
    may_add_firearms,
    needs_reminder,
    next_stage,
    stage_deadline,
)

P = Permission
SUBJECT = "erpo"
SYSTEM_LABEL = "firearms"


@dataclass(frozen=True)
class FirearmIn:
    """One firearm of a surrender inventory."""

    type: str
    make: str
    serial_number: str
    stored_at: str


def _audit(
    session: Session,
    actor: Actor,
    tag: str,
    order: ErpoOrder,
    changes: dict[str, Any],
    now: datetime,
) -> None:
    audit.record_by(
        session,
        actor,
        tag=tag,
        subject_type=SUBJECT,
        subject_id=order.id,
        changes=changes,
        at=now,
    )


def _case(session: Session, actor: Actor, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("No such case.")
    require(actor, P.CASES_CASE_UPDATE, case)
    return case


def stage_times(order: ErpoOrder) -> dict[ErpoStage, datetime | None]:
    """When each stage happened (``None`` while it has not)."""
    return {stage: getattr(order, STAGE_FIELD[stage]) for stage in ERPO_STAGES}


def _open_next(session: Session, order: ErpoOrder, case: Case, now: datetime) -> None:
    following = next_stage(ErpoStage(order.stage))
    if following is None:
        return
    ledger.open_link(
        session,
        subject_type=SUBJECT,
        subject_id=order.id,
        link=following.value,
        due_at=stage_deadline(order.state, following, stage_times(order)),
        now=now,
        agency_id=case.agency_id,
        team_id=case.team_id,
        owner_user_id=case.lead_user_id,
    )


def create_order(
    session: Session,
    actor: Actor,
    *,
    case_id: int,
    person_id: int,
    at: datetime,
    now: datetime,
    state: str | None = None,
) -> ErpoOrder:
    """Start tracking an ERPO about a subject of the case, at the drafted petition.
    The state defaults to the case's jurisdiction's."""
    case = _case(session, actor, case_id)
    if person_id not in {s.id for s in subjects_of(session, case)}:
        raise ValidationFailed("person_id: choose a subject of the case", field="person_id")
    if state is None:
        state = case_state(session, case)
    if len(state) != 2:
        raise ValidationFailed("state: a two-letter state code", field="state")
    order = ErpoOrder(
        case_id=case.id,
        person_id=person_id,
        state=state.upper(),
        stage=ErpoStage.PETITION_DRAFTED.value,
        petition_drafted_at=at,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    ledger.complete(
        session,
        subject_type=SUBJECT,
        subject_id=order.id,
        link=ErpoStage.PETITION_DRAFTED.value,
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        agency_id=case.agency_id,
    )
    _open_next(session, order, case, now)
    _audit(
        session,
        actor,
        "firearms:erpo:created",
        order,
        {
            "case_id": [None, case.id],
            "person_id": [None, person_id],
            "stage": [None, order.stage],
            "state": [None, order.state],
        },
        now,
    )
    return order


def case_state(session: Session, case: Case) -> str:
    """The state of the case's jurisdiction, whose law a new order follows by default
    ("" when the case has no jurisdiction)."""
    jurisdiction_id = jurisdiction_of(session, case)
    place = session.get(Jurisdiction, jurisdiction_id) if jurisdiction_id else None
    return place.state if place is not None else ""


def get_order(session: Session, order_id: int) -> ErpoOrder:
    """One order by id."""
    order = session.get(ErpoOrder, order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


def orders_of_case(session: Session, case_id: int) -> list[ErpoOrder]:
    """Every order tracked on the case, oldest first."""
    query = select(ErpoOrder).where(ErpoOrder.case_id == case_id).order_by(ErpoOrder.id)
    return list(session.scalars(query))


def _complete_links(
    session: Session,
    actor: Actor,
    order: ErpoOrder,
    case: Case,
    old: ErpoStage,
    target: ErpoStage,
    now: datetime,
) -> None:
    """The stage reached is done; the stages skipped on the way are not required."""
    for skipped in ERPO_STAGES[ERPO_STAGES.index(old) + 1 : ERPO_STAGES.index(target)]:
        ledger.complete(
            session,
            subject_type=SUBJECT,
            subject_id=order.id,
            link=skipped.value,
            now=now,
            by=actor.label,
            user_id=actor.audit_id,
            note="not required: stage skipped",
            agency_id=case.agency_id,
        )
    ledger.complete(
        session,
        subject_type=SUBJECT,
        subject_id=order.id,
        link=target.value,
        now=now,
        by=actor.label,
        user_id=actor.audit_id,
        agency_id=case.agency_id,
    )


def advance(
    session: Session,
    actor: Actor,
    order: ErpoOrder,
    *,
    stage: ErpoStage | str,
    at: datetime,
    now: datetime,
    expires_at: datetime | None = None,
) -> ErpoOrder:
    """Move the order to ``stage``, which happened (or, for a hearing, is set) ``at``.
    A final order needs ``expires_at`` and puts the person on the watch until then;
    the surrender is recorded with ``record_surrender`` (it needs an inventory)."""
    case = _case(session, actor, order.case_id)
    try:
        target = ErpoStage(stage)
    except ValueError:
        raise ValidationFailed(f"stage: no stage {stage!r}", field="stage") from None
    problem = advance_problem(ErpoStage(order.stage), target)
    if problem:
        raise ValidationFailed(problem, field="stage")
    field = STAGE_FIELD[target]
    before = max((t for t in stage_times(order).values() if t is not None), default=None)
    if before is not None and at < before:
        raise ValidationFailed(f"{field}: before the stage already recorded", field=field)
    if target is ErpoStage.FINAL_ORDER:
        if expires_at is None or expires_at <= at:
            raise ValidationFailed("expires_at: when the final order ends", field="expires_at")
        order.expires_at = expires_at
    old = order.stage
    order.stage = target.value
    setattr(order, field, at)
    order.updated_at = now
    session.flush()
    _complete_links(session, actor, order, case, ErpoStage(old), target, now)
    _open_next(session, order, case, now)
    if target is ErpoStage.FINAL_ORDER:
        _prohibit(session, actor, order, now)
    elif target is ErpoStage.EXPIRED:
        _end_prohibitions(session, order, at)
    _audit(
        session,
        actor,
        "firearms:erpo:advanced",
        order,
        {
            "stage": [old, target.value],
            field: [None, at.isoformat()],
        },
        now,
    )
    return order


def _prohibit(session: Session, actor: Actor, order: ErpoOrder, now: datetime) -> None:
    assert order.final_order_at is not None
    watch.add_prohibition(
        session,
        actor,
        person_id=order.person_id,
        kind=ProhibitionKind.ERPO,
        source=f"ERPO #{order.id} on case #{order.case_id} ({order.state})",
        starts_at=order.final_order_at,
        ends_at=order.expires_at,
        now=now,
        order_id=order.id,
    )


def _end_prohibitions(session: Session, order: ErpoOrder, at: datetime) -> None:
    rows = session.scalars(select(Prohibition).where(Prohibition.order_id == order.id))
    for row in rows:
        if row.ends_at is None or row.ends_at > at:
            row.ends_at = at
    session.flush()


def record_surrender(
    session: Session,
    actor: Actor,
    order: ErpoOrder,
    *,
    firearms: Sequence[FirearmIn],
    receipt: str,
    at: datetime,
    now: datetime,
) -> list[SurrenderedFirearm]:
    """Record the surrender: the inventory (type, make, serial number, where stored)
    and the receipt; the order moves to ``surrendered``."""
    text = _receipt(receipt)
    rows = _inventory_rows(firearms, at)
    advance(session, actor, order, stage=ErpoStage.SURRENDERED, at=at, now=now)
    order.receipt = text
    for row in rows:
        row.order_id = order.id
    session.add_all(rows)
    session.flush()
    _audit(
        session,
        actor,
        "firearms:erpo:surrendered",
        order,
        {
            "firearms": [None, len(rows)],
            "receipt": [None, text],
        },
        now,
    )
    return rows


def _receipt(receipt: str) -> str:
    text = (receipt or "").strip()
    if not text or len(text) > MAX_NOTE:
        raise ValidationFailed("receipt: the receipt given (its number or text)", field="receipt")
    return text


def _inventory_rows(firearms: Sequence[FirearmIn], at: datetime) -> list[SurrenderedFirearm]:
    """The inventory's rows (not yet added), each with its type and where it is stored."""
    rows: list[SurrenderedFirearm] = []
    for index, item in enumerate(firearms):
        if not item.type.strip():
            raise ValidationFailed(f"firearms.{index}.type: required", field="firearms")
        if not item.stored_at.strip():
            raise ValidationFailed(
                f"firearms.{index}.stored_at: where it is stored", field="firearms"
            )
        rows.append(
            SurrenderedFirearm(
                type=item.type.strip()[:60],
                make=item.make.strip()[:120],
                serial_number=item.serial_number.strip()[:60],
                stored_at=item.stored_at.strip()[:300],
                received_at=at,
            )
        )
    return rows


def add_firearms(
    session: Session,
    actor: Actor,
    order: ErpoOrder,
    *,
    firearms: Sequence[FirearmIn],
    receipt: str,
    at: datetime,
    now: datetime,
) -> list[SurrenderedFirearm]:
    """Firearms surrendered after the first surrender (found later, held elsewhere):
    added to the inventory with their own receipt, appended to the order's."""
    _case(session, actor, order.case_id)
    if not may_add_firearms(ErpoStage(order.stage)):
        raise ValidationFailed("stage: record the surrender first", field="stage")
    if not firearms:
        raise ValidationFailed("firearms: list at least one firearm surrendered", field="firearms")
    if order.surrendered_at is not None and at < order.surrendered_at:
        raise ValidationFailed("at: before the first surrender", field="at")
    text = _receipt(receipt)
    rows = _inventory_rows(firearms, at)
    for row in rows:
        row.order_id = order.id
    session.add_all(rows)
    order.receipt = f"{order.receipt}\n{text}" if order.receipt else text
    order.updated_at = now
    session.flush()
    _audit(
        session,
        actor,
        "firearms:erpo:inventory_added",
        order,
        {"firearms": [None, len(rows)], "receipt": [None, text]},
        now,
    )
    return rows


def set_return_date(
    session: Session, actor: Actor, order: ErpoOrder, *, return_at: datetime | None, now: datetime
) -> ErpoOrder:
    """Track when the surrendered firearms are to be (or were) returned."""
    _case(session, actor, order.case_id)
    old = order.return_at
    order.return_at = return_at
    order.updated_at = now
    session.flush()
    _audit(
        session,
        actor,
        "firearms:erpo:return_date",
        order,
        {
            "return_at": [
                old.isoformat() if old else None,
                return_at.isoformat() if return_at else None,
            ],
        },
        now,
    )
    return order


def renew(
    session: Session, actor: Actor, order: ErpoOrder, *, expires_at: datetime, now: datetime
) -> ErpoOrder:
    """A renewed order: a new expiry, the watch extended, and a new reminder due."""
    _case(session, actor, order.case_id)
    if ErpoStage(order.stage) not in IN_FORCE:
        raise ValidationFailed("stage: only an order in force can be renewed", field="stage")
    if order.expires_at is not None and expires_at <= order.expires_at:
        raise ValidationFailed("expires_at: after the current expiry", field="expires_at")
    old = order.expires_at
    order.expires_at = expires_at
    order.reminded_at = None
    order.updated_at = now
    for row in session.scalars(select(Prohibition).where(Prohibition.order_id == order.id)):
        if row.lifted_at is None:
            row.ends_at = expires_at
    session.flush()
    _audit(
        session,
        actor,
        "firearms:erpo:renewed",
        order,
        {
            "expires_at": [old.isoformat() if old else None, expires_at.isoformat()],
        },
        now,
    )
    return order


def inventory(session: Session, order: ErpoOrder) -> list[SurrenderedFirearm]:
    """The order's surrendered firearms."""
    query = select(SurrenderedFirearm).where(SurrenderedFirearm.order_id == order.id)
    return list(session.scalars(query.order_by(SurrenderedFirearm.id)))


def remind_expiring(session: Session, now: datetime) -> int:
    """Tell each case lead, once, that an order in force expires within 30 days, so a
    renewal can be reviewed (the sweep runs it). Returns how many were sent."""
    candidates = session.scalars(
        select(ErpoOrder).where(
            ErpoOrder.reminded_at.is_(None),
            ErpoOrder.expires_at > now,
            ErpoOrder.expires_at <= now + REMIND_BEFORE_EXPIRY,
            ErpoOrder.stage.in_([s.value for s in IN_FORCE]),
        )
    ).all()
    sent = 0
    for order in candidates:
        stage = ErpoStage(order.stage)
        if not needs_reminder(
            stage=stage, expires_at=order.expires_at, reminded_at=order.reminded_at, now=now
        ):
            continue
        case = session.get(Case, order.case_id)
        assert case is not None and order.expires_at is not None
        notify.notify_user(
            session,
            user_id=case.lead_user_id,
            tag="firearms:erpo:expiring",
            subject=f"ERPO #{order.id} on case #{case.id} expires soon: review a renewal",
            body=f"The order expires {order.expires_at:%Y-%m-%d}.",
            link=f"/cases/{case.id}",
            now=now,
        )
        order.reminded_at = now
        audit.record(
            session,
            actor_id=None,
            actor_label=SYSTEM_LABEL,
            tag="firearms:erpo:reminded",
            subject_type=SUBJECT,
            subject_id=order.id,
            changes={
                "reminded_at": [None, now.isoformat()],
                "stage": [None, ERPO_STAGE_LABELS[stage]],
            },
            at=now,
        )
        sent += 1
    session.flush()
    return sent
