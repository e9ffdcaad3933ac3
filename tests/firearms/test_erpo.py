"""The ERPO tracker: every stage in order with a frozen clock, the state's hearing
deadline as a link, the watch while the order is in force, the surrender inventory and
receipt, and one expiry reminder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import firearms, ledger
from defchain.audit import AuditEvent
from defchain.cases import Case
from defchain.chain.sweep import sweep
from defchain.clock import FrozenClock
from defchain.errors import PermissionDenied, ValidationFailed
from defchain.firearms import ErpoOrder, ErpoStage, FirearmIn, Prohibition
from defchain.people import Person
from tests.conftest import Cast
from tests.firearms.helpers import case_about, notified, person

DAY = timedelta(days=1)


def links(db: Session, order: ErpoOrder) -> dict[str, ledger.ChainLink]:
    rows = ledger.links_for(db, subject_type="erpo", subject_id=order.id)
    return {row.link: row for row in rows}


def start(
    db: Session, cast: Cast, clock: FrozenClock, state: str = "CA"
) -> tuple[Person, Case, ErpoOrder]:
    robin = person(db, clock)
    case = case_about(db, cast, clock, robin)
    order = firearms.create_order(
        db, cast.actor("lead_a"), case_id=case.id, person_id=robin.id, at=clock.now(),
        now=clock.now(), state=state,
    )  # fmt: skip
    return robin, case, order


def test_an_order_moves_through_every_stage(db: Session, cast: Cast, clock: FrozenClock) -> None:
    lead = cast.actor("lead_a")
    robin, case, order = start(db, cast, clock)
    assert (order.stage, order.state, order.petition_drafted_at) == (
        "petition_drafted",
        "CA",
        clock.now(),
    )
    assert links(db, order)["petition_drafted"].done_at == clock.now()
    assert links(db, order)["filed"].due_at is None  # the law sets no deadline to file

    clock.advance(days=1)
    firearms.advance(db, lead, order, stage="filed", at=clock.now(), now=clock.now())
    clock.advance(days=1)
    ex_parte = clock.now()
    firearms.advance(db, lead, order, stage=ErpoStage.EX_PARTE, at=ex_parte, now=clock.now())
    assert links(db, order)["hearing"].due_at == ex_parte + 21 * DAY  # California
    assert links(db, order)["hearing"].owner_user_id == case.lead_user_id

    clock.advance(days=14)
    firearms.advance(db, lead, order, stage="hearing", at=clock.now(), now=clock.now())
    assert links(db, order)["hearing"].done_at == clock.now()
    with pytest.raises(ValidationFailed, match="expires_at"):
        firearms.advance(db, lead, order, stage="final_order", at=clock.now(), now=clock.now())
    expires = clock.now() + 365 * DAY
    firearms.advance(
        db, lead, order, stage="final_order", at=clock.now(), now=clock.now(),
        expires_at=expires,
    )  # fmt: skip
    assert order.expires_at == expires
    [prohibition] = db.scalars(select(Prohibition).where(Prohibition.order_id == order.id))
    assert (prohibition.kind, prohibition.ends_at) == ("erpo", expires)
    assert firearms.on_watch(db, robin.id, clock.now())

    clock.advance(days=1)
    firearms.advance(db, lead, order, stage="served", at=clock.now(), now=clock.now())
    clock.advance(days=1)
    rows = firearms.record_surrender(
        db, lead, order, receipt="Receipt R-778",
        firearms=[
            FirearmIn("pistol", "Glock", "ABC123", "Property room, locker 4"),
            FirearmIn("rifle", "Ruger", "", "Property room, rack 2"),
        ],
        at=clock.now(), now=clock.now(),
    )  # fmt: skip
    assert order.stage == "surrendered" and order.receipt == "Receipt R-778"
    assert [(r.type, r.serial_number) for r in firearms.erpo.inventory(db, order)] == [
        ("pistol", "ABC123"),
        ("rifle", ""),
    ]
    assert all(r.order_id == order.id for r in rows)
    firearms.set_return_date(db, lead, order, return_at=expires + 30 * DAY, now=clock.now())
    assert order.return_at == expires + 30 * DAY

    clock.set(expires)
    firearms.advance(db, lead, order, stage="expired", at=clock.now(), now=clock.now())
    assert order.stage == "expired" and order.expired_at == clock.now()
    assert not firearms.on_watch(db, robin.id, clock.now())
    every = links(db, order)
    assert set(every) == {s.value for s in ErpoStage}
    assert all(row.done_at is not None for row in every.values())
    tags = db.scalars(
        select(AuditEvent.tag).where(
            AuditEvent.subject_type == "erpo", AuditEvent.subject_id == str(order.id)
        )
    ).all()
    assert tags.count("firearms:erpo:advanced") == 7
    assert "firearms:erpo:surrendered" in tags and "firearms:erpo:created" in tags


def test_an_order_never_goes_back_and_times_run_forward(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    _, _, order = start(db, cast, clock)
    firearms.advance(db, lead, order, stage="hearing", at=clock.now(), now=clock.now())
    assert links(db, order)["ex_parte"].note == "not required: stage skipped"
    with pytest.raises(ValidationFailed, match="stage: the order is at hearing"):
        firearms.advance(db, lead, order, stage="filed", at=clock.now(), now=clock.now())
    with pytest.raises(ValidationFailed, match="served_at: before"):
        firearms.advance(db, lead, order, stage="served", at=clock.now() - DAY, now=clock.now())
    with pytest.raises(ValidationFailed, match="stage: no stage"):
        firearms.advance(db, lead, order, stage="appeal", at=clock.now(), now=clock.now())
    assert order.stage == "hearing"


def test_a_hearing_past_the_states_deadline_is_a_break(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    _, _, order = start(db, cast, clock, state="CO")
    firearms.advance(db, lead, order, stage="ex_parte", at=clock.now(), now=clock.now())
    clock.advance(days=14, minutes=1)
    late = [
        row.link
        for row in db.scalars(ledger.breaks_query(clock.now()))
        if row.subject_type == "erpo"
    ]
    assert late == ["hearing"]


def test_a_state_without_a_known_deadline_sets_none(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    _, _, order = start(db, cast, clock, state="OH")
    firearms.advance(
        db, cast.actor("lead_a"), order, stage="ex_parte", at=clock.now(), now=clock.now()
    )
    assert links(db, order)["hearing"].due_at is None


def test_the_lead_is_reminded_once_before_expiry(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    _, _, order = start(db, cast, clock)
    expires = clock.now() + 90 * DAY
    firearms.advance(
        db, lead, order, stage="final_order", at=clock.now(), now=clock.now(), expires_at=expires
    )
    assert firearms.remind_expiring(db, clock.now()) == 0
    clock.set(expires - 31 * DAY)
    assert firearms.remind_expiring(db, clock.now()) == 0
    clock.set(expires - 30 * DAY)
    assert firearms.remind_expiring(db, clock.now()) == 1
    clock.advance(days=1)
    assert firearms.remind_expiring(db, clock.now()) == 0
    [reminder] = notified(db, cast.lead_a.id, "firearms:erpo:expiring")
    assert reminder.link == f"/cases/{order.case_id}"
    firearms.renew(db, lead, order, expires_at=expires + 365 * DAY, now=clock.now())
    assert order.reminded_at is None
    clock.set(expires + 340 * DAY)
    assert firearms.remind_expiring(db, clock.now()) == 1  # the renewed order, once more


def test_the_sweep_sends_the_reminder(db: Session, cast: Cast, clock: FrozenClock) -> None:
    _, _, order = start(db, cast, clock)
    firearms.advance(
        db, cast.actor("lead_a"), order, stage="final_order", at=clock.now(), now=clock.now(),
        expires_at=clock.now() + 20 * DAY,
    )  # fmt: skip
    sweep(db, now=clock.now())
    sweep(db, now=clock.now())
    assert len(notified(db, cast.lead_a.id, "firearms:erpo:expiring")) == 1


def test_only_a_subject_and_only_those_who_work_the_case(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    robin, case, order = start(db, cast, clock)
    stranger = person(db, clock, "Not On The Case")
    with pytest.raises(ValidationFailed, match="person_id"):
        firearms.create_order(
            db, cast.actor("lead_a"), case_id=case.id, person_id=stranger.id, at=clock.now(),
            now=clock.now(),
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        firearms.advance(
            db, cast.actor("user_c"), order, stage="filed", at=clock.now(), now=clock.now()
        )
    with pytest.raises(ValidationFailed, match="receipt"):
        firearms.record_surrender(
            db, cast.actor("lead_a"), order, firearms=[], receipt=" ", at=clock.now(),
            now=clock.now(),
        )  # fmt: skip
    assert order.stage == "petition_drafted" and robin.id == order.person_id


def test_the_erpo_panel_context(db: Session, cast: Cast, clock: FrozenClock) -> None:
    _, case, order = start(db, cast, clock)
    firearms.advance(
        db, cast.actor("lead_a"), order, stage="ex_parte", at=clock.now(), now=clock.now()
    )
    context = firearms.erpo_context(db, cast.actor("lead_a"), order.id, clock.now())
    assert context["case"] is case
    assert [s["stage"] for s in context["stages"] if s["current"]] == ["ex_parte"]
    hearing = next(s for s in context["stages"] if s["stage"] == "hearing")
    assert hearing["due_at"] == clock.now() + 21 * DAY and not hearing["late"]
    assert context["allowed"][0][0] == "hearing"
