"""Chronic cases: the long-term plan, its care-continuity items, recurring reviews with
no end date, and closing through the same gate as any other case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import cases
from defchain.audit import AuditEvent
from defchain.cases import Case, care, lifecycle
from defchain.cases.models import CaseChange
from defchain.cases.rules import AFTER_HOLD, CARE_ITEM_LABELS
from defchain.clock import FrozenClock
from defchain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from defchain.people import Person, firearms
from tests.conftest import Cast


def tags(db: Session) -> list[str]:
    rows = db.scalars(select(AuditEvent.tag).where(AuditEvent.tag.like("cases:care:%")))
    return list(rows)


@pytest.fixture
def case(db: Session, cast: Cast, clock: FrozenClock) -> Case:
    jayden = Person(display_name="Jayden", created_at=clock.now())
    db.add(jayden)
    db.flush()
    return cases.open_case(
        db, cast.actor("lead_a"), title="Released after a hold", team_id=cast.team.id,
        person_ids=[jayden.id], now=clock.now(),
    )  # fmt: skip


@pytest.fixture
def chronic(db: Session, cast: Cast, clock: FrozenClock, case: Case) -> Case:
    care.set_chronic(
        db, cast.actor("lead_a"), case, chronic=True, with_after_hold=True,
        reason="72-hour hold, released", now=clock.now(),
    )  # fmt: skip
    return case


def test_turning_chronic_on_with_the_after_hold_items(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    assert chronic.chronic is True
    items = care.care_items(db, chronic)
    assert [i.kind for i in items] == [k.value for k in AFTER_HOLD]
    assert [i.title for i in items] == [CARE_ITEM_LABELS[k] for k in AFTER_HOLD]
    assert {i.agency_id for i in items} == {cast.agency_a.id}
    assert all(i.answer == "unknown" and i.active for i in items)
    assert {i.next_review_at for i in items} == {clock.now() + timedelta(days=7)}
    (change,) = db.scalars(select(CaseChange).where(CaseChange.case_id == chronic.id))
    assert (change.kind, change.old, change.new) == ("chronic", "false", "true")
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.tag == "cases:care:chronic_changed"))
    assert event.changes["added_items"] == [None, [i.id for i in items]]


def test_turning_chronic_on_without_items_and_the_reason_it_needs(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        care.set_chronic(db, cast.actor("lead_a"), case, chronic=True, reason="", now=clock.now())
    assert refused.value.field == "reason" and case.chronic is False and tags(db) == []
    care.set_chronic(
        db, cast.actor("lead_a"), case, chronic=True, reason="Long-term support", now=clock.now()
    )
    assert care.care_items(db, case) == []
    with pytest.raises(Conflict) as again:
        care.set_chronic(
            db, cast.actor("lead_a"), case, chronic=True, reason="Once more", now=clock.now()
        )
    assert again.value.field == "chronic"


def test_an_item_names_the_responsible_agency_and_its_cadence(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    item = care.add_care_item(
        db, cast.actor("member_b"), chronic, kind="housing", agency_id=cast.agency_c.id,
        review_every_days=14, now=clock.now(),
    )  # fmt: skip
    assert (item.title, item.agency_id, item.review_every_days) == (
        "Housing stable?",
        cast.agency_c.id,
        14,
    )
    assert item.next_review_at == clock.now() + timedelta(days=14)
    other = care.add_care_item(
        db, cast.actor("lead_a"), chronic, kind="other", title="  School   re-entry plan ",
        agency_id=cast.agency_b.id, now=clock.now(),
    )  # fmt: skip
    assert (other.title, other.review_every_days) == ("School re-entry plan", 30)
    assert tags(db).count("cases:care:item_added") == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "astrology"}, "kind"),
        ({"kind": "other", "title": "  "}, "title"),
        ({"agency_id": 999_999}, "agency_id"),
        ({"review_every_days": 0}, "review_every_days"),
        ({"review_every_days": 366}, "review_every_days"),
    ],
)
def test_a_bad_item_is_refused_naming_the_field(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case, fields: dict, field: str
) -> None:
    data = {"kind": "medication", "agency_id": cast.agency_c.id, **fields}
    before = len(care.care_items(db, chronic))
    with pytest.raises(ValidationFailed) as refused:
        care.add_care_item(db, cast.actor("lead_a"), chronic, now=clock.now(), **data)
    assert refused.value.field == field
    assert len(care.care_items(db, chronic)) == before


def test_only_a_chronic_case_carries_a_plan(
    db: Session, cast: Cast, clock: FrozenClock, case: Case
) -> None:
    with pytest.raises(Conflict) as refused:
        care.add_care_item(
            db, cast.actor("lead_a"), case, kind="medication", agency_id=cast.agency_c.id,
            now=clock.now(),
        )  # fmt: skip
    assert refused.value.field == "chronic"


def test_a_review_records_the_answer_and_moves_the_next_review_forward_forever(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    item = care.care_items(db, chronic)[0]
    for _ in range(3):  # no end date: each review schedules the next
        clock.advance(days=8)
        assert item in care.due_care_reviews(db, chronic, clock.now())
        care.update_care_item(
            db, cast.actor("lead_a"), chronic, item, answer="yes", note="Seen on the 12th",
            now=clock.now(),
        )  # fmt: skip
        assert item.next_review_at == clock.now() + timedelta(days=7)
        assert item not in care.due_care_reviews(db, chronic, clock.now())
    assert (item.answer, item.note, item.updated_by_user_id) == (
        "yes",
        "Seen on the 12th",
        cast.lead_a.id,
    )
    assert tags(db).count("cases:care:item_reviewed") == 3
    with pytest.raises(ValidationFailed) as refused:
        care.update_care_item(
            db, cast.actor("lead_a"), chronic, item, answer="maybe", now=clock.now()
        )
    assert refused.value.field == "answer" and item.answer == "yes"


def test_a_deactivated_item_is_kept_but_no_longer_reviewed(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    item = care.care_items(db, chronic)[0]
    with pytest.raises(ValidationFailed):
        care.deactivate_care_item(
            db, cast.actor("lead_a"), chronic, item, reason="", now=clock.now()
        )
    care.deactivate_care_item(
        db, cast.actor("lead_a"), chronic, item, reason="Appointment kept", now=clock.now()
    )
    clock.advance(days=30)
    assert item not in care.due_care_reviews(db, chronic, clock.now())
    assert care.care_items(db, chronic)[-1] is item and item.active is False
    with pytest.raises(Conflict):
        care.update_care_item(db, cast.actor("lead_a"), chronic, item, answer="no", now=clock.now())


def test_an_item_of_another_case_is_not_found(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    other = cases.open_case(db, cast.actor("lead_a"), title="Another", now=clock.now())
    item = care.care_items(db, chronic)[0]
    with pytest.raises(NotFound):
        care.update_care_item(db, cast.actor("lead_a"), other, item, answer="no", now=clock.now())


def test_ending_the_plan_deactivates_its_items(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    care.set_chronic(
        db, cast.actor("lead_a"), chronic, chronic=False, reason="Stable for a year",
        now=clock.now(),
    )  # fmt: skip
    assert chronic.chronic is False
    assert not any(i.active for i in care.care_items(db, chronic))
    assert care.due_care_reviews(db, chronic, clock.now() + timedelta(days=400)) == []


def test_changing_the_plan_needs_the_right_to_change_the_case(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    item = care.care_items(db, chronic)[0]
    for name in ("user_c", "oversight"):
        actor = cast.actor(name)
        with pytest.raises(PermissionDenied):
            care.update_care_item(db, actor, chronic, item, answer="yes", now=clock.now())
        with pytest.raises(PermissionDenied):
            care.set_chronic(db, actor, chronic, chronic=False, reason="Not mine", now=clock.now())
    assert item.answer == "unknown" and chronic.chronic is True


def test_a_chronic_case_never_closes_by_itself_and_closes_through_the_same_gate(
    db: Session, cast: Cast, clock: FrozenClock, chronic: Case
) -> None:
    lead = cast.actor("lead_a")
    clock.advance(days=400)  # a year of reviews missed: still open, nothing closed it
    assert chronic.status == "open" and chronic.closed_at is None
    with pytest.raises(lifecycle.ClosureRefused) as refused:
        lifecycle.close(db, lead, chronic, reason="Stable for a year", now=clock.now())
    assert {u.condition for u in refused.value.unmet} == {
        "current low assessment",
        "firearm access",
        "plan outcome",
    }
    cases.record_concern(db, lead, chronic, level="low", stage=None, assessed_at=clock.now())
    (subject,) = cases.subjects_of(db, chronic)
    firearms.record(
        db, lead, person_id=subject.id, status="none_known", source="Family", now=clock.now()
    )
    lifecycle.record_plan_outcome(
        db, lead, chronic, outcome="Stable on medication", now=clock.now()
    )
    lifecycle.close(db, lead, chronic, reason="Stable for a year", now=clock.now())
    assert chronic.status == "closed" and chronic.chronic is True
