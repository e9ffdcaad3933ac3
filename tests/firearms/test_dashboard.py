"""The firearms dashboard: the share of denials with an outcome within the policy window,
the median time from denial to decision, ERPOs by stage, orders expiring soon; each
counted only over what the actor may read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from defchain import firearms
from defchain.clock import FrozenClock
from defchain.firearms import ErpoStage, FollowUp
from defchain.firearms.service import followup_of_report
from tests.conftest import Cast
from tests.firearms.helpers import case_about, denial, link_and_follow, person

DAY = timedelta(days=1)


def followed(db: Session, cast: Cast, clock: FrozenClock, number: str) -> FollowUp:
    report = denial(db, cast, clock, number)
    link_and_follow(db, clock, report, person(db, clock, f"Person {number}"))
    followup = followup_of_report(db, report.id)
    assert followup is not None
    return followup


def finish(db: Session, cast: Cast, clock: FrozenClock, followup: FollowUp) -> None:
    lead = cast.actor("lead_a")
    for step in ("deconflict", "prior_reports"):
        firearms.complete_step(db, lead, followup, step=step, note="done", now=clock.now())
    firearms.decide(db, lead, followup, decision="no_action", now=clock.now())
    firearms.record_outcome(db, lead, followup, outcome="Nothing further", now=clock.now())


def test_the_denial_figures(db: Session, cast: Cast, clock: FrozenClock) -> None:
    # The denials happened 2026-01-04 15:30 UTC; the clock starts 2026-01-05 09:00.
    on_time = followed(db, cast, clock, "NTN-1001")
    late = followed(db, cast, clock, "NTN-1002")
    waiting = followed(db, cast, clock, "NTN-1003")
    clock.advance(days=1)
    finish(db, cast, clock, on_time)  # decided 1 day 17.5 hours after the denial
    clock.advance(days=3)
    finish(db, cast, clock, late)  # after its 3-day window; 4 days 17.5 hours
    figures = firearms.dashboard(db, cast.actor("lead_a"), clock.now())
    assert figures.denials == 3
    # ``waiting`` is overdue with no outcome: it counts against the share.
    assert figures.share_within_window == pytest.approx(1 / 3)
    assert figures.median_to_decision == timedelta(days=3, hours=5, minutes=30)
    assert waiting.status == "open"


def test_denials_still_in_their_window_do_not_count_yet(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    followed(db, cast, clock, "NTN-2001")
    figures = firearms.dashboard(db, cast.actor("lead_a"), clock.now())
    assert (figures.denials, figures.share_within_window, figures.median_to_decision) == (
        1,
        None,
        None,
    )


def test_erpos_by_stage_and_orders_expiring_within_30_days(
    db: Session, cast: Cast, clock: FrozenClock
) -> None:
    lead = cast.actor("lead_a")
    orders = []
    for days in (20, 45):
        robin = person(db, clock, f"Subject {days}")
        case = case_about(db, cast, clock, robin)
        order = firearms.create_order(
            db, lead, case_id=case.id, person_id=robin.id, at=clock.now(), now=clock.now()
        )
        firearms.advance(
            db, lead, order, stage="final_order", at=clock.now(), now=clock.now(),
            expires_at=clock.now() + days * DAY,
        )  # fmt: skip
        orders.append(order)
    drafted = person(db, clock, "Drafted")
    firearms.create_order(
        db, lead, case_id=case_about(db, cast, clock, drafted).id, person_id=drafted.id,
        at=clock.now(), now=clock.now(),
    )  # fmt: skip
    figures = firearms.dashboard(db, lead, clock.now())
    assert figures.erpos_by_stage[ErpoStage.FINAL_ORDER] == 2
    assert figures.erpos_by_stage[ErpoStage.PETITION_DRAFTED] == 1
    assert figures.expiring == [orders[0]]
    outsider = firearms.dashboard(db, cast.actor("user_c"), clock.now())
    assert sum(outsider.erpos_by_stage.values()) == 0 and outsider.expiring == []
    assert outsider.denials == 0
