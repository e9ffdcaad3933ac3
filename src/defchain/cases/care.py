"""Chronic cases: a long-term plan of care-continuity items (after a 72-hour hold: was a
follow-up appointment made, attended, is medication continuous, when is the next
contact), each with the agency responsible for it and a review that recurs with no end
date.

A chronic case never closes by itself: nothing here (or anywhere) closes a case except
``lifecycle.close``, called for a person, through the same gate as every other case.
Every write is audited (``cases:care:*``) in the caller's transaction and flushed.

Each due review is a link of the chain (subject ``care``, link ``reviewed``, one per
review: its ref is the due time), owned by the case's lead; a review recorded completes
it and opens the next, so a missed review is a break the sweep escalates like a late
task. An item taken off the plan (or a plan ended) closes its open link.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import audit, ledger
from defchain.access import Actor, Agency, Permission, require
from defchain.cases import rules
from defchain.cases.models import CarePlanItem, Case, CaseChange
from defchain.cases.rules import AFTER_HOLD, CARE_ITEM_LABELS, CareItemKind
from defchain.errors import Conflict, NotFound, ValidationFailed

P = Permission
SUBJECT = "case"
CARE_SUBJECT = "care"  # the chain links of the items' reviews
REVIEW_LINK = "reviewed"
MAX_NOTE = 2000
MAX_REVIEW_DAYS = 365
# A review every 30 days unless the team says otherwise; the items after a hold are
# looked at weekly (the weeks after release are when care most often drops away).
DEFAULT_REVIEW_DAYS = 30
AFTER_HOLD_REVIEW_DAYS = 7


class CareAnswer(StrEnum):
    """The answer to an item's question at its latest review."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


CARE_ANSWER_LABELS: dict[CareAnswer, str] = {
    CareAnswer.YES: "Yes",
    CareAnswer.NO: "No",
    CareAnswer.UNKNOWN: "Unknown",
}


def _reason(value: str, field: str) -> str:
    text = rules.clean_text(value)
    if len(text) < 5:
        raise ValidationFailed(f"{field}: say why (at least 5 characters)", field=field)
    if len(text) > MAX_NOTE:
        raise ValidationFailed(f"{field}: at most {MAX_NOTE} characters", field=field)
    return text


def _audit(
    session: Session, actor: Actor, tag: str, case: Case, changes: dict[str, object], now: datetime
) -> None:
    audit.record_by(
        session, actor, tag=tag, subject_type=SUBJECT, subject_id=case.id, changes=changes, at=now
    )


def _review_days(value: int) -> int:
    if not 1 <= value <= MAX_REVIEW_DAYS:
        raise ValidationFailed(
            f"review_every_days: a whole number of days from 1 to {MAX_REVIEW_DAYS}",
            field="review_every_days",
        )
    return value


def _new_item(
    case: Case, kind: CareItemKind, title: str, agency_id: int, days: int, actor: Actor,
    now: datetime,
) -> CarePlanItem:  # fmt: skip
    return CarePlanItem(
        case_id=case.id,
        kind=kind.value,
        title=title,
        agency_id=agency_id,
        answer=CareAnswer.UNKNOWN.value,
        review_every_days=days,
        next_review_at=now + timedelta(days=days),
        active=True,
        created_at=now,
        updated_at=now,
        updated_by_user_id=actor.audit_id,
    )


def _review_ref(item: CarePlanItem) -> str:
    """One link per review: the review's due time names it."""
    return item.next_review_at.isoformat()


def _open_review(session: Session, case: Case, item: CarePlanItem, now: datetime) -> None:
    ledger.open_link(
        session,
        subject_type=CARE_SUBJECT,
        subject_id=item.id,
        link=REVIEW_LINK,
        ref=_review_ref(item),
        due_at=item.next_review_at,
        now=now,
        agency_id=case.agency_id,
        team_id=case.team_id,
        owner_user_id=case.lead_user_id,
    )


