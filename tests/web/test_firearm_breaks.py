"""A late firearm step is a break like any other: a follow-up step past its window and an
ERPO hearing past the deadline the state's law sets show on ``/chain/breaks`` to whoever
may read their report or case (and no one else), and the sweep's messages name them and
point to their pages."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from defchain import cases, firearms
from defchain.chain.sweep import sweep
from defchain.firearms.service import followup_of_report
from defchain.notify import Notification
from tests.firearms.helpers import denial, link_and_follow, person


@pytest.fixture(autouse=True)
def cleared(db: Session, cast: Any) -> None:
    cast.lead_a.clearances = ["cji"]
    db.flush()


def breaks_table(html: str) -> str:
    return html.split('id="chain-breaks"', 1)[1].split("</table>", 1)[0]


def test_a_late_follow_up_step_is_a_break_its_report_readers_see(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    report = denial(db, cast, clock)
    link_and_follow(db, clock, report, person(db, clock))
    followup = followup_of_report(db, report.id)
    assert followup is not None
    clock.advance(days=4)  # past the 3-day window
    page = browser_for(cast.lead_a.id).get("/chain/breaks")
    table = breaks_table(page.text)
    assert f'href="/firearms/followups/{followup.id}"' in table
    assert "Deconflicted with the agencies notified" in table
    # member_b may not read the denial (agency B, no cji clearance): not shown.
    other = breaks_table(browser_for(cast.member_b.id).get("/chain/breaks").text)
    assert f"/firearms/followups/{followup.id}" not in other
    sweep(db, now=clock.now())
    sent = db.scalars(
        select(Notification).where(Notification.link == f"/firearms/followups/{followup.id}")
    ).all()
    assert sent and all(f"firearm follow-up #{followup.id}" in n.subject for n in sent)


def test_a_hearing_past_the_states_deadline_is_a_break_on_the_case(
    browser_for: Any, cast: Any, db: Session, clock: Any
) -> None:
    lead = cast.actor("lead_a")
    subject = person(db, clock)
    case = cases.open_case(
        db, lead, title="Threats at the game", team_id=cast.team.id, person_ids=[subject.id],
        now=clock.now(),
    )  # fmt: skip
    order = firearms.create_order(
        db, lead, case_id=case.id, person_id=subject.id, at=clock.now(), now=clock.now(),
        state="CA",
    )  # fmt: skip
    firearms.advance(db, lead, order, stage="ex_parte", at=clock.now(), now=clock.now())
    clock.advance(days=20)
    assert "ERPO #" not in breaks_table(browser_for(cast.lead_a.id).get("/chain/breaks").text)
    clock.advance(days=2)  # California: the hearing within 21 days of the ex parte order
    table = breaks_table(browser_for(cast.lead_a.id).get("/chain/breaks").text)
    assert f'href="/cases/{case.id}#erpo"' in table and "ERPO hearing" in table
    assert "ERPO #" not in breaks_table(browser_for(cast.user_c.id).get("/chain/breaks").text)
    sweep(db, now=clock.now())
    sent = db.scalars(select(Notification).where(Notification.link == f"/cases/{case.id}#erpo"))
    subjects = [n.subject for n in sent]
    assert subjects and all(f"ERPO #{order.id} on case #{case.id}" in s for s in subjects)
    assert any(n.user_id == cast.lead_a.id for n in db.scalars(
        select(Notification).where(Notification.link == f"/cases/{case.id}#erpo")
    ))  # fmt: skip