def _end_reviews(session: Session, item: CarePlanItem, actor: Actor, now: datetime) -> None:
    ledger.complete_open(
        session, subject_type=CARE_SUBJECT, subject_id=item.id, now=now, by=actor.label,
        user_id=actor.audit_id, note="not required: the item is off the plan",
    )  # fmt: skip


def set_chronic(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    chronic: bool,
    reason: str,
    now: datetime,
    with_after_hold: bool = False,
) -> list[CarePlanItem]:
    """Mark the case chronic (it carries a long-term plan) or not, with a reason.

    Turning it on with ``with_after_hold`` starts the plan with the items that follow a
    72-hour hold (``rules.AFTER_HOLD``), the case's agency responsible for each until the
    team names another. Turning it off ends the plan: its active items are deactivated.
    Returns the items added or deactivated."""
    require(actor, P.CASES_CASE_UPDATE, case)
    if case.chronic == chronic:
        state = "already chronic" if chronic else "not chronic"
        raise Conflict(f"chronic: the case is {state}", field="chronic")
    text = _reason(reason, "reason")
    if case.status == rules.CaseStatus.CLOSED and chronic:
        raise Conflict(
            "chronic: re-open the case before starting a long-term plan", field="chronic"
        )
    if chronic:
        kinds = AFTER_HOLD if with_after_hold else ()
        touched = [
            _new_item(case, k, CARE_ITEM_LABELS[k], case.agency_id, AFTER_HOLD_REVIEW_DAYS,
                      actor, now)
            for k in kinds
        ]  # fmt: skip
        session.add_all(touched)
        session.flush()
        for item in touched:
            _open_review(session, case, item, now)
    else:
        touched = [item for item in care_items(session, case) if item.active]
        for item in touched:
            item.active = False
            item.updated_at = now
            item.updated_by_user_id = actor.audit_id
            _end_reviews(session, item, actor, now)
    case.chronic = chronic
    session.add(
        CaseChange(
            case_id=case.id, kind="chronic", old=str(not chronic).lower(),
            new=str(chronic).lower(), reason=text, user_id=actor.audit_id, at=now,
        )
    )  # fmt: skip
    session.flush()
    changes: dict[str, object] = {
        "chronic": [not chronic, chronic],
        "reason": [None, text],
        ("added_items" if chronic else "deactivated_items"): [None, [i.id for i in touched]],
    }
    _audit(session, actor, "cases:care:chronic_changed", case, changes, now)
    return touched


def _agency(session: Session, agency_id: int) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None or not agency.active:
        raise ValidationFailed(
            f"agency_id: no active agency with id {agency_id}", field="agency_id"
        )
    return agency


def add_care_item(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    kind: str,
    title: str = "",
    agency_id: int,
    review_every_days: int = DEFAULT_REVIEW_DAYS,
    now: datetime,
) -> CarePlanItem:
    """Add an item to a chronic case's plan: what to check, which agency is responsible,
    how often it is reviewed (first review ``review_every_days`` from now). The title
    defaults to the kind's question; an "other" item needs one."""
    require(actor, P.CASES_CASE_UPDATE, case)
    if not case.chronic:
        raise Conflict("chronic: only a chronic case carries a long-term plan", field="chronic")
    try:
        chosen = CareItemKind(kind)
    except ValueError:
        raise ValidationFailed("kind: choose an item from the list", field="kind") from None
    text = rules.clean_title(title)
    if not text and chosen is CareItemKind.OTHER:
        raise ValidationFailed("title: say what this item checks", field="title")
    if len(text) > rules.MAX_TITLE:
        raise ValidationFailed(f"title: at most {rules.MAX_TITLE} characters", field="title")
    agency = _agency(session, agency_id)
    days = _review_days(review_every_days)
    item = _new_item(case, chosen, text or CARE_ITEM_LABELS[chosen], agency.id, days, actor, now)
    session.add(item)
    session.flush()
    _open_review(session, case, item, now)
    changes: dict[str, object] = {
        "care_item_id": [None, item.id],
        "kind": [None, item.kind],
        "title": [None, item.title],
        "agency_id": [None, item.agency_id],
        "review_every_days": [None, days],
    }
    _audit(session, actor, "cases:care:item_added", case, changes, now)
    return item


def _item_of(case: Case, item: CarePlanItem) -> CarePlanItem:
    if item.case_id != case.id:
        raise NotFound("care_item: not an item of this case's plan", field="care_item")
    if not item.active:
        raise Conflict("care_item: this item is no longer part of the plan", field="care_item")
    return item


def update_care_item(
    session: Session,
    actor: Actor,
    case: Case,
    item: CarePlanItem,
    *,
    answer: str,
    note: str = "",
    now: datetime,
) -> CarePlanItem:
    """Record a review of the item: its answer (yes, no, unknown) and a note. The next
    review is ``review_every_days`` from now; the reviews never end while it is active."""
    require(actor, P.CASES_CASE_UPDATE, case)
    _item_of(case, item)
    try:
        chosen = CareAnswer(answer)
    except ValueError:
        raise ValidationFailed("answer: choose yes, no or unknown", field="answer") from None
    text = rules.clean_text(note)
    if len(text) > MAX_NOTE:
        raise ValidationFailed(f"note: at most {MAX_NOTE} characters", field="note")
    before = {"answer": item.answer, "next_review_at": item.next_review_at.isoformat()}
    ledger.complete(
        session, subject_type=CARE_SUBJECT, subject_id=item.id, link=REVIEW_LINK,
        ref=_review_ref(item), now=now, by=actor.label, user_id=actor.audit_id,
        note=f"answer: {chosen.value}", agency_id=case.agency_id,
    )  # fmt: skip
    item.answer = chosen.value
    item.note = text
    item.next_review_at = now + timedelta(days=item.review_every_days)
    _open_review(session, case, item, now)
    item.updated_at = now
    item.updated_by_user_id = actor.audit_id
    session.flush()
    after = {"answer": item.answer, "next_review_at": item.next_review_at.isoformat()}
    changes: dict[str, object] = {"care_item_id": [None, item.id], **audit.diff(before, after)}
    if text:
        changes["note"] = [None, text]
    _audit(session, actor, "cases:care:item_reviewed", case, changes, now)
    return item


def deactivate_care_item(
    session: Session, actor: Actor, case: Case, item: CarePlanItem, *, reason: str, now: datetime
) -> CarePlanItem:
    """Take an item off the plan (kept, no longer reviewed), with a reason."""
    require(actor, P.CASES_CASE_UPDATE, case)
    _item_of(case, item)
    text = _reason(reason, "reason")
    item.active = False
    item.updated_at = now
    item.updated_by_user_id = actor.audit_id
    _end_reviews(session, item, actor, now)
    session.flush()
    changes: dict[str, object] = {
        "care_item_id": [None, item.id],
        "active": [True, False],
        "reason": [None, text],
    }
    _audit(session, actor, "cases:care:item_deactivated", case, changes, now)
    return item


def care_items(session: Session, case: Case) -> list[CarePlanItem]:
    """The plan's items: active ones first (soonest review first), then the ended ones."""
    rows = session.scalars(
        select(CarePlanItem)
        .where(CarePlanItem.case_id == case.id)
        .order_by(CarePlanItem.next_review_at, CarePlanItem.id)
    )
    return sorted(rows, key=lambda item: not item.active)


def due_care_reviews(session: Session, case: Case, now: datetime) -> list[CarePlanItem]:
    """The active items whose review is due (a chronic case's reviews never end)."""
    if not case.chronic:
        return []
    return [i for i in care_items(session, case) if i.active and i.next_review_at <= now]
